import type { KvLinkGenerateRequest, KvLinkMode, KvLinkSamplingOptions } from "./engine.js";

/** Generation settings shared by KVLinkLLM and ChatKVLink: set on the instance, overridden per call. */
export interface KVLinkGenerationParams extends KvLinkSamplingOptions {
  /** How documents are linked: "kvlink" (default), "rerotate", "naive" or "full" (no reuse; the baseline). */
  readonly mode?: KvLinkMode;
  /** Recompute the first n tokens of each document fresh (EPIC-style quality knob). */
  readonly recomputePrefixTokens?: number;
}

const PARAM_KEYS = [
  "maxTokens",
  "greedy",
  "temperature",
  "topK",
  "topP",
  "seed",
  "repetitionPenalty",
  "mode",
  "recomputePrefixTokens",
] as const satisfies readonly (keyof KVLinkGenerationParams)[];

/** Options that ask for sampling; without any of them a call decodes greedily. */
const SAMPLING_KEYS = ["greedy", "temperature", "topK", "topP", "seed"] as const;

/**
 * The engine request fields for one call: call options win over instance settings; stop lists are joined. A call
 * with no sampling option (greedy, temperature, topK, topP, seed) on the instance or the call is greedy, as
 * `kvlink ask` is and as transformers' `generate()` is for this project's models (their generation_config.json sets
 * no sampling); the engine's own default, sampling at temperature 1, applies only when asked for.
 */
export function resolveGenerationParams(
  instance: KVLinkGenerationParams & { readonly stop?: readonly string[] | undefined },
  call: Partial<KVLinkGenerationParams> & { readonly stop?: readonly string[] | undefined },
): Partial<KvLinkGenerateRequest> {
  const out: Record<string, unknown> = {};
  for (const key of PARAM_KEYS) {
    const value = call[key] ?? instance[key];
    if (value !== undefined) out[key] = value;
  }
  if (SAMPLING_KEYS.every((key) => out[key] === undefined)) out["greedy"] = true;
  const stop = [...new Set([...(instance.stop ?? []), ...(call.stop ?? [])])];
  if (stop.length > 0) out["stop"] = stop;
  return out as Partial<KvLinkGenerateRequest>;
}

/** Copies the generation settings out of constructor fields (so the instance never keeps the caller's object). */
export function pickGenerationParams(fields: KVLinkGenerationParams): KVLinkGenerationParams {
  const out: Record<string, unknown> = {};
  for (const key of PARAM_KEYS) if (fields[key] !== undefined) out[key] = fields[key];
  return out as KVLinkGenerationParams;
}
