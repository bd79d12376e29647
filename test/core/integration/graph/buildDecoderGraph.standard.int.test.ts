import assert from "node:assert/strict";
import { buildDecoderGraph } from "../../../../packages/core/src/graph/buildDecoderGraph.js";
import { detectSignature } from "../../../../packages/core/src/graph/ioNames.js";
import { createRandomWeights } from "../../../../packages/core/src/model/createRandomWeights.js";
import { tinySpec } from "../../../../packages/core/src/model/tinySpec.js";
import { assertAllClose } from "../../../support/assertAllClose.js";
import { causalMask, referenceForward } from "../../../support/referenceForward.js";
import { TestSession, appendKv, rows, runKvLinkStep, runStandardStep, tokenIds } from "./decoderHarness.js";

const ATOL = 1e-4;

describe("buildDecoderGraph (standard signature)", function () {
  this.timeout(60_000);
  const spec = tinySpec({ numHeads: 6, numKvHeads: 2 });
  const weights = createRandomWeights(spec, { seed: 21 });
  const V = spec.vocabSize;

  it("declares the Optimum-style inputs and present outputs", async () => {
    await using s = await TestSession.create(buildDecoderGraph(weights, { signature: "standard" }).model);
    assert.equal(detectSignature(s.session.inputNames), "standard");
    assert.deepEqual(s.session.outputNames, ["logits", "present.0.key", "present.0.value", "present.1.key", "present.1.value"]);
  });

  it("gives the same logits as the kvlink graph from the same weights on a causal prompt, without and with past", async () => {
    await using std = await TestSession.create(buildDecoderGraph(weights, { signature: "standard" }).model);
    await using kvl = await TestSession.create(buildDecoderGraph(weights, { signature: "kvlink" }).model);
    assert.equal(detectSignature(kvl.session.inputNames), "kvlink");
    const ids = tokenIds(9, V, 4);

    // Prefill 6 tokens, no past.
    const prefillIds = ids.slice(0, 6);
    const positions = [0, 1, 2, 3, 4, 5];
    const a = await runStandardStep(std, spec, { inputIds: prefillIds, positionIds: positions, attentionMask: [1, 1, 1, 1, 1, 1] });
    const b = await runKvLinkStep(kvl, spec, { inputIds: prefillIds, positionIds: positions, mask: causalMask(6) });
    assertAllClose(a.logits, b.logits, { atol: ATOL, what: "prefill logits standard vs kvlink" });
    const ref = referenceForward(weights, { inputIds: ids, positionIds: ids.map((_, i) => i), mask: causalMask(ids.length) });
    assertAllClose(a.logits, rows(ref.logits, V, 0, 6), { atol: ATOL, what: "prefill logits vs reference" });
    for (let l = 0; l < spec.numLayers; l++) {
      assertAllClose(a.keys[l]!, b.keys[l]!, { atol: ATOL, what: `present key = new key, layer ${l}` });
      assertAllClose(a.values[l]!, b.values[l]!, { atol: ATOL, what: `present value = new value, layer ${l}` });
    }

    // 3 more tokens with a past of 6.
    const stdPast = { keys: a.keys, values: a.values, length: 6 };
    const kvlPast = appendKv(spec, undefined, b.keys, b.values, 6);
    const moreIds = ids.slice(6);
    const morePositions = [6, 7, 8];
    const c = await runStandardStep(std, spec, {
      inputIds: moreIds,
      positionIds: morePositions,
      attentionMask: new Array<number>(9).fill(1),
      past: stdPast,
    });
    const d = await runKvLinkStep(kvl, spec, { inputIds: moreIds, positionIds: morePositions, mask: causalMask(3, 6), past: kvlPast });
    assertAllClose(c.logits, d.logits, { atol: ATOL, what: "logits with past, standard vs kvlink" });
    assertAllClose(c.logits, rows(ref.logits, V, 6, 9), { atol: ATOL, what: "logits with past vs reference" });
    // present = concat(past, new) along the token axis.
    const expected = appendKv(spec, kvlPast, d.keys, d.values, 3);
    for (let l = 0; l < spec.numLayers; l++) {
      assertAllClose(c.keys[l]!, expected.keys[l]!, { atol: ATOL, what: `present key layer ${l}` });
      assertAllClose(c.values[l]!, expected.values[l]!, { atol: ATOL, what: `present value layer ${l}` });
    }
  });

  it("masks left padding per batch row: each row matches the reference on its unpadded tokens", async () => {
    await using std = await TestSession.create(buildDecoderGraph(weights, { signature: "standard" }).model);
    const long = tokenIds(6, V, 8);
    const short = tokenIds(4, V, 9);
    // Row 1 is left-padded by 2 (pad id 0); position ids = cumsum(mask) − 1, pads set to 1, as transformers.js does.
    const inputIds = [...long, 0, 0, ...short];
    const attentionMask = [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1];
    const positionIds = [0, 1, 2, 3, 4, 5, 1, 1, 0, 1, 2, 3];
    const got = await runStandardStep(std, spec, { inputIds, positionIds, attentionMask, batch: 2 });
    const refLong = referenceForward(weights, { inputIds: long, positionIds: [0, 1, 2, 3, 4, 5], mask: causalMask(6) });
    const refShort = referenceForward(weights, { inputIds: short, positionIds: [0, 1, 2, 3], mask: causalMask(4) });
    assertAllClose(rows(got.logits, V, 0, 6), refLong.logits, { atol: ATOL, what: "row 0 logits" });
    assertAllClose(rows(got.logits, V, 8, 12), refShort.logits, { atol: ATOL, what: "row 1 unpadded logits" });

    // Decode one more token per row with the padded present as past.
    const past = { keys: got.keys, values: got.values, length: 6 };
    const next = await runStandardStep(std, spec, {
      inputIds: [long[0]!, short[0]!],
      positionIds: [6, 4],
      attentionMask: [...attentionMask.slice(0, 6), 1, ...attentionMask.slice(6), 1],
      batch: 2,
      past,
    });
    const refLong2 = referenceForward(weights, { inputIds: [...long, long[0]!], positionIds: [0, 1, 2, 3, 4, 5, 6], mask: causalMask(7) });
    const refShort2 = referenceForward(weights, { inputIds: [...short, short[0]!], positionIds: [0, 1, 2, 3, 4], mask: causalMask(5) });
    assertAllClose(rows(next.logits, V, 0, 1), rows(refLong2.logits, V, 6, 7), { atol: ATOL, what: "row 0 decode logits" });
    assertAllClose(rows(next.logits, V, 1, 2), rows(refShort2.logits, V, 4, 5), { atol: ATOL, what: "row 1 decode logits" });
  });

  it("num_logits_to_keep = 1 returns only the last position's logits", async () => {
    await using std = await TestSession.create(buildDecoderGraph(weights, { signature: "standard" }).model);
    const ids = tokenIds(5, V, 12);
    const got = await runStandardStep(std, spec, { inputIds: ids, positionIds: [0, 1, 2, 3, 4], attentionMask: [1, 1, 1, 1, 1], numLogitsToKeep: 1 });
    const ref = referenceForward(weights, { inputIds: ids, positionIds: [0, 1, 2, 3, 4], mask: causalMask(5) });
    assert.equal(got.numLogits, 1);
    assertAllClose(got.logits, rows(ref.logits, V, 4, 5), { atol: ATOL, what: "last logits" });
  });
});
