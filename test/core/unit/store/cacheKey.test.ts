import assert from "node:assert/strict";
import { InvalidInputError } from "../../../../packages/core/src/errors/KvLinkError.js";
import type { ModelSpec } from "../../../../packages/core/src/model/ModelSpec.js";
import { computeModelFingerprint } from "../../../../packages/core/src/model/modelFingerprint.js";
import { computeCacheKey, isCacheKeyString } from "../../../../packages/core/src/store/cacheKey.js";
import { makeFingerprint } from "./testCaches.js";

const spec: ModelSpec = {
  architecture: "llama", vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9,
  numKvHeads: 3, headDim: 64, rmsNormEps: 1e-5, maxPositionEmbeddings: 8192, rope: { theta: 100000, rotaryDim: 64 },
  tieWordEmbeddings: true, attentionBias: false,
};
const fp = (over: Partial<{ weightsSha256: string; tokenizerSha256: string; spec: ModelSpec }> = {}) =>
  computeModelFingerprint({ weightsSha256: "a".repeat(64), tokenizerSha256: "b".repeat(64), spec, ...over });

describe("store/cacheKey", () => {
  const base = { fingerprint: makeFingerprint("model-a"), tokenIds: [1, 2, 3, 50000], dtype: "fp16" as const, namespace: "tenant-a" };

  it("is a pinned, process-independent sha256 of its inputs", () => {
    // Pinned: a change here invalidates every stored cache, so it must come with a FORMAT_VERSION bump.
    assert.equal(computeCacheKey(base), "e4f06af6e4a4ce2de6a83cb6c246aa5ff354f0864357cd8c21944b3fa409e419");
    assert.ok(isCacheKeyString(computeCacheKey(base)));
  });

  it("gives the same key for the same document whether ids come as an array or an Int32Array", () => {
    assert.equal(computeCacheKey({ ...base, tokenIds: Int32Array.from(base.tokenIds) }), computeCacheKey(base));
  });

  it("separates models (weights, tokenizer, RoPE), dtypes, namespaces and token sequences", () => {
    const keys = new Set([
      computeCacheKey({ ...base, fingerprint: fp() }),
      computeCacheKey({ ...base, fingerprint: fp({ weightsSha256: "c".repeat(64) }) }),
      computeCacheKey({ ...base, fingerprint: fp({ tokenizerSha256: "d".repeat(64) }) }),
      computeCacheKey({ ...base, fingerprint: fp({ spec: { ...spec, rope: { ...spec.rope, theta: 10000 } } }) }),
      computeCacheKey({ ...base, fingerprint: fp({ spec: { ...spec, rope: { ...spec.rope, scaling: { type: "linear", factor: 2 } } } }) }),
      computeCacheKey(base),
      computeCacheKey({ ...base, dtype: "fp32" }),
      computeCacheKey({ ...base, dtype: "int8" }),
      computeCacheKey({ ...base, namespace: "tenant-b" }),
      computeCacheKey({ ...base, tokenIds: [1, 2, 3] }),
      computeCacheKey({ ...base, tokenIds: [2, 1, 3, 50000] }),
      computeCacheKey({ ...base, tokenIds: [1, 2, 3, 50000, 0] }),
    ]);
    assert.equal(keys.size, 12);
  });

  it("rejects malformed fingerprints, namespaces, dtypes and token ids", () => {
    assert.throws(() => computeCacheKey({ ...base, fingerprint: "abc" as never }), InvalidInputError);
    for (const namespace of ["", "a:b", "a_b", "a%", "a*", "-a", "x".repeat(65)]) {
      assert.throws(() => computeCacheKey({ ...base, namespace }), InvalidInputError, namespace);
    }
    assert.throws(() => computeCacheKey({ ...base, dtype: "bf16" as never }), InvalidInputError);
    assert.throws(() => computeCacheKey({ ...base, tokenIds: [1, -1] }), InvalidInputError);
    assert.throws(() => computeCacheKey({ ...base, tokenIds: [1.5] }), InvalidInputError);
    assert.throws(() => computeCacheKey({ ...base, tokenIds: Int32Array.from([3, -7]) }), InvalidInputError);
  });
});
