import assert from "node:assert/strict";
import { KvLinkEngine } from "../../../../packages/core/src/engine/KvLinkEngine.js";
import { assertAllClose } from "../../../support/assertAllClose.js";
import { makeDocuments, writeEngineFixture, type EngineFixture } from "./engineFixtures.js";

/**
 * Issue 13 B1: with documentCacheBytes smaller than the documents in use, concurrent generate() calls (and one
 * prompt larger than the budget) failed with "document … is not resident". Documents evicted before they are placed
 * are brought back and placed at once; the answers equal those of an engine with room for everything.
 */
describe("document caches larger than documentCacheBytes (concurrent calls, one big prompt)", function () {
  this.timeout(180_000);
  let fixture: EngineFixture;
  before(async () => {
    fixture = await writeEngineFixture({ signature: "kvlink", numLinkTokens: 1 });
  });
  after(async () => fixture.cleanup());

  it("12 concurrent calls over different documents, and a 6-document prompt, all answer as with room to spare", async () => {
    // one 40-word document ≈ 50 tokens × 2 layers × 2 kv heads × 8 dims × 4 B × 2 (K and V) ≈ 13 KB: room for about one
    await using tight = await KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1, documentCacheBytes: 16_000 });
    await using roomy = await KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1 });
    const docs = makeDocuments(24, 40, 11);
    const requests = Array.from({ length: 12 }, (_, i) => ({ documents: [docs[2 * i]!, docs[2 * i + 1]!], question: "Which river?", greedy: true, maxTokens: 3 }));
    const results = await Promise.all(requests.map((r) => tight.generate(r).result()));
    for (const [i, r] of results.entries()) {
      const expected = await roomy.generate(requests[i]!).result();
      assert.deepEqual(r.tokenIds, expected.tokenIds, `request ${i}`);
    }
    const big = { documents: docs.slice(0, 6), question: "Where?", mode: "kvlink" as const };
    const a = await tight.linkPrompt(big);
    const b = await roomy.linkPrompt(big);
    assertAllClose(a.logits, b.logits, { atol: 1e-5, what: "a prompt larger than the budget" });
  });
});

describe("reuse figures of concurrent calls (issue 13 B10)", function () {
  this.timeout(120_000);
  let fixture: EngineFixture;
  before(async () => {
    fixture = await writeEngineFixture({ signature: "kvlink", numLinkTokens: 1 });
  });
  after(async () => fixture.cleanup());

  it("20 concurrent calls over the same new documents report each document token computed once in all", async () => {
    await using engine = await KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1 });
    const docs = makeDocuments(2, 30, 21);
    const numDocTokens = docs.reduce((n, d) => n + engine.countTokens(d), 0);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => engine.generate({ documents: docs, question: "Which river?", greedy: true, maxTokens: 2 }).result()),
    );
    const computed = results.reduce((n, r) => n + r.stats.docTokensComputed, 0);
    const reused = results.reduce((n, r) => n + r.stats.docTokensReused, 0);
    assert.equal(computed, numDocTokens);
    assert.equal(computed + reused, 20 * numDocTokens);
  });
});
