import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { convertModel } from "../../../../packages/core/src/convert/convertModel.js";
import { loadGgufWeights } from "../../../../packages/core/src/convert/loadGgufWeights.js";
import { dequantize } from "../../../../packages/core/src/gguf/dequantize.js";
import { GgufFile } from "../../../../packages/core/src/gguf/GgufFile.js";
import { dequantizeLinear, type ModelWeights } from "../../../../packages/core/src/model/ModelWeights.js";
import { readModelFolder } from "../../../../packages/core/src/model/modelFolder.js";
import { HfTokenizer } from "../../../../packages/core/src/tokenizer/HfTokenizer.js";
import { assertAllClose } from "../../../support/assertAllClose.js";
import { TINY_QWEN2, writeTinyQwen2Gguf } from "../../../support/ggufTinyQwen2.js";
import { causalMask, referenceForward } from "../../../support/referenceForward.js";

/** Runs a KVLink-signature model on a causal prompt with no past; returns logits [S, V]. */
async function runKvlink(modelPath: string, weights: ModelWeights, ids: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  try {
    const S = ids.length, { numLayers, numKvHeads, headDim } = weights.spec;
    const bias = new Float32Array(S * S);
    for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) bias[i * S + j] = -Infinity;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, S]),
      position_ids: new ort.Tensor("int64", BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, S]),
      attention_bias: new ort.Tensor("float32", bias, [1, 1, S, S]),
      num_logits_to_keep: new ort.Tensor("int64", BigInt64Array.from([0n]), []),
    };
    for (let l = 0; l < numLayers; l++) {
      feeds[`past_key_values.${l}.key`] = new ort.Tensor("float32", new Float32Array(0), [1, numKvHeads, 0, headDim]);
      feeds[`past_key_values.${l}.value`] = new ort.Tensor("float32", new Float32Array(0), [1, numKvHeads, 0, headDim]);
    }
    const out = await session.run(feeds);
    return out["logits"]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe("convert: a tiny qwen2 GGUF with Q4_K/Q6_K/Q5_0/Q8_0 blocks (integration)", function () {
  this.timeout(120_000);
  let dir: string;
  let gguf: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "kvlink-qwen2-"));
    gguf = join(dir, "tiny-qwen2.gguf");
    writeTinyQwen2Gguf(gguf);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a qwen2 spec (biases, untied head, rope theta from the header) and keeps q/k rows as stored (NEOX rope, not permuted)", async () => {
    const { weights } = await loadGgufWeights(gguf, { quant: "q4" });
    const { spec } = weights;
    assert.equal(spec.architecture, "qwen2");
    assert.equal(spec.attentionBias, true);
    assert.equal(spec.tieWordEmbeddings, false);
    assert.equal(spec.rope.theta, 1_000_000);
    assert.equal(spec.headDim, TINY_QWEN2.headDim);
    await using file = await GgufFile.open(gguf);
    const q = file.tensors.find((t) => t.name === "blk.0.attn_q.weight")!;
    const stored = dequantize(q.type, await file.readTensorBytes(q), q.numElements);
    assertAllClose(dequantizeLinear(weights.layers[0]!.q), stored, { atol: 1e-6, what: "attn_q rows" });
    assert.equal(weights.layers[0]!.qBias?.length, TINY_QWEN2.heads * TINY_QWEN2.headDim);
    const kinds = [weights.layers[0]!.q, weights.layers[0]!.v, weights.layers[1]!.v, weights.lmHead!].map((w) => (w.kind === "nbits" ? `${w.bits}/${w.blockSize}` : w.kind));
    assert.deepEqual(kinds, ["4/32", "8/16", "8/32", "8/16"]);
  });

  it("converts to a model folder whose ONNX logits equal the float64 reference forward of the dequantized weights (atol 1e-4)", async () => {
    const out = join(dir, "model");
    await convertModel(gguf, out, { signature: "kvlink", quant: "q4" });
    const folder = await readModelFolder(out);
    const { weights } = await loadGgufWeights(gguf, { quant: "q4" });
    assert.deepEqual(folder.spec, weights.spec);
    const ids = [1, 104, 259, 262, 35, 36, 2, 7, 200, 13];
    const logits = await runKvlink(folder.paths.onnxModel, weights, ids);
    const ref = referenceForward(weights, { inputIds: ids, positionIds: ids.map((_, i) => i), mask: causalMask(ids.length) });
    assertAllClose(logits, ref.logits, { atol: 1e-4, what: "logits" });
    const tokenizer = await HfTokenizer.load(out);
    assert.equal(tokenizer.bosTokenId, undefined);
    assert.deepEqual(tokenizer.encode("a1234", { specialTokens: "text" }).length, 5); // qwen2 splits digits one by one
  });
});
