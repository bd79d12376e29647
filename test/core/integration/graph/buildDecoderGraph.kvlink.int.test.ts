import assert from "node:assert/strict";
import { ConfigError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { buildDecoderGraph, type AttentionImpl } from "../../../../packages/core/src/graph/buildDecoderGraph.js";
import { HYBRID_MATMUL_MIN_PAST } from "../../../../packages/core/src/graph/addHybridAttention.js";
import { IoNames } from "../../../../packages/core/src/graph/ioNames.js";
import type { ModelSpec } from "../../../../packages/core/src/model/ModelSpec.js";
import type { ModelWeights } from "../../../../packages/core/src/model/ModelWeights.js";
import { createRandomWeights } from "../../../../packages/core/src/model/createRandomWeights.js";
import { tinySpec } from "../../../../packages/core/src/model/tinySpec.js";
import { assertAllClose } from "../../../support/assertAllClose.js";
import { causalMask, referenceForward, type ReferencePast } from "../../../support/referenceForward.js";
import { appendKv, checkPrefill as checkPrefillWith, kvlinkSession as kvlinkSessionWith, rows, runKvLinkStep, TestSession, tokenIds, type HostKv } from "./decoderHarness.js";

const ATOL = 1e-4;

for (const attention of ["decomposed", "onnx", "hybrid"] as const satisfies readonly AttentionImpl[]) describe(`buildDecoderGraph (kvlink signature, ${attention} attention) vs referenceForward`, function () {
  this.timeout(60_000);
  const kvlinkSession = (weights: ModelWeights) => kvlinkSessionWith(weights, { attention });
  const checkPrefill = (weights: ModelWeights, options: { n?: number; firstPosition?: number } = {}) =>
    checkPrefillWith(weights, { ...options, build: { attention } });

  it(`declares past keys as ${attention === "decomposed" ? "[B,KVH,D,P]" : "[B,KVH,P,D]"} and past values as [B,KVH,P,D]`, async () => {
    const spec = tinySpec();
    await using s = await kvlinkSession(createRandomWeights(spec, { seed: 1 }));
    const shapeOf = (name: string) => {
      const meta = s.session.inputMetadata.find((m) => m.name === name);
      assert.ok(meta?.isTensor, name);
      return meta.shape;
    };
    const keyShape = attention === "decomposed" ? ["batch_size", spec.numKvHeads, spec.headDim, "past_sequence_length"] : ["batch_size", spec.numKvHeads, "past_sequence_length", spec.headDim];
    assert.deepEqual(shapeOf(IoNames.pastKey(1)), keyShape);
    assert.deepEqual(shapeOf(IoNames.pastValue(1)), ["batch_size", spec.numKvHeads, "past_sequence_length", spec.headDim]);
  });

  it(`one-token steps over a past of ${HYBRID_MATMUL_MIN_PAST}+ tokens (hybrid: the MatMul branch), some past slots masked, match`, async () => {
    const spec = tinySpec({ maxPositionEmbeddings: 512 });
    const weights = createRandomWeights(spec, { seed: 16 });
    await using s = await kvlinkSession(weights);
    const n = HYBRID_MATMUL_MIN_PAST + 20;
    const pastIds = tokenIds(n, spec.vocabSize, 11);
    const pastPositions = pastIds.map((_, i) => i);
    const first = await runKvLinkStep(s, spec, { inputIds: pastIds, positionIds: pastPositions, mask: causalMask(n), numLogitsToKeep: 1 });
    let past: HostKv = appendKv(spec, undefined, first.keys, first.values, n);
    let refPast: ReferencePast = { keys: first.keys, values: first.values, length: n };
    for (let t = 0; t < 3; t++) {
      const inputIds = tokenIds(1, spec.vocabSize, 20 + t);
      // Every 7th past slot blocked (as unused capacity is), the new token sees itself.
      const mask = [Array.from({ length: past.length + 1 }, (_, j) => j === past.length || j % 7 !== 3)];
      const positionIds = [n + t];
      const got = await runKvLinkStep(s, spec, { inputIds, positionIds, mask, past });
      const ref = referenceForward(weights, { inputIds, positionIds, mask, past: refPast });
      assertAllClose(got.logits, ref.logits, { atol: ATOL, what: `decode logits over ${past.length} past` });
      assertAllClose(got.values[1]!, ref.newValues[1]!, { atol: ATOL, what: "new values" });
      past = appendKv(spec, past, got.keys, got.values, 1);
      refPast = { keys: past.keys, values: past.values, length: past.length };
    }
  });

  it("a fully masked row among normal rows matches the reference (0 attention output, finite logits)", async () => {
    const spec = tinySpec();
    const weights = createRandomWeights(spec, { seed: 15 });
    await using s = await kvlinkSession(weights);
    const pastIds = tokenIds(4, spec.vocabSize, 2);
    const first = await runKvLinkStep(s, spec, { inputIds: pastIds, positionIds: [0, 1, 2, 3], mask: causalMask(4) });
    const past: HostKv = appendKv(spec, undefined, first.keys, first.values, 4);
    const inputIds = tokenIds(3, spec.vocabSize, 8);
    const mask = [
      [true, true, false, true, true, false, false],
      [false, false, false, false, false, false, false],
      [true, true, true, true, true, true, true],
    ];
    const positionIds = [4, 5, 6];
    const got = await runKvLinkStep(s, spec, { inputIds, positionIds, mask, past });
    const refPast: ReferencePast = { keys: first.keys, values: first.values, length: 4 };
    const ref = referenceForward(weights, { inputIds, positionIds, mask, past: refPast });
    assert.ok(got.logits.every(Number.isFinite), "finite logits");
    assertAllClose(got.logits, ref.logits, { atol: ATOL, what: "logits with a fully masked row" });
  });

  it("prefill: logits and post-RoPE new KV match (tied head, GQA 4/2)", async () => {
    await checkPrefill(createRandomWeights(tinySpec(), { seed: 1 }));
  });

  it("prefill then 8 decode steps with the host-owned past match one full-sequence pass", async () => {
    const spec = tinySpec();
    const weights = createRandomWeights(spec, { seed: 2 });
    await using s = await kvlinkSession(weights);
    const all = tokenIds(14, spec.vocabSize, 3);
    const full = referenceForward(weights, { inputIds: all, positionIds: all.map((_, i) => i), mask: causalMask(all.length) });

    const prefill = await runKvLinkStep(s, spec, { inputIds: all.slice(0, 6), positionIds: [0, 1, 2, 3, 4, 5], mask: causalMask(6) });
    assertAllClose(prefill.logits, rows(full.logits, spec.vocabSize, 0, 6), { atol: ATOL, what: "prefill logits" });
    let past: HostKv = appendKv(spec, undefined, prefill.keys, prefill.values, 6);
    for (let t = 6; t < 14; t++) {
      const step = await runKvLinkStep(s, spec, { inputIds: [all[t]!], positionIds: [t], mask: causalMask(1, t), past });
      assertAllClose(step.logits, rows(full.logits, spec.vocabSize, t, t + 1), { atol: ATOL, what: `decode logits at ${t}` });
      past = appendKv(spec, past, step.keys, step.values, 1);
    }
    assert.equal(past.length, 14);
    for (let l = 0; l < spec.numLayers; l++) {
      assertAllClose(past.keys[l]!, full.newKeys[l]!, { atol: ATOL, what: `accumulated keys layer ${l}` });
    }
  });

  it("an arbitrary 4D mask with non-contiguous position ids over a past matches", async () => {
    const spec = tinySpec();
    const weights = createRandomWeights(spec, { seed: 4 });
    await using s = await kvlinkSession(weights);
    // Past: two 3-token "documents", each encoded alone at positions 0..2 (block-diagonal mask).
    const pastIds = tokenIds(6, spec.vocabSize, 5);
    const pastPositions = [0, 1, 2, 0, 1, 2];
    const blockMask = pastPositions.map((_, i) => pastPositions.map((__, j) => Math.floor(i / 3) === Math.floor(j / 3) && j <= i));
    const gotPast = await runKvLinkStep(s, spec, { inputIds: pastIds, positionIds: pastPositions, mask: blockMask });
    const refPast = referenceForward(weights, { inputIds: pastIds, positionIds: pastPositions, mask: blockMask });
    assertAllClose(gotPast.logits, refPast.logits, { atol: ATOL, what: "block-diagonal logits" });

    // New tokens at scattered positions, each row seeing an irregular subset of past and new columns.
    const newIds = tokenIds(5, spec.vocabSize, 7);
    const positionIds = [40, 41, 97, 98, 150];
    const mask = [
      [true, false, true, false, false, true, true, false, false, false, false],
      [false, true, true, true, true, false, true, true, false, false, false],
      [true, true, true, true, true, true, false, false, true, false, false],
      [false, false, false, true, false, false, true, false, true, true, false],
      [true, false, true, false, true, false, true, true, true, true, true],
    ];
    const hostPast: HostKv = appendKv(spec, undefined, gotPast.keys, gotPast.values, 6);
    const refPastKv: ReferencePast = { keys: refPast.newKeys, values: refPast.newValues, length: 6 };
    const got = await runKvLinkStep(s, spec, { inputIds: newIds, positionIds, mask, past: hostPast });
    const ref = referenceForward(weights, { inputIds: newIds, positionIds, mask, past: refPastKv });
    assertAllClose(got.logits, ref.logits, { atol: ATOL, what: "masked logits" });
    for (let l = 0; l < spec.numLayers; l++) {
      assertAllClose(got.keys[l]!, ref.newKeys[l]!, { atol: ATOL, what: `new keys layer ${l}` });
    }
  });

  const headLayouts: [string, Partial<ModelSpec>][] = [
    ["MHA 4/4", { numHeads: 4, numKvHeads: 4 }],
    ["MQA 4/1", { numHeads: 4, numKvHeads: 1 }],
    ["GQA 6/2 with numHeads·headDim ≠ hiddenSize", { numHeads: 6, numKvHeads: 2 }],
  ];
  for (const [label, overrides] of headLayouts) {
    it(`head layout ${label} matches`, async () => {
      await checkPrefill(createRandomWeights(tinySpec(overrides), { seed: 5 }));
    });
  }

  it("untied lm_head matches", async () => {
    await checkPrefill(createRandomWeights(tinySpec({ tieWordEmbeddings: false }), { seed: 6 }));
  });

  it("Llama-3 rope scaling matches at positions across the low/medium/high frequency bands", async () => {
    const spec = tinySpec({
      rope: {
        theta: 10000,
        rotaryDim: 8,
        scaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 },
      },
    });
    await checkPrefill(createRandomWeights(spec, { seed: 7 }), { n: 6, firstPosition: 240 });
  });

  it("linear rope scaling matches", async () => {
    const spec = tinySpec({ rope: { theta: 10000, rotaryDim: 8, scaling: { type: "linear", factor: 4 } } });
    await checkPrefill(createRandomWeights(spec, { seed: 8 }), { n: 6, firstPosition: 100 });
  });

  it("partial rotary (rotaryDim < headDim) matches", async () => {
    const spec = tinySpec({ headDim: 16, rope: { theta: 10000, rotaryDim: 8 } });
    await checkPrefill(createRandomWeights(spec, { seed: 9 }), { n: 5, firstPosition: 30 });
  });

  it("qwen2 q/k/v biases match", async () => {
    const spec = tinySpec({ architecture: "qwen2", attentionBias: true, tieWordEmbeddings: false });
    await checkPrefill(createRandomWeights(spec, { seed: 10 }));
  });

  it("num_logits_to_keep returns the last n rows (0 and n ≥ S return all)", async () => {
    const spec = tinySpec();
    const weights = createRandomWeights(spec, { seed: 14 });
    await using s = await kvlinkSession(weights);
    const inputIds = tokenIds(6, spec.vocabSize, 9);
    const positionIds = [0, 1, 2, 3, 4, 5];
    const mask = causalMask(6);
    const ref = referenceForward(weights, { inputIds, positionIds, mask });
    const V = spec.vocabSize;
    for (const [keep, expectedRows] of [[1, 1], [3, 3], [0, 6], [6, 6], [100, 6]] as const) {
      const got = await runKvLinkStep(s, spec, { inputIds, positionIds, mask, numLogitsToKeep: keep });
      assert.equal(got.numLogits, expectedRows, `rows for num_logits_to_keep=${keep}`);
      assertAllClose(got.logits, rows(ref.logits, V, 6 - expectedRows, 6), { atol: ATOL, what: `logits keep=${keep}` });
      // KV outputs are unaffected by the logits slice.
      assertAllClose(got.keys[1]!, ref.newKeys[1]!, { atol: ATOL, what: `keys keep=${keep}` });
    }
  });
});

describe("buildDecoderGraph attention option", () => {
  const weights = createRandomWeights(tinySpec(), { seed: 1 });

  it("defaults to Attention-23 (past keys [B,KVH,P,D]); decomposed and hybrid are refused for the standard signature, hybrid with fp16 past (ConfigError)", async () => {
    await using s = await TestSession.create(buildDecoderGraph(weights, { signature: "kvlink" }).model);
    const meta = s.session.inputMetadata.find((m) => m.name === IoNames.pastKey(0));
    assert.ok(meta?.isTensor);
    assert.equal(meta.shape[2], "past_sequence_length", "past keys not transposed by default");
    assert.equal(meta.shape[3], weights.spec.headDim);
    assert.throws(() => buildDecoderGraph(weights, { signature: "standard", attention: "decomposed" }), ConfigError);
    assert.throws(() => buildDecoderGraph(weights, { signature: "standard", attention: "hybrid" }), ConfigError);
    assert.throws(() => buildDecoderGraph(weights, { signature: "kvlink", attention: "hybrid", pastKvType: "float16" }), ConfigError);
    assert.throws(() => buildDecoderGraph(weights, { signature: "kvlink", attention: "fast" as AttentionImpl }), ConfigError);
  });
});
