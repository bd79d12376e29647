/**
 * A tiny llama-architecture GGUF for conversion tests: random HF-order weights (kept for comparison), q/k
 * rows permuted the way convert_hf_to_gguf.py does, a byte-level BPE tokenizer (3 control tokens, 256 byte
 * tokens, 5 merges) and a ChatML template in the metadata.
 */
import { mulberry32 } from "./mulberry32.js";
import { encodeF16, encodeF32, quantizeQ4_0, quantizeQ4_1, quantizeQ8_0, writeGguf, type GgufMetaValue, type GgufTensorSpec } from "./ggufWriter.js";

export const GGML = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 8, Q4_K: 12 } as const;

export interface TinyLlamaOptions {
  readonly linearType?: number;
  readonly embedType?: number;
  readonly tied?: boolean;
  readonly seed?: number;
  readonly architecture?: string;
  /** Extra or overriding metadata. */
  readonly metadata?: Readonly<Record<string, GgufMetaValue>>;
  /** Extra tensors appended to the file. */
  readonly extraTensors?: readonly GgufTensorSpec[];
  /** Replace the type id recorded for this tensor (data unchanged) to fake unsupported types. */
  readonly overrideType?: { readonly name: string; readonly type: number };
}

export const TINY = { hidden: 64, heads: 4, kvHeads: 2, headDim: 16, ff: 96, layers: 2, context: 128 } as const;

/** HF-order fp32 weights of the tiny model ([out, in] row-major). */
export interface TinyHfWeights {
  embed: Float32Array;
  lmHead?: Float32Array;
  finalNorm: Float32Array;
  layers: { inputNorm: Float32Array; postNorm: Float32Array; q: Float32Array; k: Float32Array; v: Float32Array; o: Float32Array; gate: Float32Array; up: Float32Array; down: Float32Array }[];
}

export const SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
export const MERGES = ["h e", "l l", "he ll", "hell o", "Ġ w"];
export const CHAT_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
export function byteLevelAlphabet(): string[] {
  const printable = (b: number): boolean => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) out.push(printable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + n++));
  return out;
}

export function tinyVocab(): string[] {
  return [...SPECIAL_TOKENS, ...byteLevelAlphabet(), ...MERGES.map((m) => m.replace(" ", ""))];
}

const rng = mulberry32;

/** convert_hf_to_gguf.py LlamaModel.permute on fp32 rows: GGUF_row[h·hd + 2i + j] = HF_row[h·hd + j·hd/2 + i]. */
export function permuteRowsHfToGguf(w: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const hd = rows / heads, half = hd / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) for (let i = 0; i < half; i++) for (let j = 0; j < 2; j++) {
    out.set(w.subarray((h * hd + j * half + i) * cols, (h * hd + j * half + i + 1) * cols), (h * hd + 2 * i + j) * cols);
  }
  return out;
}

export function encodeAs(type: number, values: Float32Array): Uint8Array {
  switch (type) {
    case GGML.F32: return encodeF32(values);
    case GGML.F16: return encodeF16(values);
    case GGML.Q4_0: return quantizeQ4_0(values);
    case GGML.Q4_1: return quantizeQ4_1(values);
    case GGML.Q8_0: return quantizeQ8_0(values);
    default: throw new Error(`test writer cannot encode type ${type}`);
  }
}

/** Writes the tiny GGUF to `path` and returns the HF-order weights it was made from. */
export function writeTinyLlamaGguf(path: string, options: TinyLlamaOptions = {}): TinyHfWeights {
  const linearType = options.linearType ?? GGML.Q4_1;
  const embedType = options.embedType ?? GGML.Q8_0;
  const tied = options.tied ?? true;
  const rand = rng(options.seed ?? 7);
  const vocab = tinyVocab();
  const V = vocab.length;
  const { hidden: H, heads, kvHeads, headDim, ff, layers: L } = TINY;
  const normal = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  const norm = (): Float32Array => Float32Array.from({ length: H }, () => 0.8 + rand() * 0.4);
  const hf: TinyHfWeights = { embed: normal(V * H, 0.5), finalNorm: norm(), layers: [] };
  if (!tied) hf.lmHead = normal(V * H, 0.2);
  const tensors: GgufTensorSpec[] = [{ name: "token_embd.weight", shape: [H, V], type: embedType, data: encodeAs(embedType, hf.embed) }];
  const lin = (name: string, w: Float32Array, out: number, inp: number): GgufTensorSpec => ({ name, shape: [inp, out], type: linearType, data: encodeAs(linearType, w) });
  for (let l = 0; l < L; l++) {
    const layer = {
      inputNorm: norm(), postNorm: norm(),
      q: normal(heads * headDim * H, 0.2), k: normal(kvHeads * headDim * H, 0.2), v: normal(kvHeads * headDim * H, 0.2),
      o: normal(H * heads * headDim, 0.2), gate: normal(ff * H, 0.2), up: normal(ff * H, 0.2), down: normal(H * ff, 0.2),
    };
    hf.layers.push(layer);
    const p = `blk.${l}.`;
    tensors.push(
      { name: `${p}attn_norm.weight`, shape: [H], type: GGML.F32, data: encodeF32(layer.inputNorm) },
      lin(`${p}attn_q.weight`, permuteRowsHfToGguf(layer.q, heads * headDim, H, heads), heads * headDim, H),
      lin(`${p}attn_k.weight`, permuteRowsHfToGguf(layer.k, kvHeads * headDim, H, kvHeads), kvHeads * headDim, H),
      lin(`${p}attn_v.weight`, layer.v, kvHeads * headDim, H),
      lin(`${p}attn_output.weight`, layer.o, H, heads * headDim),
      { name: `${p}ffn_norm.weight`, shape: [H], type: GGML.F32, data: encodeF32(layer.postNorm) },
      lin(`${p}ffn_gate.weight`, layer.gate, ff, H),
      lin(`${p}ffn_up.weight`, layer.up, ff, H),
      lin(`${p}ffn_down.weight`, layer.down, H, ff),
    );
  }
  tensors.push({ name: "output_norm.weight", shape: [H], type: GGML.F32, data: encodeF32(hf.finalNorm) });
  if (hf.lmHead) tensors.push({ name: "output.weight", shape: [H, V], type: linearType, data: encodeAs(linearType, hf.lmHead) });
  tensors.push(...(options.extraTensors ?? []));
  const finalTensors = tensors.map((t) => (options.overrideType?.name === t.name ? { ...t, type: options.overrideType.type } : t));
  const arch = options.architecture ?? "llama";
  writeGguf(path, {
    metadata: {
      "general.architecture": arch,
      "general.name": "tiny",
      [`${arch}.block_count`]: L,
      [`${arch}.context_length`]: TINY.context,
      [`${arch}.embedding_length`]: H,
      [`${arch}.feed_forward_length`]: ff,
      [`${arch}.attention.head_count`]: heads,
      [`${arch}.attention.head_count_kv`]: kvHeads,
      [`${arch}.rope.freq_base`]: { f32: 10000 },
      [`${arch}.attention.layer_norm_rms_epsilon`]: { f32: 1e-5 },
      [`${arch}.vocab_size`]: V,
      [`${arch}.rope.dimension_count`]: headDim,
      "tokenizer.ggml.model": "gpt2",
      "tokenizer.ggml.pre": "smollm",
      "tokenizer.ggml.tokens": vocab,
      "tokenizer.ggml.token_type": vocab.map((_, i) => (i < SPECIAL_TOKENS.length ? 3 : 1)),
      "tokenizer.ggml.merges": MERGES,
      "tokenizer.ggml.bos_token_id": 1,
      "tokenizer.ggml.eos_token_id": 2,
      "tokenizer.ggml.unknown_token_id": 0,
      "tokenizer.ggml.padding_token_id": 2,
      "tokenizer.ggml.add_bos_token": false,
      "tokenizer.chat_template": CHAT_TEMPLATE,
      ...options.metadata,
    },
    tensors: finalTensors,
  });
  return hf;
}
