import assert from "node:assert/strict";
import { KvLinkEngine } from "../../../../packages/core/src/engine/KvLinkEngine.js";
import { KeyvKvCacheStore } from "../../../../packages/core/src/store/KeyvKvCacheStore.js";
import { RedisTestServer, skipWithoutRedis } from "../../../support/redisServer.js";
import { makeDocuments, writeEngineFixture, type EngineFixture } from "./engineFixtures.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A document computed while the store was down stays resident in the runtime only. precompute({ verifyStored }) —
 * what a queue worker calls before it acknowledges a job — must then write that resident copy to the store, not
 * compute the document again and not pass a document the store does not hold.
 */
describe("engine: a store write lost in an outage is written again from the resident copy (verifyStored)", function () {
  this.timeout(120_000);
  let fixture: EngineFixture;
  before(async function () {
    await skipWithoutRedis(this, "the store outage test");
    fixture = await writeEngineFixture({ signature: "kvlink", numLinkTokens: 1 });
  });
  after(async () => fixture?.cleanup());

  it("computed during the outage, stored once redis is back: source memory, the same bytes a reader decodes", async () => {
    await using server = await RedisTestServer.start();
    await using engine = await KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1, storeUrl: server.url, namespace: "outage" });
    const store = engine.store!;
    const [doc, other] = makeDocuments(2, 30, 11);

    await server.stop();
    const [first] = await engine.precompute([doc!], { verifyStored: true });
    assert.equal(first!.source, "computed");
    assert.equal(await store.has(first!.key as never), false, "nothing can be stored while redis is down");

    await server.restart();
    let again: string | undefined;
    for (let i = 0; i < 100 && !(await store.has(first!.key as never)); i++) {
      again = (await engine.precompute([doc!], { verifyStored: true }))[0]!.source;
      if (!(await store.has(first!.key as never))) await sleep(100); // the store retries redis once a second
    }
    assert.equal(again, "memory", "written from the runtime's resident copy, not computed again");
    assert.equal(await store.has(first!.key as never), true);
    assert.equal(store.stats().computed, 1, "the document was computed once");

    // A second process reads the entry and gets the cache the first one holds.
    await using reader = await KeyvKvCacheStore.create({ url: server.url, namespace: "outage", fingerprint: engine.fingerprint, lruBytes: 0 });
    const report = await reader.verify();
    assert.deepEqual(report.map((r) => r.status), ["ok"]);
    const [plain] = await engine.precompute([doc!]);
    assert.equal(plain!.source, "memory");
    // Without verifyStored a resident document is not looked up in the store at all (the cheap path).
    const [unstored] = await engine.precompute([other!]);
    assert.equal(unstored!.source, "computed");
  });
});
