import { mulberry32 } from "../../../support/mulberry32.js";
import { createHash } from "node:crypto";
import type { DocumentKvCache, ModelFingerprint } from "../../../../packages/core/src/kv/DocumentKvCache.js";

/** A fingerprint-shaped sha256 of `label` (tests need distinct models, not real weights). */
export function makeFingerprint(label: string): ModelFingerprint {
  return createHash("sha256").update(label).digest("hex") as ModelFingerprint;
}


export interface TestCacheOptions {
  readonly fingerprint: ModelFingerprint;
  readonly tokenIds: readonly number[];
  readonly numLayers?: number;
  readonly numKvHeads?: number;
  readonly headDim?: number;
  readonly seed?: number;
}

/**
 * A deterministic synthetic cache: roughly normal values with a few large-magnitude channels (as RoPE'd keys
 * have), so fp16 and int8 see realistic ranges. Same options, same values, in any process.
 */
export function makeTestCache(options: TestCacheOptions): DocumentKvCache {
  const numLayers = options.numLayers ?? 2;
  const numKvHeads = options.numKvHeads ?? 2;
  const headDim = options.headDim ?? 4;
  const numTokens = options.tokenIds.length;
  const rand = mulberry32(options.seed ?? options.tokenIds.reduce((h, id) => (Math.imul(h, 31) + id) | 0, 17));
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const block = (): Float32Array => {
    const out = new Float32Array(numKvHeads * numTokens * headDim);
    for (let i = 0; i < out.length; i++) {
      const channel = i % headDim;
      out[i] = gauss() * (channel % 7 === 3 ? 8 : 1);
    }
    return out;
  };
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  for (let l = 0; l < numLayers; l++) {
    keys.push(block());
    values.push(block());
  }
  return {
    fingerprint: options.fingerprint,
    tokenIds: Int32Array.from(options.tokenIds),
    layout: { numLayers, numKvHeads, numTokens, headDim },
    keys,
    values,
  };
}

/** sha256 over token ids and every K/V value, to compare caches across processes. */
export function cacheDigest(cache: DocumentKvCache): string {
  const h = createHash("sha256");
  h.update(Buffer.from(cache.tokenIds.buffer, cache.tokenIds.byteOffset, cache.tokenIds.byteLength));
  for (let l = 0; l < cache.layout.numLayers; l++) {
    for (const b of [cache.keys[l]!, cache.values[l]!]) h.update(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  return h.digest("hex");
}
