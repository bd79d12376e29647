import assert from "node:assert/strict";
import { KvLinkEngine } from "../../../../packages/core/src/engine/KvLinkEngine.js";
import { makeDocuments, writeEngineFixture } from "../engine/engineFixtures.js";

describe("engine + store: who computed a document does not change the answer", function () {
  this.timeout(120_000);
  it("the process that computes a document links the same (fp16-stored) values as one that loads it", async () => {
    const fixture = await writeEngineFixture({ signature: "kvlink", numLinkTokens: 1 });
    try {
      const docs = makeDocuments(3, 20, 4);
      const request = { documents: docs, question: "Which note?" };
      const storeUrl = "memory://consistency";
      await using first = await KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1, storeUrl, storeDtype: "fp16" });
      const computed = await first.linkPrompt(request);
      assert.ok(computed.docTokensComputedNow > 0);
      await using second = await KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1, storeUrl, storeDtype: "fp16" });
      const loaded = await second.linkPrompt(request);
      assert.equal(loaded.docTokensComputedNow, 0);
      assert.deepEqual(Array.from(loaded.logits), Array.from(computed.logits));
    } finally {
      await fixture.cleanup();
    }
  });
});
