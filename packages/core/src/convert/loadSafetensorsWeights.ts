import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { ModelFormatError, ModelLoadError } from "../errors/KvLinkError.js";
import { hfConfigToSpec } from "../model/hfConfig.js";
import type { ModelSpec } from "../model/ModelSpec.js";
import type { LayerWeights, LinearWeight, ModelWeights } from "../model/ModelWeights.js";
import { quantizeLinear } from "../model/quantizeLinear.js";
import type { ConvertQuant } from "./ggufTensorToLinear.js";
import { SafetensorsFile } from "./SafetensorsFile.js";

export interface LoadSafetensorsWeightsOptions {
  readonly quant: ConvertQuant;
  readonly onTensor?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

export interface LoadedHfModel {
  readonly weights: ModelWeights;
  /** config.json as read. */
  readonly config: Record<string, unknown>;
}

/**
 * Reads a Hugging Face Llama-family checkpoint folder (config.json + model.safetensors, or shards listed in
 * model.safetensors.index.json; F32/F16/BF16) into ModelWeights, one tensor at a time so peak memory stays
 * near the converted result. With quant "q4", the seven linear layers (and an untied head) are quantized
 * to 4 bits with quantizeLinear; a tied head gets an 8-bit `tiedHead` copy. "fp32" keeps everything fp32.
 */
export async function loadSafetensorsWeights(hfDir: string, options: LoadSafetensorsWeightsOptions): Promise<LoadedHfModel> {
  const { quant, signal } = options;
  const configPath = join(hfDir, "config.json");
  const config = await readJson(configPath);
  const spec = hfConfigToSpec(config, configPath);
  const shardFiles = await listShards(hfDir);
  const shards: SafetensorsFile[] = [];
  try {
    for (const f of shardFiles) shards.push(await SafetensorsFile.open(join(hfDir, f)));
    const where = new Map<string, SafetensorsFile>();
    for (const s of shards) for (const name of s.tensors.keys()) where.set(name, s);

    const expected = expectedTensorNames(spec);
    const total = expected.length;
    let done = 0;
    const read = async (name: string, shape: readonly number[]): Promise<Float32Array> => {
      signal?.throwIfAborted();
      const file = where.get(name);
      if (!file) throw new ModelFormatError(`${hfDir}: tensor ${name} is in no safetensors file`, { details: { dir: hfDir, tensor: name } });
      const info = file.tensors.get(name)!;
      if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
        throw new ModelFormatError(`${file.path}: tensor ${name} has shape [${info.shape.join(", ")}], expected [${shape.join(", ")}]`, {
          details: { path: file.path, tensor: name, shape: info.shape, expected: shape },
        });
      }
      const data = await file.readF32(name);
      options.onTensor?.(++done, total);
      return data;
    };
    const linear = async (name: string, out: number, inp: number): Promise<LinearWeight> => {
      const data = await read(name, [out, inp]);
      return quant === "q4" ? quantizeLinear(data, out, inp, { bits: 4 }) : { kind: "f32", outFeatures: out, inFeatures: inp, data };
    };

    const { hiddenSize: h, intermediateSize: ff, numHeads, numKvHeads, headDim, vocabSize } = spec;
    const embedTokens = await read("model.embed_tokens.weight", [vocabSize, h]);
    const layers: LayerWeights[] = [];
    for (let i = 0; i < spec.numLayers; i++) {
      const p = `model.layers.${i}.`;
      const layer: LayerWeights = {
        inputNorm: await read(`${p}input_layernorm.weight`, [h]),
        q: await linear(`${p}self_attn.q_proj.weight`, numHeads * headDim, h),
        k: await linear(`${p}self_attn.k_proj.weight`, numKvHeads * headDim, h),
        v: await linear(`${p}self_attn.v_proj.weight`, numKvHeads * headDim, h),
        o: await linear(`${p}self_attn.o_proj.weight`, h, numHeads * headDim),
        postAttentionNorm: await read(`${p}post_attention_layernorm.weight`, [h]),
        gate: await linear(`${p}mlp.gate_proj.weight`, ff, h),
        up: await linear(`${p}mlp.up_proj.weight`, ff, h),
        down: await linear(`${p}mlp.down_proj.weight`, h, ff),
        ...(spec.attentionBias && {
          qBias: await read(`${p}self_attn.q_proj.bias`, [numHeads * headDim]),
          kBias: await read(`${p}self_attn.k_proj.bias`, [numKvHeads * headDim]),
          vBias: await read(`${p}self_attn.v_proj.bias`, [numKvHeads * headDim]),
        }),
      };
      layers.push(layer);
    }
    const finalNorm = await read("model.norm.weight", [h]);
    let lmHead: LinearWeight | undefined;
    let tiedHead: LinearWeight | undefined;
    if (!spec.tieWordEmbeddings) lmHead = await linear("lm_head.weight", vocabSize, h);
    else if (quant === "q4") tiedHead = quantizeLinear(embedTokens, vocabSize, h, { bits: 8 });
    const weights: ModelWeights = {
      spec,
      embedTokens,
      layers,
      finalNorm,
      ...(lmHead !== undefined && { lmHead }),
      ...(tiedHead !== undefined && { tiedHead }),
    };
    return { weights, config };
  } finally {
    for (const s of shards) s.close();
  }
}

/** The tensors a checkpoint of `spec` must hold (lm_head only when untied). */
function expectedTensorNames(spec: ModelSpec): string[] {
  const names = ["model.embed_tokens.weight", "model.norm.weight"];
  if (!spec.tieWordEmbeddings) names.push("lm_head.weight");
  const parts = ["input_layernorm", "post_attention_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
  const biases = spec.attentionBias ? ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"] : [];
  for (let i = 0; i < spec.numLayers; i++) {
    for (const p of parts) names.push(`model.layers.${i}.${p}.weight`);
    for (const p of biases) names.push(`model.layers.${i}.${p}.bias`);
  }
  return names;
}

async function listShards(dir: string): Promise<string[]> {
  const indexPath = join(dir, "model.safetensors.index.json");
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (cause) {
    throw new ModelLoadError(`cannot read checkpoint folder ${dir}`, { cause, details: { dir } });
  }
  if (entries.includes("model.safetensors.index.json")) {
    const index = await readJson(indexPath);
    const map = index["weight_map"];
    if (typeof map !== "object" || map === null) {
      throw new ModelFormatError(`${indexPath}: expected a "weight_map" object`, { details: { path: indexPath } });
    }
    const files = [...new Set(Object.values(map as Record<string, unknown>))];
    if (!files.every((f): f is string => typeof f === "string" && !f.includes("/") && !f.includes("\\"))) {
      throw new ModelFormatError(`${indexPath}: weight_map values must be file names in the folder`, { details: { path: indexPath } });
    }
    return files.sort();
  }
  if (entries.includes("model.safetensors")) return ["model.safetensors"];
  const any = entries.filter((e) => e.endsWith(".safetensors")).sort();
  if (any.length === 0) {
    throw new ModelLoadError(`${dir}: no model.safetensors, model.safetensors.index.json or *.safetensors file`, { details: { dir } });
  }
  return any;
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new ModelLoadError(`cannot read ${path}`, { cause, details: { path } });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object");
    return value as Record<string, unknown>;
  } catch (cause) {
    throw new ModelFormatError(`${path} is not a valid JSON object`, { cause, details: { path } });
  }
}
