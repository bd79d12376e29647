import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { computeFolderFingerprint, KvLinkEngine } from "../../../../packages/core/src/engine/KvLinkEngine.js";
import { ConfigError, DisposedError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { writeTinyModel } from "../../../../packages/core/src/graph/writeTinyModel.js";
import { KeyvKvCacheStore } from "../../../../packages/core/src/store/KeyvKvCacheStore.js";

const DOCS = [
  "The Nile runs north through eleven countries and ends in a delta on the Mediterranean.",
  "Lyon sits where the Rhone meets the Saone, two rivers of very different character.",
];

describe("KvLinkEngine with a store it opens (storeUrl)", function () {
  this.timeout(120_000);
  let root: string;
  let modelDir: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "kvlink-engine-store-"));
    modelDir = (await writeTinyModel(join(root, "tiny"), { layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 320, seed: 3, signature: "kvlink", quant: "fp32" })).dir;
  });
  after(() => rm(root, { recursive: true, force: true }));

  const open = (storeUrl: string, namespace = "default"): Promise<KvLinkEngine> =>
    KvLinkEngine.create({ model: modelDir, inProcess: true, numThreads: 1, storeUrl, namespace });

  it("writes computed documents to an sqlite store that a later engine (a cold process) reads instead of computing", async () => {
    const url = `sqlite://${join(root, "a.sqlite")}`;
    let numStored: number;
    {
      await using engine = await open(url);
      assert.ok(engine.store !== undefined);
      const pre = await engine.precompute(DOCS);
      assert.deepEqual(pre.map((r) => r.source), ["computed", "computed"]);
      const entries = await engine.store.list();
      assert.equal(entries.length, 2);
      assert.deepEqual(entries.map((e) => e.numTokens).sort(), DOCS.map((d) => engine.countTokens(d)).sort());
      const result = await engine.generate({ documents: DOCS, question: "Which river?", greedy: true, maxTokens: 4 }).result();
      assert.equal(result.stats.docTokensComputed, 0, "both documents were resident after precompute");
      numStored = entries.length;
    }
    await using engine = await open(url);
    const pre = await engine.precompute(DOCS);
    assert.deepEqual(pre.map((r) => r.source), ["store", "store"]);
    const result = await engine.generate({ documents: DOCS, question: "Which river?", greedy: true, maxTokens: 4 }).result();
    assert.equal(result.stats.docTokensComputed, 0);
    assert.equal(result.stats.docTokensReused, DOCS.reduce((n, d) => n + engine.countTokens(d), 0));
    assert.equal((await engine.store!.list()).length, numStored, "nothing was written twice");
  });

  it("keeps namespaces apart and shares memory:// stores within the process by URL", async () => {
    const url = "memory://engine-store-test";
    await using a = await open(url, "tenant-a");
    assert.deepEqual((await a.precompute(DOCS.slice(0, 1))).map((r) => r.source), ["computed"]);
    await using b = await open(url, "tenant-b");
    assert.deepEqual((await b.precompute(DOCS.slice(0, 1))).map((r) => r.source), ["computed"], "another namespace does not see tenant-a's entry");
    await using c = await open(url, "tenant-a");
    assert.deepEqual((await c.precompute(DOCS.slice(0, 1))).map((r) => r.source), ["store"]);
  });

  it("disposes the store it opened, and not a store it was given", async () => {
    const engine = await open("memory://owned");
    const owned = engine.store!;
    await engine.dispose();
    assert.equal(owned.disposed, true);
    await assert.rejects(owned.get([1, 2, 3]), DisposedError);

    const fingerprint = await computeFolderFingerprint(modelDir);
    await using given = await KeyvKvCacheStore.create({ fingerprint, namespace: "default", url: "memory://given" });
    const borrower = await KvLinkEngine.create({ model: modelDir, inProcess: true, numThreads: 1, store: given });
    assert.equal(borrower.fingerprint, fingerprint, "computeFolderFingerprint agrees with the engine");
    await borrower.precompute(DOCS.slice(0, 1));
    await borrower.dispose();
    assert.equal(given.disposed, false);
    assert.equal((await given.list()).length, 1);
  });

  it("rejects `store` together with `storeUrl`, and a bad store URL, as ConfigError", async () => {
    const fingerprint = await computeFolderFingerprint(modelDir);
    await using given = await KeyvKvCacheStore.create({ fingerprint, namespace: "default", url: "memory://x" });
    await assert.rejects(KvLinkEngine.create({ model: modelDir, inProcess: true, store: given, storeUrl: "memory://y" }), ConfigError);
    await assert.rejects(KvLinkEngine.create({ model: modelDir, inProcess: true, storeUrl: "ftp://nowhere" }), ConfigError);
  });
});
