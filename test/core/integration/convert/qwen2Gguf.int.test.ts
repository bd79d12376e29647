import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { convertModel, FP32_ACTIVATION_KERNELS } from "../../../../packages/core/src/convert/convertModel.js";
import { loadGgufWeights } from "../../../../packages/core/src/convert/loadGgufWeights.js";
import { dequantize } from "../../../../packages/core/src/gguf/dequantize.js";
import { GgufFile } from "../../../../packages/core/src/gguf/GgufFile.js";
import { dequantizeLinear } from "../../../../packages/core/src/model/ModelWeights.js";
import { readModelFolder } from "../../../../packages/core/src/model/modelFolder.js";
import { HfTokenizer } from "../../../../packages/core/src/tokenizer/HfTokenizer.js";
import { assertAllClose } from "../../../support/assertAllClose.js";
import { TINY_QWEN2, writeTinyQwen2Gguf } from "../../../support/ggufTinyQwen2.js";
import { causalMask, referenceForward } from "../../../support/referenceForward.js";
import { runKvlink } from "../../../support/runKvlinkPrefill.js";

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
    await convertModel(gguf, out, { signature: "kvlink", quant: "q4", graph: FP32_ACTIVATION_KERNELS });
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
