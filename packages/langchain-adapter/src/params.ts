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

/** The engine request fields for one call: call options win over instance settings; stop lists are joined. */
export function resolveGenerationParams(
  instance: KVLinkGenerationParams & { readonly stop?: readonly string[] | undefined },
  call: Partial<KVLinkGenerationParams> & { readonly stop?: readonly string[] | undefined },
): Partial<KvLinkGenerateRequest> {
  const out: Record<string, unknown> = {};
  for (const key of PARAM_KEYS) {
    const value = call[key] ?? instance[key];
    if (value !== undefined) out[key] = value;
  }
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
