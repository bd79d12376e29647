import assert from "node:assert/strict";
import { InvalidInputError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { createRandomWeights } from "../../../../packages/core/src/model/createRandomWeights.js";
import type { LinearWeight, ModelWeights } from "../../../../packages/core/src/model/ModelWeights.js";
import { dequantizeLinear } from "../../../../packages/core/src/model/ModelWeights.js";
import { tinySpec } from "../../../../packages/core/src/model/tinySpec.js";
import { maxAbsDiff } from "../../../support/assertAllClose.js";
import { causalMask, referenceForward } from "../../../support/referenceForward.js";

const linears = (w: ModelWeights): LinearWeight[] => w.layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]);
const flat = (w: ModelWeights): number[] => [
  ...w.embedTokens,
  ...w.finalNorm,
  ...w.layers.flatMap((l) => [...l.inputNorm, ...l.postAttentionNorm]),
  ...linears(w).flatMap((x) => [...dequantizeLinear(x)]),
];

describe("tinySpec", () => {
  it("gives the documented tiny GQA model and applies overrides", () => {
    const spec = tinySpec();
    assert.deepEqual(
      [spec.vocabSize, spec.hiddenSize, spec.intermediateSize, spec.numLayers, spec.numHeads, spec.numKvHeads, spec.headDim],
      [96, 32, 64, 2, 4, 2, 8],
    );
    assert.equal(spec.tieWordEmbeddings, true);
    assert.deepEqual(spec.rope, { theta: 10000, rotaryDim: 8 });
    assert.equal(tinySpec({ headDim: 16 }).rope.rotaryDim, 16);
    assert.equal(tinySpec({ numLayers: 1 }).numLayers, 1);
    assert.throws(() => tinySpec({ numKvHeads: 3 }), InvalidInputError);
    assert.throws(() => tinySpec({ rope: { theta: 10000, rotaryDim: 10 } }), InvalidInputError);
  });
});

describe("createRandomWeights", () => {
  const spec = tinySpec();

  it("is deterministic in the seed", () => {
    const a = flat(createRandomWeights(spec, { seed: 42 }));
    const b = flat(createRandomWeights(spec, { seed: 42 }));
    const c = flat(createRandomWeights(spec, { seed: 43 }));
    assert.deepEqual(a, b);
    assert.ok(maxAbsDiff(a, c).maxAbsDiff > 0.01);
  });

  it("has the spec's shapes, biases for qwen2 and an lm head when untied", () => {
    const w = createRandomWeights(tinySpec({ attentionBias: true, tieWordEmbeddings: false }), { seed: 1 });
    assert.equal(w.embedTokens.length, 96 * 32);
    assert.equal(w.layers.length, 2);
    const l = w.layers[0]!;
    assert.deepEqual([l.q.outFeatures, l.q.inFeatures, l.k.outFeatures, l.o.outFeatures, l.o.inFeatures], [32, 32, 16, 32, 32]);
    assert.deepEqual([l.gate.outFeatures, l.up.outFeatures, l.down.outFeatures, l.down.inFeatures], [64, 64, 32, 64]);
    assert.deepEqual([l.qBias?.length, l.kBias?.length, l.vBias?.length], [32, 16, 16]);
    assert.deepEqual([w.lmHead?.outFeatures, w.lmHead?.inFeatures], [96, 32]);
    assert.equal(createRandomWeights(spec, { seed: 1 }).lmHead, undefined);
    assert.equal(createRandomWeights(spec, { seed: 1 }).layers[0]!.qBias, undefined);
  });

  it("quantizes the linears (and an untied head) for q4/q8, close to the f32 weights", () => {
    const untied = tinySpec({ tieWordEmbeddings: false });
    const f = createRandomWeights(untied, { seed: 5 });
    for (const [quant, bits, tol] of [["q4", 4, 0.05], ["q8", 8, 0.004]] as const) {
      const q = createRandomWeights(untied, { seed: 5, quant });
      for (const w of [...linears(q), q.lmHead!]) assert.ok(w.kind === "nbits" && w.bits === bits);
      assert.deepEqual(q.embedTokens, f.embedTokens);
      const d = maxAbsDiff(flat(q), flat(f)).maxAbsDiff;
      assert.ok(d > 0 && d < tol, `${quant}: max weight diff ${d}`);
    }
    const tied = createRandomWeights(spec, { seed: 5, quant: "q4", tiedHeadBits: 8 });
    assert.ok(tied.tiedHead?.kind === "nbits" && tied.tiedHead.bits === 8);
    assert.throws(() => createRandomWeights(untied, { seed: 5, tiedHeadBits: 8 }), InvalidInputError);
  });

  it("gives O(1) logits and an unsaturated softmax", () => {
    const w = createRandomWeights(spec, { seed: 3 });
    const ids = [1, 50, 7, 33, 95, 0, 12, 60];
    const { logits } = referenceForward(w, { inputIds: ids, positionIds: ids.map((_, i) => i), mask: causalMask(ids.length) });
    let sumSq = 0;
    for (const x of logits) sumSq += x * x;
    const rms = Math.sqrt(sumSq / logits.length);
    assert.ok(rms > 0.3 && rms < 3, `logit rms ${rms}`);
    for (let s = 0; s < ids.length; s++) {
      const row = logits.subarray(s * 96, (s + 1) * 96);
      const max = Math.max(...row);
      const z = row.reduce((acc, x) => acc + Math.exp(x - max), 0);
      assert.ok(1 / z < 0.5, `token ${s}: top probability ${1 / z}`);
    }
  });

  it("rejects bad options", () => {
    assert.throws(() => createRandomWeights(spec, { seed: Number.NaN }), InvalidInputError);
    assert.throws(() => createRandomWeights(spec, { seed: 1, scale: 0 }), InvalidInputError);
    assert.throws(() => createRandomWeights(spec, { seed: 1, quant: "q2" as "q4" }), InvalidInputError);
  });
});
