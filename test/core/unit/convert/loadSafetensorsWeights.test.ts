import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSafetensorsWeights } from "../../../../packages/core/src/convert/loadSafetensorsWeights.js";
import { SafetensorsFile } from "../../../../packages/core/src/convert/SafetensorsFile.js";
import { ModelFormatError, UnsupportedModelError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { dequantizeLinear } from "../../../../packages/core/src/model/ModelWeights.js";
import { tinyHfCheckpoint, writeHfCheckpoint, type StDtype } from "./safetensorsFixture.js";

describe("convert/loadSafetensorsWeights", () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "kvlink-st-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [dtype, shards] of [["BF16", 1], ["F16", 3], ["F32", 2]] as [StDtype, number][]) {
    it(`reads a ${dtype} checkpoint in ${shards} file(s) exactly with quant fp32`, async () => {
      const ckpt = tinyHfCheckpoint({ dtype });
      const d = join(dir, `${dtype}-${shards}`);
      writeHfCheckpoint(d, ckpt, shards);
      let last = 0;
      const { weights } = await loadSafetensorsWeights(d, { quant: "fp32", onTensor: (done, total) => { last = done; assert.equal(total, 2 + 2 * 9); } });
      assert.equal(last, 20);
      assert.equal(weights.spec.vocabSize, 80);
      assert.equal(weights.spec.tieWordEmbeddings, true);
      assert.deepEqual([...weights.embedTokens], [...ckpt.tensors["model.embed_tokens.weight"]!.data]);
      assert.deepEqual([...dequantizeLinear(weights.layers[1]!.k)], [...ckpt.tensors["model.layers.1.self_attn.k_proj.weight"]!.data]);
      assert.deepEqual([...weights.layers[0]!.postAttentionNorm], [...ckpt.tensors["model.layers.0.post_attention_layernorm.weight"]!.data]);
      assert.deepEqual([...weights.finalNorm], [...ckpt.tensors["model.norm.weight"]!.data]);
      assert.equal(weights.lmHead, undefined);
      assert.equal(weights.tiedHead, undefined);
    });
  }

  it("Qwen2 with biases and an untied head; quant q4 gives 4-bit linears and head close to the originals", async () => {
    const ckpt = tinyHfCheckpoint({ dtype: "BF16", qwen2: true, tied: false });
    const d = join(dir, "qwen2");
    writeHfCheckpoint(d, ckpt);
    const { weights } = await loadSafetensorsWeights(d, { quant: "q4" });
    assert.equal(weights.spec.architecture, "qwen2");
    assert.equal(weights.spec.attentionBias, true);
    assert.deepEqual([...weights.layers[1]!.vBias!], [...ckpt.tensors["model.layers.1.self_attn.v_proj.bias"]!.data]);
    const gate = weights.layers[0]!.gate;
    assert.ok(gate.kind === "nbits" && gate.bits === 4);
    const orig = ckpt.tensors["model.layers.0.mlp.gate_proj.weight"]!.data;
    const deq = dequantizeLinear(gate);
    for (let i = 0; i < orig.length; i++) assert.ok(Math.abs(deq[i]! - orig[i]!) <= 0.4 / 15 / 2 + 1e-6, `gate[${i}]`);
    assert.ok(weights.lmHead?.kind === "nbits");
  });

  it("tied + q4 carries an 8-bit tiedHead", async () => {
    const d = join(dir, "tied-q4");
    writeHfCheckpoint(d, tinyHfCheckpoint({ dtype: "F32" }));
    const { weights } = await loadSafetensorsWeights(d, { quant: "q4" });
    assert.ok(weights.tiedHead?.kind === "nbits" && weights.tiedHead.bits === 8);
  });

  it("truncated data, a missing tensor and unsupported architectures are typed errors", async () => {
    const d = join(dir, "bad");
    const ckpt = tinyHfCheckpoint({ dtype: "F32" });
    writeHfCheckpoint(d, ckpt);
    const file = join(d, "model.safetensors");
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 10));
    await assert.rejects(SafetensorsFile.open(file), ModelFormatError);
    await assert.rejects(loadSafetensorsWeights(d, { quant: "fp32" }), ModelFormatError);
    const { ["model.norm.weight"]: _dropped, ...rest } = ckpt.tensors;
    writeHfCheckpoint(d, { config: ckpt.config, tensors: rest });
    await assert.rejects(loadSafetensorsWeights(d, { quant: "fp32" }), ModelFormatError);
    writeHfCheckpoint(d, { config: { ...ckpt.config, architectures: ["GemmaForCausalLM"], model_type: "gemma" }, tensors: ckpt.tensors });
    await assert.rejects(loadSafetensorsWeights(d, { quant: "fp32" }), UnsupportedModelError);
    writeFileSync(file, Buffer.from([1, 2, 3]));
    await assert.rejects(SafetensorsFile.open(file), ModelFormatError);
  });
});
