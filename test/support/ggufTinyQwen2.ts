/**
 * A tiny qwen2-architecture GGUF with the block types of Qwen2.5 Q4_K_M files: hidden 256 (k-quants need
 * rows of 256), Q4_K q/k/o/gate/up, Q6_K v/down/output (untied), Q5_0 and Q8_0 on layer 1's v and gate
 * (llama.cpp's fallbacks), F32 norms and q/k/v biases, and the "qwen2" pre-tokenizer. Block bytes are random
 * with d (and dmin) set to small fp16 values, which covers every q, scale and min bit pattern, sc = 0 included.
 */
import { mulberry32 } from "./mulberry32.js";
import { CHAT_TEMPLATE, MERGES, SPECIAL_TOKENS, tinyVocab } from "./ggufTinyLlama.js";
import { encodeF32, writeGguf, type GgufTensorSpec } from "./ggufWriter.js";

export const GGML_Q = { F32: 0, Q5_0: 6, Q8_0: 8, Q4_K: 12, Q6_K: 14 } as const;
export const TINY_QWEN2 = { hidden: 256, heads: 4, kvHeads: 2, headDim: 64, ff: 512, layers: 2, context: 256 } as const;

const rng = mulberry32;

/** Random blocks of `type` for `numElements` values, with each fp16 d/dmin field set to 2^(e−15)·(1 + m/1024). */
export function randomBlocks(type: number, numElements: number, rand: () => number): Uint8Array {
  const layout: Record<number, [number, number, number[], number]> = {
    // [block elements, block bytes, fp16 field offsets, fp16 exponent field]
    [GGML_Q.Q4_K]: [256, 144, [0, 2], 3],
    [GGML_Q.Q6_K]: [256, 210, [208], 1],
    [GGML_Q.Q5_0]: [32, 22, [0], 9],
    [GGML_Q.Q8_0]: [32, 34, [0], 8],
  };
  const [blk, bytes, fields, exp] = layout[type]!;
  const n = numElements / blk;
  const out = new Uint8Array(n * bytes);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rand() * 256);
  for (let b = 0; b < n; b++) {
    for (const f of fields) {
      const bits = (exp << 10) | Math.floor(rand() * 1024);
      out[b * bytes + f] = bits & 0xff;
      out[b * bytes + f + 1] = bits >> 8;
    }
  }
  return out;
}

/** Writes the tiny qwen2 GGUF to `path`. */
export function writeTinyQwen2Gguf(path: string, options: { readonly seed?: number } = {}): void {
  const rand = rng(options.seed ?? 11);
  const vocab = tinyVocab();
  const V = vocab.length;
  const { hidden: H, heads, kvHeads, headDim, ff, layers: L } = TINY_QWEN2;
  const f32 = (n: number, base: number, spread: number): Uint8Array => encodeF32(Float32Array.from({ length: n }, () => base + (rand() * 2 - 1) * spread));
  const mat = (name: string, type: number, out: number, inp: number): GgufTensorSpec => ({ name, shape: [inp, out], type, data: randomBlocks(type, out * inp, rand) });
  const tensors: GgufTensorSpec[] = [mat("token_embd.weight", GGML_Q.Q4_K, V, H)];
  for (let l = 0; l < L; l++) {
    const p = `blk.${l}.`;
    tensors.push(
      { name: `${p}attn_norm.weight`, shape: [H], type: GGML_Q.F32, data: f32(H, 1, 0.2) },
      mat(`${p}attn_q.weight`, GGML_Q.Q4_K, heads * headDim, H),
      { name: `${p}attn_q.bias`, shape: [heads * headDim], type: GGML_Q.F32, data: f32(heads * headDim, 0, 0.5) },
      mat(`${p}attn_k.weight`, GGML_Q.Q4_K, kvHeads * headDim, H),
      { name: `${p}attn_k.bias`, shape: [kvHeads * headDim], type: GGML_Q.F32, data: f32(kvHeads * headDim, 0, 0.5) },
      mat(`${p}attn_v.weight`, l === 1 ? GGML_Q.Q5_0 : GGML_Q.Q6_K, kvHeads * headDim, H),
      { name: `${p}attn_v.bias`, shape: [kvHeads * headDim], type: GGML_Q.F32, data: f32(kvHeads * headDim, 0, 0.5) },
      mat(`${p}attn_output.weight`, GGML_Q.Q4_K, H, heads * headDim),
      { name: `${p}ffn_norm.weight`, shape: [H], type: GGML_Q.F32, data: f32(H, 1, 0.2) },
      mat(`${p}ffn_gate.weight`, l === 1 ? GGML_Q.Q8_0 : GGML_Q.Q4_K, ff, H),
      mat(`${p}ffn_up.weight`, GGML_Q.Q4_K, ff, H),
      mat(`${p}ffn_down.weight`, GGML_Q.Q6_K, H, ff),
    );
  }
  tensors.push({ name: "output_norm.weight", shape: [H], type: GGML_Q.F32, data: f32(H, 1, 0.2) });
  tensors.push(mat("output.weight", GGML_Q.Q6_K, V, H));
  writeGguf(path, {
    metadata: {
      "general.architecture": "qwen2",
      "general.name": "tiny-qwen2",
      "qwen2.block_count": L,
      "qwen2.context_length": TINY_QWEN2.context,
      "qwen2.embedding_length": H,
      "qwen2.feed_forward_length": ff,
      "qwen2.attention.head_count": heads,
      "qwen2.attention.head_count_kv": kvHeads,
      "qwen2.rope.freq_base": { f32: 1_000_000 },
      "qwen2.attention.layer_norm_rms_epsilon": { f32: 1e-6 },
      "tokenizer.ggml.model": "gpt2",
      "tokenizer.ggml.pre": "qwen2",
      "tokenizer.ggml.tokens": vocab,
      "tokenizer.ggml.token_type": vocab.map((_, i) => (i < SPECIAL_TOKENS.length ? 3 : 1)),
      "tokenizer.ggml.merges": MERGES,
      "tokenizer.ggml.eos_token_id": 2,
      "tokenizer.ggml.padding_token_id": 0,
      "tokenizer.ggml.add_bos_token": false,
      "tokenizer.chat_template": CHAT_TEMPLATE,
    },
    tensors,
  });
}
