import assert from "node:assert/strict";
import { KvLinkEngine } from "../../../../packages/core/src/engine/KvLinkEngine.js";
import { makeDocuments, writeEngineFixture, type EngineFixture } from "../engine/engineFixtures.js";

describe("one key per document (issue 13 C1): the engine's key is the store's", function () {
  this.timeout(60_000);
  let fixture: EngineFixture;
  before(async () => {
    fixture = await writeEngineFixture({ signature: "kvlink", numLinkTokens: 0 });
  });
  after(async () => fixture.cleanup());

  it("precompute's key is what the store lists and deletes", async () => {
    await using engine = await KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1, storeUrl: "memory://" });
    const [doc] = makeDocuments(1, 12, 4);
    const [result] = await engine.precompute([doc!]);
    assert.equal(result!.key, engine.documentKey(doc!));
    const store = engine.store!;
    const listed = (await store.list()).map((e) => e.key);
    assert.deepEqual(listed, [result!.key]);
    await store.delete(result!.key as never);
    assert.deepEqual(await store.list(), []);
  });
});
