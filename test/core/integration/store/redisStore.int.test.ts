import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { KeyvKvCacheStore } from "../../../../packages/core/src/store/KeyvKvCacheStore.js";
import { RedisTestServer, skipWithoutRedis } from "../../../support/redisServer.js";
import { recordingLogger } from "../../unit/store/recordingLogger.js";
import { cacheDigest, makeFingerprint, makeTestCache } from "../../unit/store/testCaches.js";

const execFileAsync = promisify(execFile);
const CHILD = new URL("../../../support/redisStoreChild.ts", import.meta.url).pathname;
const ROOT = new URL("../../../../", import.meta.url).pathname;
const fingerprint = makeFingerprint("redis-model");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ChildResult {
  results: { source: string; digest: string }[];
  computeCalls: number;
}

async function runChild(args: Record<string, unknown>): Promise<ChildResult> {
  const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", CHILD, JSON.stringify(args)], { cwd: ROOT, timeout: 60_000 });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as ChildResult;
}

describe("store/KeyvKvCacheStore on redis://", function () {
  this.timeout(120_000);
  let server: RedisTestServer;

  before(async function () {
    await skipWithoutRedis(this, "the redis store tests");
    server = await RedisTestServer.start();
  });
  after(async () => {
    await server?.dispose();
  });

  it("stores, lists and isolates namespaces through redis", async () => {
    await using a = await KeyvKvCacheStore.create({ url: server.url, namespace: "tenant-a", fingerprint, lruBytes: 0 });
    await using b = await KeyvKvCacheStore.create({ url: server.url, namespace: "tenant-b", fingerprint, lruBytes: 0 });
    const ids = [1, 2, 3];
    const computed = await a.getOrCompute(ids, async () => makeTestCache({ fingerprint, tokenIds: ids }));
    const stored = await a.getOrCompute(ids, async () => assert.fail("must come from redis"));
    assert.equal(stored.source, "store");
    assert.equal(cacheDigest(stored.cache), cacheDigest(computed.cache));
    assert.equal(await b.get(ids), undefined);
    assert.deepEqual(await b.list(), []);
    assert.equal((await a.list()).length, 1);
    assert.equal(await b.clear(), 0);
    assert.equal(await a.clear(), 1);
    assert.equal(await a.get(ids), undefined);
  });

  it("two Node processes share an entry: one computes, the other reads it without computing", async () => {
    const docs = [[7, 8, 9], [10, 11]];
    const common = { url: server.url, namespace: "shared", model: "redis-model", docs };
    const writer = await runChild({ ...common, mode: "compute" });
    assert.deepEqual(writer.results.map((r) => r.source), ["computed", "computed"]);
    const reader = await runChild({ ...common, mode: "read" });
    assert.equal(reader.computeCalls, 0);
    assert.deepEqual(reader.results.map((r) => r.source), ["store", "store"]);
    assert.deepEqual(reader.results.map((r) => r.digest), writer.results.map((r) => r.digest));
    const otherModel = await runChild({ ...common, model: "another-model", mode: "compute" });
    assert.deepEqual(otherModel.results.map((r) => r.source), ["computed", "computed"], "a different model must never hit");
  });

  it("concurrent writers in two processes never leave a broken entry", async () => {
    const docs = Array.from({ length: 8 }, (_, d) => [d, 2 * d, 3 * d, 99]);
    const common = { url: server.url, namespace: "race", model: "redis-model", docs, mode: "compute" };
    await Promise.all([runChild({ ...common, seed: 1 }), runChild({ ...common, seed: 2 })]);
    await using store = await KeyvKvCacheStore.create({ url: server.url, namespace: "race", fingerprint, lruBytes: 0 });
    const report = await store.verify();
    assert.equal(report.length, docs.length);
    for (const r of report) assert.equal(r.status, "ok");
  });

  it("two processes computing the same 24 documents at once compute each exactly once (leases)", async () => {
    const docs = Array.from({ length: 24 }, (_, d) => [500 + d, d, 7]);
    const common = { url: server.url, namespace: "single-flight", model: "redis-model", docs, mode: "compute", computeDelayMs: 40, startAtMs: Date.now() + 4000 };
    const [one, two] = await Promise.all([runChild({ ...common, seed: 1 }), runChild({ ...common, seed: 2 })]);
    assert.equal(one.computeCalls + two.computeCalls, docs.length, "a document was computed by both processes");
    for (const [i, r] of one.results.entries()) assert.equal(r.digest, two.results[i]!.digest, `document ${i} differs between the processes`);
  });

  it("redis stopped mid-run: misses, one warning, an outage counted, no exception; it recovers after restart", async () => {
    const logger = recordingLogger();
    await using store = await KeyvKvCacheStore.create({
      url: server.url, namespace: "outage", fingerprint, lruBytes: 0, logger, retryIntervalMs: 50, opTimeoutMs: 2000,
    });
    const doc = (n: number) => [n, n + 1, n + 2];
    const compute = (n: number) => async () => makeTestCache({ fingerprint, tokenIds: doc(n) });
    assert.equal((await store.getOrCompute(doc(1), compute(1))).source, "computed");
    assert.ok((await store.get(doc(1))) !== undefined);

    await server.stop();
    assert.equal(await store.get(doc(1)), undefined);
    assert.equal(await store.get(doc(1)), undefined);
    assert.equal((await store.getOrCompute(doc(2), compute(2))).source, "computed");
    await store.set(makeTestCache({ fingerprint, tokenIds: doc(3) }));
    await sleep(100); // past retryIntervalMs: the next calls really try redis again, and fail again
    assert.equal(await store.get(doc(2)), undefined);
    let stats = store.stats();
    assert.equal(stats.outages, 1);
    assert.ok(stats.failedOps >= 4);
    assert.equal(stats.available, false);
    assert.equal(logger.warnings.length, 1, "exactly one warning per outage");

    await server.restart();
    let back = false;
    for (let i = 0; i < 200 && !back; i++) {
      await store.set(makeTestCache({ fingerprint, tokenIds: doc(4) }));
      back = (await store.get(doc(4))) !== undefined;
      if (!back) await sleep(100);
    }
    assert.ok(back, "the store did not come back after redis restarted");
    stats = store.stats();
    assert.equal(stats.available, true);
    assert.ok(stats.hits.store >= 2);
    assert.equal(stats.outages, 1);
    assert.equal(logger.warnings.length, 1);
    assert.equal((await store.getOrCompute(doc(4), async () => assert.fail("must hit redis"))).source, "store");
  });

  it("a redis that is down at start: create() resolves and calls degrade to computing", async () => {
    const logger = recordingLogger();
    await using store = await KeyvKvCacheStore.create({ url: "redis://127.0.0.1:1", namespace: "down", fingerprint, logger, opTimeoutMs: 300 });
    assert.equal(await store.get([1]), undefined);
    assert.equal((await store.getOrCompute([1], async () => makeTestCache({ fingerprint, tokenIds: [1] }))).source, "computed");
    assert.equal(store.stats().outages, 1);
    assert.equal(logger.warnings.length, 1);
  });
});
