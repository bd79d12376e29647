import assert from "node:assert/strict";
import { InvalidInputError } from "../../packages/core/src/errors/KvLinkError.js";
import { createRandomWeights } from "../../packages/core/src/model/createRandomWeights.js";
import type { LinearWeight, ModelWeights } from "../../packages/core/src/model/ModelWeights.js";
import { tinySpec } from "../../packages/core/src/model/tinySpec.js";
import { assertAllClose, maxAbsDiff } from "./assertAllClose.js";
import { causalMask, referenceForward } from "./referenceForward.js";

const range = (n: number, start = 0): number[] => Array.from({ length: n }, (_, i) => start + i);
const f32 = (w: LinearWeight): Float32Array => {
  assert.equal(w.kind, "f32");
  return w.data;
};

describe("referenceForward", () => {
  const spec = tinySpec();
  const weights = createRandomWeights(spec, { seed: 1 });
  const ids = [5, 17, 3, 90, 42, 8];

  it("causalMask lets row s see all past tokens and new tokens 0..s", () => {
    assert.deepEqual(causalMask(2, 1), [
      [true, true, false],
      [true, true, true],
    ]);
  });

  it("decoding with past KV equals one full causal pass", () => {
    const full = referenceForward(weights, { inputIds: ids, positionIds: range(6), mask: causalMask(6) });
    const first = referenceForward(weights, { inputIds: ids.slice(0, 4), positionIds: range(4), mask: causalMask(4) });
    const second = referenceForward(weights, {
      inputIds: ids.slice(4),
      positionIds: range(2, 4),
      mask: causalMask(2, 4),
      past: { keys: first.newKeys, values: first.newValues, length: 4 },
    });
    const V = spec.vocabSize;
    assertAllClose(second.logits, full.logits.subarray(4 * V), { atol: 1e-5, what: "logits of tokens 4..5" });
    assertAllClose(first.logits, full.logits.subarray(0, 4 * V), { atol: 1e-6, what: "logits of tokens 0..3" });
    const D = spec.headDim;
    for (let l = 0; l < spec.numLayers; l++) {
      for (let kh = 0; kh < spec.numKvHeads; kh++) {
        assertAllClose(second.newKeys[l]!.subarray(kh * 2 * D, (kh + 1) * 2 * D), full.newKeys[l]!.subarray((kh * 6 + 4) * D, (kh * 6 + 6) * D), {
          atol: 1e-6,
          what: `keys layer ${l} head ${kh}`,
        });
      }
    }
  });

  it("is invariant to shifting all positions (RoPE is relative)", () => {
    const a = referenceForward(weights, { inputIds: ids, positionIds: range(6), mask: causalMask(6) });
    const b = referenceForward(weights, { inputIds: ids, positionIds: range(6, 100), mask: causalMask(6) });
    assertAllClose(b.logits, a.logits, { atol: 1e-5, what: "logits shifted by 100" });
    assert.ok(maxAbsDiff(a.newKeys[0]!, b.newKeys[0]!).maxAbsDiff > 1e-3, "keys themselves must depend on position");
  });

  it("rotates keys with HF rotate_half RoPE at positionIds", () => {
    const at0 = referenceForward(weights, { inputIds: [7], positionIds: [0], mask: [[true]] });
    const p = 37;
    const atP = referenceForward(weights, { inputIds: [7], positionIds: [p], mask: [[true]] });
    const D = spec.headDim;
    const half = D / 2;
    const expected = new Float64Array(at0.newKeys[0]!.length);
    for (let kh = 0; kh < spec.numKvHeads; kh++) {
      for (let i = 0; i < half; i++) {
        const angle = p * Math.pow(spec.rope.theta, -(2 * i) / D);
        const x1 = at0.newKeys[0]![kh * D + i]!;
        const x2 = at0.newKeys[0]![kh * D + i + half]!;
        expected[kh * D + i] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
        expected[kh * D + i + half] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
      }
    }
    assertAllClose(atP.newKeys[0]!, expected, { atol: 1e-6, what: "layer-0 key at position 37" });
    assertAllClose(atP.newValues[0]!, at0.newValues[0]!, { atol: 0, what: "values are never rotated" });
  });

  it("maps query head h to kv head floor(h / group) (GQA equals MHA with duplicated KV heads)", () => {
    const mhaSpec = tinySpec({ numKvHeads: spec.numHeads });
    const D = spec.headDim;
    const H = spec.hiddenSize;
    const group = spec.numHeads / spec.numKvHeads;
    const expand = (w: LinearWeight): LinearWeight => {
      const src = f32(w);
      const data = new Float32Array(spec.numHeads * D * H);
      for (let h = 0; h < spec.numHeads; h++) {
        data.set(src.subarray(Math.floor(h / group) * D * H, (Math.floor(h / group) + 1) * D * H), h * D * H);
      }
      return { kind: "f32", outFeatures: spec.numHeads * D, inFeatures: H, data };
    };
    const mha: ModelWeights = {
      ...weights,
      spec: mhaSpec,
      layers: weights.layers.map((layer) => ({ ...layer, k: expand(layer.k), v: expand(layer.v) })),
    };
    const a = referenceForward(weights, { inputIds: ids, positionIds: range(6), mask: causalMask(6) });
    const b = referenceForward(mha, { inputIds: ids, positionIds: range(6), mask: causalMask(6) });
    assertAllClose(b.logits, a.logits, { atol: 1e-6, what: "GQA vs expanded MHA logits" });
  });

  it("matches a hand computation when every layer contributes nothing", () => {
    const zero = (w: LinearWeight): LinearWeight => ({ kind: "f32", outFeatures: w.outFeatures, inFeatures: w.inFeatures, data: new Float32Array(w.outFeatures * w.inFeatures) });
    const dead: ModelWeights = { ...weights, layers: weights.layers.map((l) => ({ ...l, v: zero(l.v), down: zero(l.down) })) };
    const out = referenceForward(dead, { inputIds: [11, 12], positionIds: [0, 1], mask: causalMask(2) });
    const H = spec.hiddenSize;
    const V = spec.vocabSize;
    const E = weights.embedTokens;
    const expected = new Float64Array(2 * V);
    [11, 12].forEach((id, s) => {
      let ss = 0;
      for (let c = 0; c < H; c++) ss += E[id * H + c]! ** 2;
      const inv = 1 / Math.sqrt(ss / H + spec.rmsNormEps);
      for (let r = 0; r < V; r++) {
        let acc = 0;
        for (let c = 0; c < H; c++) acc += E[id * H + c]! * inv * weights.finalNorm[c]! * E[r * H + c]!;
        expected[s * V + r] = acc;
      }
    });
    assertAllClose(out.logits, expected, { atol: 1e-5, what: "logits = rmsnorm(embed)·Eᵀ" });
  });

  it("gives 0 attention output for a fully masked row", () => {
    const zeroV: ModelWeights = {
      ...weights,
      layers: weights.layers.map((l) => ({ ...l, v: { kind: "f32", outFeatures: l.v.outFeatures, inFeatures: l.v.inFeatures, data: new Float32Array(l.v.outFeatures * l.v.inFeatures) } })),
    };
    const masked = referenceForward(weights, { inputIds: [9], positionIds: [0], mask: [[false]] });
    const noValues = referenceForward(zeroV, { inputIds: [9], positionIds: [0], mask: [[true]] });
    assertAllClose(masked.logits, noValues.logits, { atol: 1e-6, what: "fully masked row" });
    assert.ok(masked.logits.every(Number.isFinite));
  });

  it("uses the quantized tied head when present, and biases for qwen2", () => {
    const tied = createRandomWeights(spec, { seed: 1, tiedHeadBits: 8 });
    assert.ok(tied.tiedHead);
    const a = referenceForward(weights, { inputIds: ids, positionIds: range(6), mask: causalMask(6) });
    const b = referenceForward(tied, { inputIds: ids, positionIds: range(6), mask: causalMask(6) });
    const d = maxAbsDiff(a.logits, b.logits).maxAbsDiff;
    assert.ok(d > 0 && d < 0.05, `q8 head should differ slightly from the f32 head, max diff ${d}`);

    const qwenSpec = tinySpec({ architecture: "qwen2", attentionBias: true });
    const qwen = createRandomWeights(qwenSpec, { seed: 1 });
    const withBias = referenceForward(qwen, { inputIds: ids, positionIds: range(6), mask: causalMask(6) });
    const noBias = referenceForward(
      { ...qwen, layers: qwen.layers.map(({ qBias: _q, kBias: _k, vBias: _v, ...rest }) => rest) },
      { inputIds: ids, positionIds: range(6), mask: causalMask(6) },
    );
    assert.ok(maxAbsDiff(withBias.logits, noBias.logits).maxAbsDiff > 1e-3, "q/k/v biases must change logits");
  });

  it("rejects bad input shapes with InvalidInputError", () => {
    assert.throws(() => referenceForward(weights, { inputIds: [96], positionIds: [0], mask: [[true]] }), InvalidInputError);
    assert.throws(() => referenceForward(weights, { inputIds: [1, 2], positionIds: [0], mask: causalMask(2) }), InvalidInputError);
    assert.throws(() => referenceForward(weights, { inputIds: [1], positionIds: [0], mask: [[true, true]] }), InvalidInputError);
    assert.throws(
      () =>
        referenceForward(weights, {
          inputIds: [1],
          positionIds: [3],
          mask: causalMask(1, 3),
          past: { keys: [new Float32Array(3)], values: [new Float32Array(3)], length: 3 },
        }),
      InvalidInputError,
    );
  });
});
