/** Writes synthetic Hugging Face checkpoints (config.json + safetensors, optionally sharded) for tests. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { f32ToF16Bits } from "../../../support/ggufWriter.js";

export type StDtype = "F32" | "F16" | "BF16";

/** Rounds values to what `dtype` can hold, so fp32 conversion must reproduce them exactly. */
export function representable(values: Float32Array, dtype: StDtype): Float32Array {
  if (dtype === "F32") return values;
  const out = new Float32Array(values.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < values.length; i++) {
    if (dtype === "BF16") {
      out[i] = values[i]!;
      u[i] = u[i]! & 0xffff0000;
    } else {
      const h = f32ToF16Bits(values[i]!);
      const e = (h >> 10) & 31, f = h & 1023, s = h & 0x8000 ? -1 : 1;
      out[i] = e === 0 ? s * f * 2 ** -24 : s * (1 + f / 1024) * 2 ** (e - 15);
    }
  }
  return out;
}

function encode(values: Float32Array, dtype: StDtype): Buffer {
  if (dtype === "F32") return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const out = Buffer.alloc(values.length * 2);
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) out.writeUInt16LE(dtype === "BF16" ? u[i]! >>> 16 : f32ToF16Bits(values[i]!), i * 2);
  return out;
}

export function encodeSafetensors(
  tensors: Record<string, { shape: number[]; data: Float32Array; dtype: StDtype }>,
  metadata: Readonly<Record<string, string>> = {},
): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: "pt", ...metadata } };
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = encode(t.data, t.dtype);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...parts]);
}

export interface TinyHfCheckpoint {
  readonly config: Record<string, unknown>;
  readonly tensors: Record<string, { shape: number[]; data: Float32Array; dtype: StDtype }>;
}

/** A tiny Llama (or Qwen2 with q/k/v biases) checkpoint with values representable in `dtype`. */
export function tinyHfCheckpoint(options: { dtype: StDtype; qwen2?: boolean; tied?: boolean; seed?: number }): TinyHfCheckpoint {
  let s = options.seed ?? 3;
  const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const H = 64, heads = 4, kv = 2, hd = 16, ff = 96, L = 2, V = 80;
  const tied = options.tied ?? true;
  const t = (shape: number[], scale = 0.2, offset = 0) => ({
    shape,
    dtype: options.dtype,
    data: representable(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => offset + rand() * scale), options.dtype),
  });
  const tensors: TinyHfCheckpoint["tensors"] = { "model.embed_tokens.weight": t([V, H], 0.5), "model.norm.weight": t([H], 0.1, 1) };
  if (!tied) tensors["lm_head.weight"] = t([V, H]);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    Object.assign(tensors, {
      [`${p}input_layernorm.weight`]: t([H], 0.1, 1),
      [`${p}post_attention_layernorm.weight`]: t([H], 0.1, 1),
      [`${p}self_attn.q_proj.weight`]: t([heads * hd, H]),
      [`${p}self_attn.k_proj.weight`]: t([kv * hd, H]),
      [`${p}self_attn.v_proj.weight`]: t([kv * hd, H]),
      [`${p}self_attn.o_proj.weight`]: t([H, heads * hd]),
      [`${p}mlp.gate_proj.weight`]: t([ff, H]),
      [`${p}mlp.up_proj.weight`]: t([ff, H]),
      [`${p}mlp.down_proj.weight`]: t([H, ff]),
    });
    if (options.qwen2) {
      Object.assign(tensors, {
        [`${p}self_attn.q_proj.bias`]: t([heads * hd]),
        [`${p}self_attn.k_proj.bias`]: t([kv * hd]),
        [`${p}self_attn.v_proj.bias`]: t([kv * hd]),
      });
    }
  }
  const config = {
    architectures: [options.qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
    model_type: options.qwen2 ? "qwen2" : "llama",
    vocab_size: V, hidden_size: H, intermediate_size: ff, num_hidden_layers: L, num_attention_heads: heads,
    num_key_value_heads: kv, rms_norm_eps: 1e-6, max_position_embeddings: 256, rope_theta: 10000,
    tie_word_embeddings: tied, hidden_act: "silu", bos_token_id: 1, eos_token_id: 2,
  };
  return { config, tensors };
}

/** Writes `ckpt` into `dir` as one file, or as `shards` files plus model.safetensors.index.json. */
export function writeHfCheckpoint(dir: string, ckpt: TinyHfCheckpoint, shards = 1): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify(ckpt.config));
  const names = Object.keys(ckpt.tensors);
  if (shards === 1) {
    writeFileSync(join(dir, "model.safetensors"), encodeSafetensors(ckpt.tensors));
    return;
  }
  const weightMap: Record<string, string> = {};
  for (let k = 0; k < shards; k++) {
    const file = `model-${String(k + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
    const part = Object.fromEntries(names.filter((_, i) => i % shards === k).map((n) => [n, ckpt.tensors[n]!]));
    for (const n of Object.keys(part)) weightMap[n] = file;
    writeFileSync(join(dir, file), encodeSafetensors(part));
  }
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
}
