import { execFile } from "node:child_process";
import { promisify } from "node:util";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { SqliteBackend } from "../../../../packages/core/src/store/backend/SqliteBackend.js";
import { KeyvKvCacheStore } from "../../../../packages/core/src/store/KeyvKvCacheStore.js";
import { cacheDigest, makeFingerprint, makeTestCache } from "../../unit/store/testCaches.js";

const fingerprint = makeFingerprint("sqlite-model");

const execFileAsync = promisify(execFile);

describe("store/KeyvKvCacheStore on sqlite://", function () {
  this.timeout(60_000);
  let dir: string;
  let url: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "kvlink-store-"));
    url = `sqlite://${join(dir, "nested", "cache.sqlite")}`;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("persists entries across store instances (and the default URL lives under KVLINK_HOME)", async () => {
    const ids = [11, 12, 13];
    let digest: string;
    {
      await using store = await KeyvKvCacheStore.create({ url, namespace: "t1", fingerprint });
      digest = cacheDigest((await store.getOrCompute(ids, async () => makeTestCache({ fingerprint, tokenIds: ids }))).cache);
    }
    await using again = await KeyvKvCacheStore.create({ url, namespace: "t1", fingerprint });
    const hit = await again.getOrCompute(ids, async () => assert.fail("must come from sqlite"));
    assert.equal(hit.source, "store");
    assert.equal(cacheDigest(hit.cache), digest);
    assert.equal((await again.list()).length, 1);

    await using byDefault = await KeyvKvCacheStore.create({ namespace: "t1", fingerprint, env: { KVLINK_HOME: join(dir, "home") } });
    assert.equal(byDefault.url, `sqlite://${join(dir, "home", "cache.sqlite")}`);
    await byDefault.set(makeTestCache({ fingerprint, tokenIds: ids }));
    assert.equal((await byDefault.list()).length, 1);
  });

  it("concurrent writers on separate connections leave only valid entries", async () => {
    const stores = await Promise.all([0, 1, 2].map(() => KeyvKvCacheStore.create({ url, namespace: "race", fingerprint, lruBytes: 0 })));
    try {
      const docs = Array.from({ length: 6 }, (_, d) => [d, d + 1, d + 2, 1000]);
      // Every store writes every document (same keys from three connections at once), with differing values.
      await Promise.all(stores.flatMap((s, i) => docs.map((doc) => s.set(makeTestCache({ fingerprint, tokenIds: doc, seed: i + 1 })))));
      const report = await stores[0]!.verify();
      assert.equal(report.length, docs.length);
      for (const r of report) assert.equal(r.status, "ok");
      for (const doc of docs) assert.ok((await stores[1]!.get(doc)) !== undefined);
      for (const s of stores) assert.equal(s.stats().failedOps, 0);
    } finally {
      await Promise.all(stores.map((s) => s.dispose()));
    }
  });

  it("a corrupt row is detected, removed and recomputed to the same values", async () => {
    const ids = [42, 43];
    await using store = await KeyvKvCacheStore.create({ url, namespace: "t2", fingerprint, dtype: "int8", lruBytes: 0 });
    const first = await store.getOrCompute(ids, async () => makeTestCache({ fingerprint, tokenIds: ids }));
    const raw = await SqliteBackend.open(url, join(dir, "nested", "cache.sqlite"), "t2", 5000);
    try {
      const bytes = (await raw.getBlob(store.keyFor(ids)))!;
      bytes[bytes.length - 40]! ^= 0x01;
      await raw.setBlob(store.keyFor(ids), bytes);
    } finally {
      await raw.close();
    }
    const again = await store.getOrCompute(ids, async () => makeTestCache({ fingerprint, tokenIds: ids }));
    assert.equal(again.source, "computed");
    assert.equal(store.stats().corrupt, 1);
    assert.equal(cacheDigest(again.cache), cacheDigest(first.cache));
  });

  it("two processes computing the same 16 documents at once compute each exactly once (leases)", async () => {
    const child = new URL("../../../support/redisStoreChild.ts", import.meta.url).pathname;
    const root = new URL("../../../../", import.meta.url).pathname;
    const docs = Array.from({ length: 16 }, (_, d) => [900 + d, d]);
    const run = async (seed: number) => {
      const args = { url, namespace: "single-flight", model: "sqlite-model", docs, mode: "compute", computeDelayMs: 40, seed, startAtMs };
      const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", child, JSON.stringify(args)], { cwd: root, timeout: 60_000 });
      return JSON.parse(stdout.trim().split("\n").at(-1)!) as { computeCalls: number };
    };
    const startAtMs = Date.now() + 4000;
    const [one, two] = await Promise.all([run(1), run(2)]);
    assert.equal(one.computeCalls + two.computeCalls, docs.length, "a document was computed by both processes");
  });

  it("an unopenable database path is a ConfigError", async () => {
    const file = join(dir, "not-a-dir");
    writeFileSync(file, "x");
    await assert.rejects(KeyvKvCacheStore.create({ url: `sqlite://${join(file, "cache.sqlite")}`, namespace: "t1", fingerprint }), ConfigError);
  });
});
