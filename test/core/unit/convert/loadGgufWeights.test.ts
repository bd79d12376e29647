import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { loadGgufWeights } from "../../../../packages/core/src/convert/loadGgufWeights.js";
import { unpermuteQkRows } from "../../../../packages/core/src/convert/unpermuteQkRows.js";
import { ModelFormatError, UnsupportedModelError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { dequantize } from "../../../../packages/core/src/gguf/dequantize.js";
import { dequantizeLinear } from "../../../../packages/core/src/model/ModelWeights.js";
import { computeInvFreq } from "../../../../packages/core/src/rope/computeInvFreq.js";
import { encodeF32 } from "../../../support/ggufWriter.js";
import { encodeAs, GGML, permuteRowsHfToGguf, TINY, tinyVocab, writeTinyLlamaGguf } from "../../../support/ggufTinyLlama.js";

describe("convert/loadGgufWeights", () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "kvlink-ggufw-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const V = tinyVocab().length;

  it("reads the spec from the header, un-permutes q/k exactly (F32) and keeps norms", async () => {
    const path = join(dir, "f32.gguf");
    const hf = writeTinyLlamaGguf(path, { linearType: GGML.F32, embedType: GGML.F32 });
    const { weights } = await loadGgufWeights(path, { quant: "fp32" });
    const requantized = await loadGgufWeights(path, { quant: "q4" });
    assert.equal(requantized.weights.layers[0]!.q.kind, "nbits", "q4 re-quantizes types without a lossless mapping");
    assert.deepEqual(weights.spec, {
      architecture: "llama", vocabSize: V, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16,
      rmsNormEps: 1e-5, maxPositionEmbeddings: 128, rope: { theta: 10000, rotaryDim: 16 }, tieWordEmbeddings: true, attentionBias: false,
    });
    for (let l = 0; l < TINY.layers; l++) {
      const got = weights.layers[l]!, want = hf.layers[l]!;
      assert.deepEqual([...dequantizeLinear(got.q)], [...want.q], `layer ${l} q`);
      assert.deepEqual([...dequantizeLinear(got.k)], [...want.k], `layer ${l} k`);
      assert.deepEqual([...dequantizeLinear(got.down)], [...want.down]);
      assert.deepEqual([...got.inputNorm], [...want.inputNorm]);
    }
    assert.deepEqual([...weights.embedTokens], [...hf.embed]);
    assert.equal(weights.tiedHead, undefined, "an F32 embedding has no lossless quantized head");
  });

  it("quant q4: Q4_1 linears and a Q8_0 tied head become nbits equal to the un-permuted GGUF blocks", async () => {
    const path = join(dir, "q41.gguf");
    const hf = writeTinyLlamaGguf(path, { linearType: GGML.Q4_1, embedType: GGML.Q8_0 });
    const { weights } = await loadGgufWeights(path, { quant: "q4" });
    const H = TINY.hidden, qRows = TINY.heads * TINY.headDim;
    const qGguf = encodeAs(GGML.Q4_1, permuteRowsHfToGguf(hf.layers[0]!.q, qRows, H, TINY.heads));
    const expectedQ = dequantize(GGML.Q4_1, unpermuteQkRows(qGguf, qRows, TINY.heads), qRows * H);
    const q = weights.layers[0]!.q;
    assert.ok(q.kind === "nbits" && q.bits === 4);
    const gotQ = dequantizeLinear(q);
    for (let i = 0; i < gotQ.length; i++) assert.ok(Math.abs(gotQ[i]! - expectedQ[i]!) <= 1e-6, `q[${i}]`);
    // and the un-permuted quantized q is close to the HF original (quantization error only)
    for (let i = 0; i < gotQ.length; i++) assert.ok(Math.abs(gotQ[i]! - hf.layers[0]!.q[i]!) < 0.03, `q[${i}] vs HF`);
    const head = weights.tiedHead;
    assert.ok(head?.kind === "nbits" && head.bits === 8 && head.outFeatures === V && head.inFeatures === H);
    assert.deepEqual(dequantizeLinear(head), weights.embedTokens);
    const fp32 = await loadGgufWeights(path, { quant: "fp32" });
    assert.equal(fp32.weights.layers[1]!.gate.kind, "f32");
    assert.equal(fp32.weights.tiedHead, undefined);
  });

  it("an untied model gets lmHead from output.weight", async () => {
    const path = join(dir, "untied.gguf");
    const hf = writeTinyLlamaGguf(path, { linearType: GGML.F16, tied: false });
    const { weights } = await loadGgufWeights(path, { quant: "fp32" });
    assert.equal(weights.spec.tieWordEmbeddings, false);
    assert.equal(weights.lmHead?.outFeatures, V);
    const head = dequantizeLinear(weights.lmHead!);
    for (let i = 0; i < head.length; i++) assert.ok(Math.abs(head[i]! - hf.lmHead![i]!) < 1e-3);
  });

  it("rebuilds a tokenizer that loads in @huggingface/tokenizers, splits digits and keeps control tokens", async () => {
    const path = join(dir, "tok.gguf");
    writeTinyLlamaGguf(path);
    const { tokenizerJson, tokenizerConfig, generationConfig } = await loadGgufWeights(path, { quant: "fp32" });
    const tok = new Tokenizer(tokenizerJson, tokenizerConfig);
    const enc = tok.encode("hello world 123");
    assert.deepEqual(enc.tokens, ["hello", "Ġw", "o", "r", "l", "d", "Ġ", "1", "2", "3"]);
    assert.deepEqual(tok.encode("<|im_start|>hello<|im_end|>").ids, [1, V - 2, 2]);
    assert.equal(tok.decode(enc.ids), "hello world 123");
    assert.equal(tokenizerConfig["eos_token"], "<|im_end|>");
    assert.equal(tokenizerConfig["bos_token"], "<|im_start|>");
    assert.equal(tokenizerConfig["add_bos_token"], false);
    assert.equal(typeof tokenizerConfig["chat_template"], "string");
    assert.deepEqual(generationConfig, { bos_token_id: 1, eos_token_id: 2, pad_token_id: 2 });
  });

  it("recovers Llama-3 RoPE scaling from rope_freqs.weight", async () => {
    const theta = 500000, dim = TINY.headDim;
    const base = computeInvFreq({ theta, rotaryDim: dim });
    const spec = { theta, rotaryDim: dim, scaling: { type: "llama3" as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } };
    const scaled = computeInvFreq(spec);
    const divisors = Array.from(base, (b, i) => b / scaled[i]!);
    assert.ok(divisors.some((d) => d > 1.01 && d < 7.99), "the test frequencies include the interpolated band");
    const path = join(dir, "llama3.gguf");
    writeTinyLlamaGguf(path, {
      metadata: { "llama.rope.freq_base": { f32: theta } },
      extraTensors: [{ name: "rope_freqs.weight", shape: [dim / 2], type: GGML.F32, data: encodeF32(divisors) }],
    });
    const { weights } = await loadGgufWeights(path, { quant: "fp32" });
    assert.deepEqual(weights.spec.rope, spec);
  });

  it("refuses other architectures, unknown tensors and undecodable tensor types with UnsupportedModelError", async () => {
    const arch = join(dir, "gemma.gguf");
    writeTinyLlamaGguf(arch, { architecture: "gemma3" });
    await assert.rejects(loadGgufWeights(arch, { quant: "q4" }), UnsupportedModelError);
    const extra = join(dir, "extra.gguf");
    writeTinyLlamaGguf(extra, { extraTensors: [{ name: "blk.0.attn_q_norm.weight", shape: [16], type: GGML.F32, data: encodeF32(new Array(16).fill(1)) }] });
    await assert.rejects(loadGgufWeights(extra, { quant: "q4" }), UnsupportedModelError);
    const iq = join(dir, "iq4nl.gguf");
    // IQ4_NL (20) has Q4_0's block size, so the Q4_0 bytes pass the size check but cannot be decoded.
    writeTinyLlamaGguf(iq, { linearType: GGML.Q4_0, overrideType: { name: "blk.1.attn_v.weight", type: 20 } });
    await assert.rejects(loadGgufWeights(iq, { quant: "q4" }), UnsupportedModelError);
  });

  it("a truncated file or a wrong tensor shape is a ModelFormatError", async () => {
    const path = join(dir, "trunc.gguf");
    writeTinyLlamaGguf(path);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 200));
    await assert.rejects(loadGgufWeights(path, { quant: "q4" }), ModelFormatError);
    const shape = join(dir, "shape.gguf");
    writeTinyLlamaGguf(shape, { metadata: { "llama.feed_forward_length": 128 } });
    await assert.rejects(loadGgufWeights(shape, { quant: "q4" }), ModelFormatError);
  });
});
