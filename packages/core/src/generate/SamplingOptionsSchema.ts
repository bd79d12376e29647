import { z } from "zod";
import { ConfigError } from "../errors/KvLinkError.js";

/**
 * Per-call generation options. Defaults: 256 new tokens, sampling at temperature 1 with top-k and top-p off,
 * no repetition penalty, a random seed, no stop strings. `greedy: true` or `temperature: 0` picks the argmax.
 */
export const SamplingOptionsSchema = z.strictObject({
  /** Most tokens to generate (the EOS token counts). */
  maxTokens: z.number().int().positive().default(256),
  greedy: z.boolean().default(false),
  temperature: z.number().min(0).max(100).default(1),
  /** Keep the k most likely tokens (ties at the k-th kept, as HF); 0 = off. */
  topK: z.number().int().nonnegative().default(0),
  /** Keep the smallest most-likely set whose mass reaches topP (HF semantics); 1 = off. */
  topP: z.number().gt(0).max(1).default(1),
  /** Makes sampling deterministic; absent = a random seed. */
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  /** HF semantics: for previously seen ids, positive logits are divided by it, negative ones multiplied. */
  repetitionPenalty: z.number().positive().default(1),
  /** Generation stops before any of these strings; they never appear in the output. */
  stop: z.array(z.string().min(1)).max(16).default([]),
});
export type SamplingOptionsInput = z.input<typeof SamplingOptionsSchema>;
export type SamplingOptions = z.output<typeof SamplingOptionsSchema>;

/** Parses sampling options; ConfigError with zod's readable message when invalid. */
export function parseSamplingOptions(input: SamplingOptionsInput = {}): SamplingOptions {
  const parsed = SamplingOptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(`invalid sampling options:\n${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  }
  return parsed.data;
}
