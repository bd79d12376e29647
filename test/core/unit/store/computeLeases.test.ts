import assert from "node:assert/strict";
import { MemoryBackend } from "../../../../packages/core/src/store/backend/MemoryBackend.js";
import { KeyvKvCacheStore } from "../../../../packages/core/src/store/KeyvKvCacheStore.js";
import { cacheDigest, makeFingerprint, makeTestCache } from "./testCaches.js";

const fingerprint = makeFingerprint("lease-model");
let urlCounter = 0;
const freshUrl = (): string => `memory://lease-test-${process.pid}-${urlCounter++}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("store/KeyvKvCacheStore compute leases (cross-store single flight, memory://)", () => {
  const ids = [11, 12, 13];

  it("two stores on one URL: one computes, the other waits for its entry instead of computing", async () => {
    const url = freshUrl();
    await using a = await KeyvKvCacheStore.create({ url, namespace: "t", fingerprint, lruBytes: 0, leasePollMs: 5 });
    await using b = await KeyvKvCacheStore.create({ url, namespace: "t", fingerprint, lruBytes: 0, leasePollMs: 5 });
    let calls = 0;
    const slow = async () => {
      calls++;
      await sleep(60);
      return makeTestCache({ fingerprint, tokenIds: ids });
    };
    const [ra, rb] = await Promise.all([a.getOrCompute(ids, slow), b.getOrCompute(ids, slow)]);
    assert.equal(calls, 1);
    assert.deepEqual([ra.source, rb.source].sort(), ["computed", "store"]);
    assert.equal(cacheDigest(ra.cache), cacheDigest(rb.cache));
    assert.equal(a.stats().leaseWaits + b.stats().leaseWaits, 1);
  });

  it("a holder that never releases (a dead process) is taken over once its lease expires", async () => {
    const url = freshUrl();
    await using store = await KeyvKvCacheStore.create({ url, namespace: "t", fingerprint, lruBytes: 0, leasePollMs: 5 });
    const dead = new MemoryBackend(url, "t");
    try {
      const token = await dead.leases.acquire(store.keyFor(ids), 150);
      assert.ok(token !== undefined);
      assert.equal(await dead.leases.acquire(store.keyFor(ids), 150), undefined, "a live lease is exclusive");
      let calls = 0;
      const lookup = await store.getOrCompute(ids, async () => {
        calls++;
        return makeTestCache({ fingerprint, tokenIds: ids });
      });
      assert.equal(lookup.source, "computed");
      assert.equal(calls, 1);
      assert.equal(store.stats().leaseWaits, 1);
      assert.equal(await dead.leases.renew(store.keyFor(ids), token, 150), false, "the expired token must not renew");
      assert.equal(await dead.leases.isHeld(store.keyFor(ids)), false, "the taker released its lease");
    } finally {
      await dead.close();
    }
  });

  it("a holder whose compute fails releases its lease: the waiter computes at once", async () => {
    const url = freshUrl();
    await using a = await KeyvKvCacheStore.create({ url, namespace: "t", fingerprint, lruBytes: 0, leasePollMs: 5, leaseTtlMs: 60_000 });
    await using b = await KeyvKvCacheStore.create({ url, namespace: "t", fingerprint, lruBytes: 0, leasePollMs: 5, leaseTtlMs: 60_000 });
    const failing = a.getOrCompute(ids, async () => {
      await sleep(40);
      throw new Error("compute failed");
    });
    await sleep(5);
    const waiting = b.getOrCompute(ids, async () => makeTestCache({ fingerprint, tokenIds: ids }));
    await assert.rejects(failing, /compute failed/);
    assert.equal((await waiting).source, "computed");
  });

  it("a long compute renews its lease, so nobody takes over while it runs", async () => {
    const url = freshUrl();
    const opts = { url, namespace: "t", fingerprint, lruBytes: 0, leasePollMs: 5, leaseTtlMs: 300 };
    await using a = await KeyvKvCacheStore.create(opts);
    await using b = await KeyvKvCacheStore.create(opts);
    let calls = 0;
    const slow = async () => {
      calls++;
      await sleep(1500); // 5 TTLs
      return makeTestCache({ fingerprint, tokenIds: ids });
    };
    const first = a.getOrCompute(ids, slow);
    await sleep(5);
    const second = await b.getOrCompute(ids, slow);
    await first;
    assert.equal(calls, 1);
    assert.equal(second.source, "store");
  });
});
