import { createHash } from "node:crypto";
import type { ModelFingerprint } from "../kv/DocumentKvCache.js";
import type { ModelSpec } from "./ModelSpec.js";

/** Everything that changes the bytes of a document's KV cache. One list, so nothing is forgotten. */
export interface FingerprintInputs {
  /** sha256 (hex) of the weights file(s), e.g. onnx/model.onnx (+ external data). */
  readonly weightsSha256: string;
  /** sha256 (hex) of tokenizer.json (the same text must give the same token ids). */
  readonly tokenizerSha256: string;
  readonly spec: ModelSpec;
}

/** A stable hex sha256 over the weights, tokenizer and architecture (RoPE parameters included). */
export function computeModelFingerprint(inputs: FingerprintInputs): ModelFingerprint {
  const h = createHash("sha256");
  h.update("kvlink-fingerprint-v1\n");
  h.update(`weights:${inputs.weightsSha256}\n`);
  h.update(`tokenizer:${inputs.tokenizerSha256}\n`);
  h.update(`spec:${stableJson(inputs.spec)}\n`);
  return h.digest("hex") as ModelFingerprint;
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
}
