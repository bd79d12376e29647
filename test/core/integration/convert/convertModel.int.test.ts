import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { convertModel, FP32_ACTIVATION_KERNELS, type ConvertProgress } from "../../../../packages/core/src/convert/convertModel.js";
import { loadGgufWeights } from "../../../../packages/core/src/convert/loadGgufWeights.js";
import { loadSafetensorsWeights } from "../../../../packages/core/src/convert/loadSafetensorsWeights.js";
import { ModelLoadError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { readModelFolder } from "../../../../packages/core/src/model/modelFolder.js";
import { assertAllClose } from "../../../support/assertAllClose.js";
import { GGML, writeTinyLlamaGguf } from "../../../support/ggufTinyLlama.js";
import { causalMask, referenceForward } from "../../../support/referenceForward.js";
import { runKvlink } from "../../../support/runKvlinkPrefill.js";
import { tinyHfCheckpoint, writeHfCheckpoint } from "../../unit/convert/safetensorsFixture.js";

describe("convert/convertModel (integration)", function () {
  this.timeout(120_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "kvlink-convert-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const ids = [1, 104, 259, 262, 35, 36, 2, 7];

  for (const linearType of [GGML.Q4_1, GGML.Q4_0]) {
    it(`a tiny ${linearType === GGML.Q4_1 ? "Q4_1" : "Q4_0"} GGUF becomes a model folder whose ONNX logits match the reference forward (fp32 activations, atol 1e-4)`, async () => {
      const gguf = join(dir, `tiny-${linearType}.gguf`);
      writeTinyLlamaGguf(gguf, { linearType });
      const out = join(dir, `out-${linearType}`);
      const phases = new Set<string>();
      await convertModel(gguf, out, {
        signature: "kvlink",
        quant: "q4",
        graph: FP32_ACTIVATION_KERNELS,
        onProgress: (p: ConvertProgress) => { phases.add(p.phase); throw new Error("ignored"); },
      });
      assert.deepEqual([...phases], ["convert", "write"]);
      const folder = await readModelFolder(out);
      const { weights } = await loadGgufWeights(gguf, { quant: "q4" });
      assert.deepEqual(folder.spec, weights.spec);
      const logits = await runKvlink(folder.paths.onnxModel, weights, ids);
      const ref = referenceForward(weights, { inputIds: ids, positionIds: ids.map((_, i) => i), mask: causalMask(ids.length) });
      assertAllClose(logits, ref.logits, { atol: 1e-4, what: "logits" });
    });
  }

  it("q4 by default builds int8-activation MatMulNBits (accuracy_level 4) and a quantized head, close to the reference", async () => {
    const gguf = join(dir, "tiny-default-kernels.gguf");
    writeTinyLlamaGguf(gguf, { linearType: GGML.Q4_1 });
    const out = join(dir, "out-default-kernels");
    await convertModel(gguf, out, { signature: "kvlink", quant: "q4" });
    const folder = await readModelFolder(out);
    const graph = readFileSync(folder.paths.onnxModel);
    assert.ok(graph.includes(Buffer.from("accuracy_level")), "MatMulNBits nodes carry accuracy_level");
    const { weights } = await loadGgufWeights(gguf, { quant: "q4" });
    const logits = await runKvlink(folder.paths.onnxModel, weights, ids);
    const ref = referenceForward(weights, { inputIds: ids, positionIds: ids.map((_, i) => i), mask: causalMask(ids.length) });
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < ref.logits.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(logits[i]! - ref.logits[i]!));
      maxRef = Math.max(maxRef, Math.abs(ref.logits[i]!));
    }
    assert.ok(maxDiff > 0, "int8 activations change the logits (the option took effect)");
    assert.ok(maxDiff <= 0.05 * maxRef, `max |Δlogit| ${maxDiff} vs max |logit| ${maxRef}`);
  });

  it("a Hugging Face checkpoint folder converts the same way (BF16, 2 shards, untied, fp32)", async () => {
    const hfDir = join(dir, "hf");
    writeHfCheckpoint(hfDir, tinyHfCheckpoint({ dtype: "BF16", tied: false }), 2);
    // Tokenizer files from the tiny GGUF's rebuild (the vocab is larger than the checkpoint's 80 rows; fine here).
    const gguf = join(dir, "tok.gguf");
    writeTinyLlamaGguf(gguf);
    const tok = await loadGgufWeights(gguf, { quant: "fp32" });
    await assert.rejects(convertModel(hfDir, join(dir, "hf-out-fail"), { signature: "kvlink", quant: "fp32" }), ModelLoadError);
    writeFileSync(join(hfDir, "tokenizer.json"), JSON.stringify(tok.tokenizerJson));
    writeFileSync(join(hfDir, "tokenizer_config.json"), JSON.stringify(tok.tokenizerConfig));
    const out = join(dir, "hf-out");
    await convertModel(hfDir, out, { signature: "kvlink", quant: "fp32" });
    const folder = await readModelFolder(out);
    assert.equal(folder.generationConfig.eos_token_id, 2, "bos/eos ids come from config.json when generation_config.json is absent");
    const { weights } = await loadSafetensorsWeights(hfDir, { quant: "fp32" });
    const hfIds = [1, 5, 9, 79, 2];
    const logits = await runKvlink(folder.paths.onnxModel, weights, hfIds);
    const ref = referenceForward(weights, { inputIds: hfIds, positionIds: hfIds.map((_, i) => i), mask: causalMask(hfIds.length) });
    assertAllClose(logits, ref.logits, { atol: 1e-4, what: "logits" });
    assert.ok(readFileSync(join(out, "tokenizer.json")).length > 1000);
  });

  it("a missing input is ModelLoadError", async () => {
    await assert.rejects(convertModel(join(dir, "nope.gguf"), join(dir, "x"), { signature: "kvlink", quant: "q4" }), ModelLoadError);
  });
});
