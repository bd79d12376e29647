import assert from "node:assert/strict";
import { buildDecoderGraph } from "../../../../packages/core/src/graph/buildDecoderGraph.js";
import type { Int8WeightMode } from "../../../../packages/core/src/graph/addLinear.js";
import { dequantizeLinear, type LayerWeights, type LinearWeight, type ModelWeights } from "../../../../packages/core/src/model/ModelWeights.js";
import { createRandomWeights } from "../../../../packages/core/src/model/createRandomWeights.js";
import { tinySpec } from "../../../../packages/core/src/model/tinySpec.js";
import { checkPrefill } from "./decoderHarness.js";

const LINEARS = ["q", "k", "v", "o", "gate", "up", "down"] as const;

/** Replaces every nbits zero point of layer l by zp(z, l): the reference dequantizes the same structs. */
function mapZeroPoints(weights: ModelWeights, zp: (z: number, layer: number) => number): ModelWeights {
  const remap = (w: LinearWeight, l: number): LinearWeight => (w.kind === "nbits" ? { ...w, zeroPoints: w.zeroPoints.map((z) => zp(z, l)) } : w);
  const layers = weights.layers.map(
    (layer, l) => ({ ...layer, ...Object.fromEntries(LINEARS.map((n) => [n, remap(layer[n], l)])) }) as LayerWeights,
  );
  return { ...weights, layers };
}

const clampRound = (max: number) => (z: number) => Math.min(max, Math.max(0, Math.round(z)));

describe("buildDecoderGraph with quantized (nbits) weights vs referenceForward on the dequantized weights", function () {
  this.timeout(60_000);

  it("4-bit, fractional zero points (integer part in MatMulNBits + exact remainder correction), untied 4-bit head", async () => {
    const weights = createRandomWeights(tinySpec({ tieWordEmbeddings: false }), { seed: 11, quant: "q4" });
    assert.equal(weights.layers[0]!.q.kind, "nbits");
    assert.ok(weights.layers[0]!.q.kind === "nbits" && weights.layers[0]!.q.zeroPoints.some((z) => !Number.isInteger(z)));
    await checkPrefill(weights);
  });

  it("4-bit, integer zero points: all 8 (input omitted) in layer 0, packed uint8 nibbles in layer 1", async () => {
    const base = createRandomWeights(tinySpec({ tieWordEmbeddings: false }), { seed: 16, quant: "q4" });
    await checkPrefill(mapZeroPoints(base, (z, l) => (l === 0 ? 8 : clampRound(15)(z))));
  });

  it("4-bit with in_features not a multiple of the block size (padded block sums)", async () => {
    // hidden 48 → 2 blocks of 32 with a 16-element tail per row; intermediate 80 → 3 blocks.
    const spec = tinySpec({ hiddenSize: 48, intermediateSize: 80, tieWordEmbeddings: false });
    await checkPrefill(createRandomWeights(spec, { seed: 13, quant: "q4" }));
  });

  for (const mode of ["dequantize", "matMulNBits"] as const satisfies readonly Int8WeightMode[]) {
    it(`8-bit (${mode}): fractional zero points, a partial block and a quantized tied head`, async () => {
      const spec = tinySpec({ hiddenSize: 48, intermediateSize: 80 });
      const weights = createRandomWeights(spec, { seed: 12, quant: "q8", tiedHeadBits: 8 });
      assert.ok(weights.tiedHead);
      await checkPrefill(weights, { build: { int8Weights: mode } });
    });

    it(`8-bit (${mode}): integer zero points (128 in layer 0, varied in layer 1), untied 8-bit head`, async () => {
      const base = createRandomWeights(tinySpec({ tieWordEmbeddings: false }), { seed: 15, quant: "q8" });
      await checkPrefill(mapZeroPoints(base, (z, l) => (l === 0 ? 128 : clampRound(255)(z))), { build: { int8Weights: mode } });
    });
  }

  it("4-bit tied head (tiedHead bits 4) matches", async () => {
    await checkPrefill(createRandomWeights(tinySpec(), { seed: 17, quant: "q4", tiedHeadBits: 4 }));
  });

  it("an 8-bit tiedHead that dequantizes to the embedding reuses the embedding table (GGUF Q8_0 token_embd)", async () => {
    const spec = tinySpec({ vocabSize: 512 });
    const base = createRandomWeights(spec, { seed: 18, quant: "q4", tiedHeadBits: 8 });
    const ggufLike = { ...base, embedTokens: dequantizeLinear(base.tiedHead!) };
    const reused = buildDecoderGraph(ggufLike, { signature: "kvlink" }).model.byteLength;
    const separate = buildDecoderGraph(base, { signature: "kvlink" }).model.byteLength;
    const tableBytes = spec.vocabSize * spec.hiddenSize * 4;
    assert.ok(separate - reused >= tableBytes, `expected one ${tableBytes}-byte table less, got ${separate} vs ${reused}`);
    await checkPrefill(ggufLike);
  });
});
