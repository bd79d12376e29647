import assert from "node:assert/strict";
import { CacheCorruptError, InvalidInputError, KvLayoutError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { computeCacheKey } from "../../../../packages/core/src/store/cacheKey.js";
import { decodeKvCache } from "../../../../packages/core/src/store/codec/decodeKvCache.js";
import { encodeKvCache } from "../../../../packages/core/src/store/codec/encodeKvCache.js";
import { entrySizeBytes, type KvCacheDtype, Offsets } from "../../../../packages/core/src/store/codec/kvFormat.js";
import { makeFingerprint, makeTestCache } from "./testCaches.js";

const fingerprint = makeFingerprint("codec-model");
const namespace = "tenant-a";
const tokenIds = Array.from({ length: 17 }, (_, i) => 100 + i * 7);

function check(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CacheCorruptError, `expected CacheCorruptError, got ${String(error)}`);
    return String(error.details.check);
  }
  assert.fail("entry was accepted");
}

describe("store/codec", () => {
  const cache = makeTestCache({ fingerprint, tokenIds, numLayers: 3, numKvHeads: 2, headDim: 8 });

  it("round-trips fp32 exactly, with every header field", () => {
    const buf = encodeKvCache(cache, { dtype: "fp32", namespace });
    const key = computeCacheKey({ fingerprint, tokenIds, dtype: "fp32", namespace });
    const back = decodeKvCache(buf, { expectedFingerprint: fingerprint, expectedKey: key, expectedGeometry: { numLayers: 3, numKvHeads: 2, headDim: 8 } });
    assert.deepEqual(back.layout, cache.layout);
    assert.deepEqual([...back.tokenIds], tokenIds);
    assert.equal(back.fingerprint, fingerprint);
    for (let l = 0; l < 3; l++) {
      assert.deepEqual(back.keys[l], cache.keys[l]);
      assert.deepEqual(back.values[l], cache.values[l]);
    }
  });

  it("round-trips fp16 within 1e-3 relative error (2^-11 for normal values)", () => {
    const back = decodeKvCache(encodeKvCache(cache, { dtype: "fp16", namespace }), { expectedFingerprint: fingerprint });
    for (let l = 0; l < 3; l++) {
      for (const [a, b] of [[cache.keys[l]!, back.keys[l]!], [cache.values[l]!, back.values[l]!]] as const) {
        for (let i = 0; i < a.length; i++) {
          assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-3 * Math.abs(a[i]!) + 2 ** -25, `layer ${l} index ${i}: ${a[i]} vs ${b[i]}`);
        }
      }
    }
  });

  it("round-trips int8 within half a step of each (layer, head, channel) scale", () => {
    const { numKvHeads, numTokens, headDim } = cache.layout;
    const back = decodeKvCache(encodeKvCache(cache, { dtype: "int8", namespace }), { expectedFingerprint: fingerprint });
    let maxRel = 0;
    for (let l = 0; l < 3; l++) {
      for (const [a, b] of [[cache.keys[l]!, back.keys[l]!], [cache.values[l]!, back.values[l]!]] as const) {
        for (let h = 0; h < numKvHeads; h++) {
          for (let d = 0; d < headDim; d++) {
            let maxAbs = 0;
            for (let t = 0; t < numTokens; t++) maxAbs = Math.max(maxAbs, Math.abs(a[(h * numTokens + t) * headDim + d]!));
            const bound = (maxAbs / 127) * 0.5 * (1 + 1e-6) + 1e-12;
            for (let t = 0; t < numTokens; t++) {
              const i = (h * numTokens + t) * headDim + d;
              assert.ok(Math.abs(a[i]! - b[i]!) <= bound, `layer ${l} head ${h} channel ${d} token ${t}`);
              maxRel = Math.max(maxRel, Math.abs(a[i]! - b[i]!) / maxAbs);
            }
          }
        }
      }
    }
    assert.ok(maxRel > 0, "int8 is lossy: an exact result means the quantiser did nothing");
  });

  it("int8 keeps all-zero channels at zero and rejects non-finite values", () => {
    const zeros = makeTestCache({ fingerprint, tokenIds: [1, 2], numLayers: 1, numKvHeads: 1, headDim: 2 });
    zeros.keys[0]!.fill(0);
    const back = decodeKvCache(encodeKvCache(zeros, { dtype: "int8", namespace }), { expectedFingerprint: fingerprint });
    assert.deepEqual([...back.keys[0]!], [0, 0, 0, 0]);
    zeros.values[0]![1] = Number.NaN;
    assert.throws(() => encodeKvCache(zeros, { dtype: "int8", namespace }), InvalidInputError);
  });

  it("encodes to the size kvFormat computes, for every dtype", () => {
    for (const dtype of ["fp32", "fp16", "int8"] as KvCacheDtype[]) {
      assert.equal(encodeKvCache(cache, { dtype, namespace }).length, entrySizeBytes(cache.layout, dtype), dtype);
    }
  });

  it("rejects inconsistent caches at encode time", () => {
    const bad = { ...cache, keys: cache.keys.slice(1) };
    assert.throws(() => encodeKvCache(bad, { dtype: "fp16", namespace }), KvLayoutError);
    assert.throws(() => encodeKvCache(cache, { dtype: "fp16", namespace: "bad:ns" }), InvalidInputError);
  });

  it("names the failed check: wrong model, wrong key, wrong geometry, wrong version, truncation, extension", () => {
    const buf = encodeKvCache(cache, { dtype: "fp16", namespace });
    const opts = { expectedFingerprint: fingerprint };
    assert.equal(check(() => decodeKvCache(buf, { expectedFingerprint: makeFingerprint("other-model") })), "fingerprint");
    assert.equal(check(() => decodeKvCache(buf, { ...opts, expectedKey: computeCacheKey({ fingerprint, tokenIds, dtype: "fp16", namespace: "tenant-b" }) })), "key");
    assert.equal(check(() => decodeKvCache(buf, { ...opts, expectedGeometry: { numLayers: 3, numKvHeads: 1, headDim: 16 } })), "geometry");
    const versioned = Buffer.from(buf);
    versioned.writeUInt16LE(2, Offsets.version);
    assert.equal(check(() => decodeKvCache(versioned, opts)), "version");
    assert.equal(check(() => decodeKvCache(buf.subarray(0, buf.length - 1), opts)), "length");
    assert.equal(check(() => decodeKvCache(Buffer.concat([buf, Buffer.from([0])]), opts)), "length");
    assert.equal(check(() => decodeKvCache(buf.subarray(0, 10), opts)), "truncated");
    const flipped = Buffer.from(buf);
    flipped[buf.length - 100]! ^= 0x10;
    assert.equal(check(() => decodeKvCache(flipped, opts)), "checksum");
    assert.equal(check(() => decodeKvCache(Buffer.from("not a cache entry at all, but long enough to pass the first length check ".repeat(4)), opts)), "magic");
  });

  it("reads entries at any byte offset (as sqlite and redis hand them back)", () => {
    const buf = encodeKvCache(cache, { dtype: "fp16", namespace });
    const shifted = Buffer.alloc(buf.length + 1);
    buf.copy(shifted, 1);
    const back = decodeKvCache(shifted.subarray(1), { expectedFingerprint: fingerprint });
    const direct = decodeKvCache(buf, { expectedFingerprint: fingerprint });
    assert.deepEqual(back.keys, direct.keys);
  });
});
