import assert from "node:assert/strict";
import { computeFolderFingerprint, KvLinkEngine } from "../../../../packages/core/src/engine/KvLinkEngine.js";
import { ConfigError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { KeyvKvCacheStore } from "../../../../packages/core/src/store/KeyvKvCacheStore.js";
import { buildPromptLayout } from "../../../../packages/core/src/link/buildPromptLayout.js";
import { referenceForward } from "../../../support/referenceForward.js";
import { assertAllClose, maxAbsDiff } from "../../../support/assertAllClose.js";
import { makeDocuments, writeEngineFixture, type EngineFixture } from "./engineFixtures.js";

describe("documentPrefix \"template\": documents encoded after the template's opening (KV not stored)", function () {
  this.timeout(120_000);
  let fixture: EngineFixture;
  before(async () => {
    fixture = await writeEngineFixture({ signature: "kvlink", numLinkTokens: 0 });
  });
  after(async () => fixture.cleanup());

  it("one document after the default prompt's own opening links exactly as full prefill; other keys and fingerprint", async () => {
    await using plain = await KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1 });
    await using sink = await KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1, documentPrefix: "template" });
    const request = { documents: makeDocuments(1, 16, 5), question: "Which river?" };
    const full = await sink.linkPrompt({ ...request, mode: "full" });
    const linked = await sink.linkPrompt({ ...request, mode: "rerotate" });
    // the document sits right after the same opening it was encoded after: re-rotation by 0, identical KV
    assertAllClose(linked.logits, full.logits, { atol: 1e-4, what: "sink-prefixed rerotate vs full" });
    const alone = await plain.linkPrompt({ ...request, mode: "rerotate" });
    assert.ok(maxAbsDiff(alone.logits, full.logits).maxAbsDiff > 1e-3, "a document encoded alone differs from full prefill");
    assert.notEqual(sink.fingerprint, plain.fingerprint);
    assert.notEqual(sink.documentKey(request.documents[0]!), plain.documentKey(request.documents[0]!));
  });

  it("a given store must carry the engine's fingerprint (prefixed and plain caches never share keys)", async () => {
    await using store = await KeyvKvCacheStore.create({ fingerprint: await computeFolderFingerprint(fixture.dir), namespace: "t", url: "memory://prefix-fp" });
    await assert.rejects(KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1, documentPrefix: "template", store }), ConfigError);
    await using plain = await KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1, store });
    assert.equal(plain.fingerprint, store.fingerprint);
  });

  it("with another system prompt, prefixed caches rotated by offset − prefix length equal a reference with the hidden prefix", async () => {
    await using sink = await KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1, documentPrefix: "template" });
    const docs = makeDocuments(2, 10, 8);
    const linked = await sink.linkPrompt({ documents: docs, question: "Where?", system: "Answer from the notes, briefly and carefully.", mode: "rerotate" });
    const hidden = buildPromptLayout(sink.tokenizer, { question: "?", documents: [{ key: "x", tokenIds: [0] }] })[0]!;
    assert.ok(hidden.kind === "text");
    const s0 = hidden.tokenIds.length;
    // One sequence for the reference: the prompt's fresh tokens and documents at their global positions, plus, before
    // each document, a copy of the hidden prefix at positions offset − s0 … offset − 1 that only that document sees.
    const ids: number[] = [];
    const pos: number[] = [];
    const group: number[] = []; // 0 = prompt (fresh), k = document k or its hidden prefix
    const isHidden: boolean[] = [];
    const push = (id: number, p: number, g: number, h: boolean): void => {
      ids.push(id); pos.push(p); group.push(g); isHidden.push(h);
    };
    const fresh = linked.plan.freshTokenIds.map((id, i) => ({ id, p: linked.plan.freshPositions[i]! }));
    let f = 0;
    linked.plan.documents.forEach((d, k) => {
      while (f < fresh.length && fresh[f]!.p < d.offset) push(fresh[f]!.id, fresh[f++]!.p, 0, false);
      hidden.tokenIds.forEach((id, j) => push(id, d.offset - s0 + j, k + 1, true));
      linked.documentTokenIds.get(d.key)!.forEach((id, j) => push(id, d.offset + j, k + 1, false));
    });
    while (f < fresh.length) push(fresh[f]!.id, fresh[f++]!.p, 0, false);
    const mask = ids.map((_, i) =>
      ids.map((__, j) => {
        if (j > i) return false;
        if (group[i] === 0) return group[j] === 0 || !isHidden[j]; // prompt tokens see prompt and documents, never a hidden prefix
        return group[j] === group[i]; // a document (or its prefix) sees its own prefix and itself
      }),
    );
    // RoPE is relative: shifting every position by s0 changes nothing and keeps hidden-prefix positions non-negative.
    const out = referenceForward(fixture.weights, { inputIds: ids, positionIds: pos.map((p) => p + s0), mask });
    const V = fixture.weights.spec.vocabSize;
    assertAllClose(linked.logits, out.logits.slice((ids.length - 1) * V), { atol: 1e-4, what: "sink-prefixed rerotate vs reference" });
    assert.ok(linked.plan.documents[0]!.offset !== s0, "the first document is not at the prefix's own position (rotation is exercised)");
  });
});
