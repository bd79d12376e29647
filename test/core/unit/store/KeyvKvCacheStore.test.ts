import assert from "node:assert/strict";
import { ConfigError, DisposedError, InvalidInputError, KvLayoutError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { MemoryBackend } from "../../../../packages/core/src/store/backend/MemoryBackend.js";
import { KeyvKvCacheStore } from "../../../../packages/core/src/store/KeyvKvCacheStore.js";
import { entrySizeBytes } from "../../../../packages/core/src/store/codec/kvFormat.js";
import { recordingLogger } from "./recordingLogger.js";
import { cacheDigest, makeFingerprint, makeTestCache } from "./testCaches.js";

const fingerprint = makeFingerprint("store-model");
let urlCounter = 0;
const freshUrl = (): string => `memory://store-test-${process.pid}-${urlCounter++}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("store/KeyvKvCacheStore (memory://)", () => {
  const ids = [5, 6, 7, 8];
  const compute = (tokenIds: readonly number[] = ids, fp = fingerprint) => async () => makeTestCache({ fingerprint: fp, tokenIds });

  it("computes once, then serves from the LRU, then from the store, with identical values", async () => {
    const url = freshUrl();
    await using a = await KeyvKvCacheStore.create({ url, namespace: "t1", fingerprint });
    const first = await a.getOrCompute(ids, compute());
    const second = await a.getOrCompute(ids, compute());
    assert.equal(first.source, "computed");
    assert.equal(second.source, "lru");
    await using b = await KeyvKvCacheStore.create({ url, namespace: "t1", fingerprint });
    const third = await b.getOrCompute(ids, async () => assert.fail("must not compute"));
    assert.equal(third.source, "store");
    assert.equal(cacheDigest(third.cache), cacheDigest(first.cache), "computed and stored fp16 values differ");
    assert.deepEqual(a.stats().hits, { lru: 1, store: 0 });
    assert.equal(a.stats().computed, 1);
    assert.equal(b.stats().hits.store, 1);
  });

  it("single flight: 10 concurrent getOrCompute calls run compute once", async () => {
    await using store = await KeyvKvCacheStore.create({ url: freshUrl(), namespace: "t1", fingerprint });
    let calls = 0;
    const slow = async () => {
      calls++;
      await sleep(20);
      return makeTestCache({ fingerprint, tokenIds: ids });
    };
    const results = await Promise.all(Array.from({ length: 10 }, () => store.getOrCompute(ids, slow)));
    assert.equal(calls, 1);
    assert.equal(store.stats().computed, 1);
    for (const r of results) assert.equal(r.cache, results[0]!.cache);
  });

  it("single flight passes a compute error to every waiter, and the next call retries", async () => {
    await using store = await KeyvKvCacheStore.create({ url: freshUrl(), namespace: "t1", fingerprint });
    let calls = 0;
    const failing = async () => {
      calls++;
      await sleep(5);
      throw new RangeError("model exploded");
    };
    const settled = await Promise.allSettled(Array.from({ length: 5 }, () => store.getOrCompute(ids, failing)));
    assert.equal(calls, 1);
    for (const s of settled) assert.ok(s.status === "rejected" && s.reason instanceof RangeError);
    assert.equal((await store.getOrCompute(ids, compute())).source, "computed");
  });

  it("rejects computed caches of another model, other tokens or inconsistent layout", async () => {
    await using store = await KeyvKvCacheStore.create({ url: freshUrl(), namespace: "t1", fingerprint });
    await assert.rejects(store.getOrCompute(ids, compute(ids, makeFingerprint("other"))), InvalidInputError);
    await assert.rejects(store.getOrCompute(ids, compute([5, 6, 7, 9])), InvalidInputError);
    const broken = makeTestCache({ fingerprint, tokenIds: ids });
    await assert.rejects(store.getOrCompute(ids, async () => ({ ...broken, values: broken.values.slice(1) })), KvLayoutError);
    await assert.rejects(store.set(makeTestCache({ fingerprint: makeFingerprint("other"), tokenIds: ids })), InvalidInputError);
  });

  it("namespaces: one tenant never reads, lists, verifies or clears another's entries", async () => {
    const url = freshUrl();
    await using a = await KeyvKvCacheStore.create({ url, namespace: "tenant-a", fingerprint });
    await using b = await KeyvKvCacheStore.create({ url, namespace: "tenant-b", fingerprint });
    await using a10 = await KeyvKvCacheStore.create({ url, namespace: "tenant-a0", fingerprint });
    await a.set(makeTestCache({ fingerprint, tokenIds: ids }));
    await a10.set(makeTestCache({ fingerprint, tokenIds: [1, 2] }));
    assert.equal(await b.get(ids), undefined);
    assert.deepEqual(await b.list(), []);
    assert.deepEqual(await b.verify(), []);
    assert.equal(await b.clear(), 0);
    assert.equal((await a.list()).length, 1, "tenant-a must not see tenant-a0 (prefix of its name)");
    assert.equal((await a.list())[0]!.namespace, "tenant-a");
    assert.ok((await a.get(ids)) !== undefined);
    assert.equal(await a.clear(), 1);
    assert.equal((await a10.list()).length, 1);
  });

  it("expires entries after ttlMs, in the LRU and the store", async () => {
    const url = freshUrl();
    await using store = await KeyvKvCacheStore.create({ url, namespace: "t1", fingerprint, ttlMs: 60 });
    await store.set(makeTestCache({ fingerprint, tokenIds: ids }));
    assert.ok((await store.get(ids)) !== undefined);
    assert.equal((await store.list())[0]!.expiresAtMs! > Date.now() - 1000, true);
    await sleep(120);
    const report = await store.gc();
    assert.equal(report.expired, 1);
    assert.equal(report.remainingEntries, 0);
    assert.equal(await store.get(ids), undefined);
    assert.deepEqual(await store.list(), []);
  });

  it("evicts the oldest entries to stay within quotaBytes", async () => {
    const size = entrySizeBytes({ numLayers: 2, numKvHeads: 2, numTokens: 4, headDim: 4 }, "fp16");
    await using store = await KeyvKvCacheStore.create({ url: freshUrl(), namespace: "t1", fingerprint, quotaBytes: 3 * size, lruBytes: 0 });
    const docs = [[1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 6], [4, 5, 6, 7], [5, 6, 7, 8]];
    for (const doc of docs) {
      await store.set(makeTestCache({ fingerprint, tokenIds: doc }));
      await sleep(2); // distinct creation times: "oldest" must be well defined
    }
    const listed = await store.list();
    assert.equal(listed.length, 3);
    assert.ok(listed.reduce((s, m) => s + m.sizeBytes, 0) <= 3 * size);
    assert.equal(await store.get(docs[0]!), undefined);
    assert.equal(await store.get(docs[1]!), undefined);
    for (const doc of docs.slice(2)) assert.ok((await store.get(doc)) !== undefined);
    assert.equal(store.stats().evictions.store, 2);
  });

  it("bounds the LRU in bytes", async () => {
    const cacheBytes = 2 * 2 * 2 * 4 * 4 * 4 + 16; // fp32 K+V of 2 layers x 2 heads x 4 tokens x 4 dims, + ids
    await using store = await KeyvKvCacheStore.create({ url: freshUrl(), namespace: "t1", fingerprint, lruBytes: 2 * cacheBytes });
    for (const doc of [[1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 6]]) await store.set(makeTestCache({ fingerprint, tokenIds: doc }));
    assert.equal(store.stats().bytes.lru, 2 * cacheBytes);
    assert.equal(store.stats().evictions.lru, 1);
    assert.equal((await store.getOrCompute([1, 2, 3, 4], compute())).source, "store");
    assert.equal((await store.getOrCompute([3, 4, 5, 6], compute())).source, "lru");
  });

  it("verify reports ok, corrupt (with the check) and missing; gc removes orphans", async () => {
    const url = freshUrl();
    await using store = await KeyvKvCacheStore.create({ url, namespace: "t1", fingerprint, lruBytes: 0 });
    const backend = new MemoryBackend(url, "t1");
    try {
      for (const doc of [[1], [2], [3]]) await store.set(makeTestCache({ fingerprint, tokenIds: doc }));
      const bad = await backend.getBlob(store.keyFor([2]));
      await backend.setBlob(store.keyFor([2]), bad!.subarray(0, bad!.length - 1));
      await backend.deleteBlob(store.keyFor([3]));
      const report = new Map((await store.verify()).map((r) => [r.key, r]));
      assert.equal(report.get(store.keyFor([1]))?.status, "ok");
      const corrupt = report.get(store.keyFor([2]));
      assert.ok(corrupt?.status === "corrupt" && corrupt.check === "length");
      assert.equal(report.get(store.keyFor([3]))?.status, "missing");
      const gc = await store.gc();
      assert.equal(gc.orphans, 1);
      await store.verify({ remove: true });
      assert.deepEqual((await store.verify()).map((r) => r.status), ["ok"]);
    } finally {
      await backend.close();
    }
  });

  it("logs a warning for a corrupt entry and counts it", async () => {
    const url = freshUrl();
    const logger = recordingLogger();
    await using store = await KeyvKvCacheStore.create({ url, namespace: "t1", fingerprint, lruBytes: 0, logger });
    await store.set(makeTestCache({ fingerprint, tokenIds: ids }));
    const backend = new MemoryBackend(url, "t1");
    await backend.setBlob(store.keyFor(ids), Buffer.from("garbage"));
    await backend.close();
    assert.equal(await store.get(ids), undefined);
    assert.equal(store.stats().corrupt, 1);
    assert.equal(logger.warnings.length, 1);
  });

  it("delete removes one entry; dispose is idempotent and later calls throw DisposedError", async () => {
    const store = await KeyvKvCacheStore.create({ url: freshUrl(), namespace: "t1", fingerprint });
    await store.set(makeTestCache({ fingerprint, tokenIds: ids }));
    await store.delete(ids);
    assert.equal(await store.get(ids), undefined);
    await store.dispose();
    await store.dispose();
    await store[Symbol.asyncDispose]();
    assert.equal(store.disposed, true);
    await assert.rejects(store.get(ids), DisposedError);
  });

  it("checks its options", async () => {
    await assert.rejects(KeyvKvCacheStore.create({ url: "ftp://x", namespace: "t1", fingerprint }), ConfigError);
    await assert.rejects(KeyvKvCacheStore.create({ url: "memory://", namespace: "t:1", fingerprint }), InvalidInputError);
    await assert.rejects(KeyvKvCacheStore.create({ url: "memory://", namespace: "t1", fingerprint, ttlMs: -1 }), ConfigError);
    await assert.rejects(KeyvKvCacheStore.create({ url: "memory://", namespace: "t1", fingerprint, dtype: "q4" as never }), ConfigError);
  });
});
