import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CacheCorruptError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { MemoryBackend } from "../../../../packages/core/src/store/backend/MemoryBackend.js";
import { computeCacheKey } from "../../../../packages/core/src/store/cacheKey.js";
import { decodeKvCache } from "../../../../packages/core/src/store/codec/decodeKvCache.js";
import { encodeKvCache } from "../../../../packages/core/src/store/codec/encodeKvCache.js";
import { CHECKSUM_BYTES, type KvCacheDtype, Offsets } from "../../../../packages/core/src/store/codec/kvFormat.js";
import { KeyvKvCacheStore } from "../../../../packages/core/src/store/KeyvKvCacheStore.js";
import { cacheDigest, makeFingerprint, makeTestCache } from "./testCaches.js";

const DTYPES: KvCacheDtype[] = ["fp32", "fp16", "int8"];
const fingerprint = makeFingerprint("fuzz-model");
const namespace = "fuzz";
const geometry = { numLayers: 2, numKvHeads: 2, headDim: 4 };

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor(((s >>> 8) / 2 ** 24) * n);
  };
}

/** Rewrites the checksum so only the semantic checks stand between an edited header and acceptance. */
function reseal(buf: Buffer): Buffer {
  const end = buf.length - CHECKSUM_BYTES;
  createHash("sha256").update(buf.subarray(0, end)).digest().copy(buf, end);
  return buf;
}

type Mutation = { kind: string; bytes: Buffer };

/** One corrupted copy of `buf`; every kind changes the bytes (no no-op cases). */
function mutate(buf: Buffer, rand: (n: number) => number, numTokens: number): Mutation {
  const kind = ["flip", "overwrite", "truncate", "extend", "header-edit", "resealed-header-edit"][rand(6)]!;
  const out = Buffer.from(buf);
  switch (kind) {
    case "flip": {
      const i = rand(out.length);
      out[i]! ^= 1 << rand(8);
      return { kind, bytes: out };
    }
    case "overwrite": {
      const start = rand(out.length);
      const len = 1 + rand(16);
      for (let i = start; i < Math.min(out.length, start + len); i++) out[i] = rand(256);
      if (out.equals(buf)) out[start]! ^= 0xff;
      return { kind, bytes: out };
    }
    case "truncate":
      return { kind, bytes: out.subarray(0, rand(out.length)) };
    case "extend": {
      const extra = Buffer.alloc(1 + rand(64));
      for (let i = 0; i < extra.length; i++) extra[i] = rand(256);
      return { kind, bytes: Buffer.concat([out, extra]) };
    }
    default: {
      const fields: [number, number][] = [
        [Offsets.version, 2], [Offsets.dtype, 1], [Offsets.flags, 1], [Offsets.headerBytes, 4], [Offsets.numLayers, 4],
        [Offsets.numKvHeads, 4], [Offsets.numTokens, 4], [Offsets.headDim, 4], [Offsets.fingerprint + rand(32), 1],
        [Offsets.cacheKey + rand(32), 1], [Offsets.payloadBytes, 8], [Offsets.namespaceLength, 1],
        [Offsets.namespace + rand(namespace.length), 1], [Offsets.reserved, 3], [Offsets.tokenIds + 4 * rand(numTokens), 4],
      ];
      const [offset, size] = fields[rand(fields.length)]!;
      const before = Buffer.from(out.subarray(offset, offset + size));
      // Small arithmetic edits stay plausible (version 2, 3 heads, one more token), which tests the semantics.
      const delta = 1 + rand(3);
      if (size === 4) out.writeUInt32LE((out.readUInt32LE(offset) + delta) >>> 0, offset);
      else if (size === 2) out.writeUInt16LE((out.readUInt16LE(offset) + delta) & 0xffff, offset);
      else if (size === 8) out.writeBigUInt64LE(out.readBigUInt64LE(offset) + BigInt(delta), offset);
      else for (let i = 0; i < size; i++) out[offset + i] = (out[offset + i]! + delta) & 0xff;
      assert.ok(!before.equals(out.subarray(offset, offset + size)));
      return { kind, bytes: kind === "resealed-header-edit" ? reseal(out) : out };
    }
  }
}

describe("store/codec fuzz: flipped, truncated, extended and edited entries", () => {
  it("rejects every one of 1500 corrupted entries with CacheCorruptError (500 per dtype)", () => {
    const rand = rng(20250611);
    const kindCounts = new Map<string, number>();
    const checkCounts = new Map<string, number>();
    let cases = 0;
    for (const dtype of DTYPES) {
      for (let c = 0; c < 500; c++) {
        const numTokens = 1 + rand(6);
        const tokenIds = Array.from({ length: numTokens }, () => rand(50000));
        const cache = makeTestCache({ fingerprint, tokenIds, ...geometry, seed: c });
        const buf = encodeKvCache(cache, { dtype, namespace });
        const expectedKey = computeCacheKey({ fingerprint, tokenIds, dtype, namespace });
        const { kind, bytes } = mutate(buf, rand, numTokens);
        kindCounts.set(kind, (kindCounts.get(kind) ?? 0) + 1);
        let accepted = false;
        try {
          decodeKvCache(bytes, { expectedFingerprint: fingerprint, expectedKey, expectedGeometry: geometry });
          accepted = true;
        } catch (error) {
          assert.ok(error instanceof CacheCorruptError, `${dtype} ${kind}: threw ${String(error)}`);
          const check = String(error.details.check);
          checkCounts.set(check, (checkCounts.get(check) ?? 0) + 1);
        }
        assert.equal(accepted, false, `${dtype} case ${c}: a ${kind} entry was accepted`);
        cases++;
      }
    }
    assert.equal(cases, 1500);
    for (const kind of ["flip", "overwrite", "truncate", "extend", "header-edit", "resealed-header-edit"]) {
      assert.ok((kindCounts.get(kind) ?? 0) > 100, `kind ${kind} ran ${kindCounts.get(kind)} times`);
    }
    // Resealed edits must be caught by meaning, not only by the checksum.
    assert.ok((checkCounts.get("key-derivation") ?? 0) + (checkCounts.get("key") ?? 0) > 0);
    assert.ok((checkCounts.get("checksum") ?? 0) > 0);
  });

  it("after corruption the store returns a miss, removes the entry, and recomputes the same values (60 cases)", async () => {
    const rand = rng(7);
    const url = "memory://fuzz-recovery";
    for (const dtype of DTYPES) {
      await using store = await KeyvKvCacheStore.create({ url, namespace, fingerprint, dtype, lruBytes: 0, geometry });
      const backend = new MemoryBackend(url, namespace);
      try {
        for (let c = 0; c < 20; c++) {
          const tokenIds = Array.from({ length: 1 + rand(6) }, () => rand(50000));
          const compute = async () => makeTestCache({ fingerprint, tokenIds, ...geometry, seed: 1000 + c });
          const first = await store.getOrCompute(tokenIds, compute);
          assert.equal(first.source, "computed");
          const key = store.keyFor(tokenIds);
          const stored = await backend.getBlob(key);
          assert.ok(stored !== undefined);
          const corruptBefore = store.stats().corrupt;
          await backend.setBlob(key, mutate(stored, rand, tokenIds.length).bytes);
          assert.equal(await store.get(tokenIds), undefined, `${dtype} case ${c}: corrupt entry returned`);
          assert.equal(store.stats().corrupt, corruptBefore + 1);
          assert.equal(await backend.getBlob(key), undefined, "corrupt entry was not removed");
          let computeCalls = 0;
          const again = await store.getOrCompute(tokenIds, async () => {
            computeCalls++;
            return compute();
          });
          assert.equal(again.source, "computed");
          assert.equal(computeCalls, 1);
          assert.equal(cacheDigest(again.cache), cacheDigest(first.cache), `${dtype} case ${c}: answers changed`);
        }
      } finally {
        await backend.close();
      }
    }
  });
});
