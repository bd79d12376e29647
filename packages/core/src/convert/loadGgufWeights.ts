import { ModelFormatError, UnsupportedModelError } from "../errors/KvLinkError.js";
import { dequantize } from "../gguf/dequantize.js";
import { GgufFile, type GgufTensorInfo, type GgufValue } from "../gguf/GgufFile.js";
import { GgufMetadata } from "../gguf/ggufMetadata.js";
import { GgmlType, ggmlTypeName } from "../gguf/ggmlType.js";
import type { LayerWeights, LinearWeight, ModelWeights } from "../model/ModelWeights.js";
import { buildGgufTokenizerFiles } from "./buildGgufTokenizerFiles.js";
import { ggufTensorToLinear, type ConvertQuant } from "./ggufTensorToLinear.js";
import { ggufToModelSpec } from "./ggufToModelSpec.js";
import { unpermuteQkRows } from "./unpermuteQkRows.js";

/** Types whose blocks map onto MatMulNBits without loss, so a tied head may be kept quantized. */
const LOSSLESS_HEAD_TYPES: ReadonlySet<number> = new Set([GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1]);

export interface LoadGgufWeightsOptions {
  readonly quant: ConvertQuant;
  /** Called after each tensor; done/total count tensors. */
  readonly onTensor?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

export interface LoadedGgufModel {
  readonly weights: ModelWeights;
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
  readonly generationConfig: Record<string, unknown>;
  /** The GGUF header metadata (tokenizer arrays included). */
  readonly metadata: ReadonlyMap<string, GgufValue>;
}

/**
 * Reads a llama- or qwen2-architecture GGUF into ModelWeights (HF conventions, embeddings fp32) plus rebuilt
 * tokenizer/generation configs. llama: convert_hf_to_gguf.py permuted q/k rows for llama.cpp's adjacent-pair
 * RoPE, so they are un-permuted to HF's half-split order. qwen2: llama.cpp runs it with NEOX (half-split) RoPE
 * and its converter does not permute, so rows are taken as they are, and `blk.N.attn_{q,k,v}.bias` are read.
 * With quant "q4", the block types ggufTensorToLinear carries without loss (Q4_0/Q4_1/Q4_K/Q5_0/Q6_K/Q8_0)
 * stay MatMulNBits; a tied Q8_0 `token_embd` also becomes `tiedHead` (bits 8).
 */
export async function loadGgufWeights(path: string, options: LoadGgufWeightsOptions): Promise<LoadedGgufModel> {
  const { quant, signal } = options;
  await using file = await GgufFile.open(path);
  const meta = new GgufMetadata(file.metadata, path);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const need = (name: string): GgufTensorInfo => {
    const t = byName.get(name);
    if (!t) throw new ModelFormatError(`${path}: tensor ${name} is missing`, { details: { path, tensor: name } });
    return t;
  };
  const ropeFreqsInfo = byName.get("rope_freqs.weight");
  const ropeFreqs = ropeFreqsInfo ? await readF32(file, ropeFreqsInfo) : undefined;
  const spec = ggufToModelSpec(meta, byName, ropeFreqs);
  const tokenizer = buildGgufTokenizerFiles(meta);

  const permuteQk = spec.architecture === "llama";
  const known = new Set(["token_embd.weight", "output_norm.weight", "output.weight", "rope_freqs.weight"]);
  const layerParts = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"];
  for (let i = 0; i < spec.numLayers; i++) {
    for (const part of layerParts) known.add(`blk.${i}.${part}.weight`);
    if (spec.attentionBias) for (const part of ["attn_q", "attn_k", "attn_v"]) known.add(`blk.${i}.${part}.bias`);
  }
  const unknown = file.tensors.filter((t) => !known.has(t.name)).map((t) => t.name);
  if (unknown.length > 0) {
    throw new UnsupportedModelError(
      `${path}: tensors this ${spec.architecture} converter does not understand: ${unknown.slice(0, 5).join(", ")}`,
      { details: { path, architecture: spec.architecture, unknown } },
    );
  }

  const total = file.tensors.length;
  let done = 0;
  const tick = (): void => {
    done++;
    options.onTensor?.(done, total);
  };
  if (ropeFreqsInfo) tick();

  const vector = async (name: string, length: number): Promise<Float32Array> => {
    signal?.throwIfAborted();
    const info = need(name);
    expectShape(path, info, [length]);
    const out = await readF32(file, info);
    tick();
    return out;
  };
  const linear = async (name: string, outFeatures: number, inFeatures: number, permuteHeads?: number): Promise<LinearWeight> => {
    signal?.throwIfAborted();
    const info = need(name);
    expectShape(path, info, [inFeatures, outFeatures]);
    let bytes = await file.readTensorBytes(info);
    if (permuteHeads !== undefined) bytes = unpermuteQkRows(bytes, outFeatures, permuteHeads, `${path}: ${name}`);
    const w = ggufTensorToLinear(info.type, bytes, outFeatures, inFeatures, quant, `${path}: ${name}`);
    tick();
    return w;
  };

  const { hiddenSize: h, intermediateSize: ff, numHeads, numKvHeads, headDim, vocabSize } = spec;
  const embdInfo = need("token_embd.weight");
  expectShape(path, embdInfo, [h, vocabSize]);
  const embdBytes = await file.readTensorBytes(embdInfo);
  const embedTokens = dequantize(embdInfo.type, embdBytes, h * vocabSize, `${path}: token_embd.weight`);
  let tiedHead: LinearWeight | undefined;
  if (spec.tieWordEmbeddings && quant === "q4" && LOSSLESS_HEAD_TYPES.has(embdInfo.type)) {
    const head = ggufTensorToLinear(embdInfo.type, embdBytes, vocabSize, h, quant, `${path}: token_embd.weight`);
    if (head.kind === "nbits") tiedHead = head;
  }
  tick();

  const layers: LayerWeights[] = [];
  for (let i = 0; i < spec.numLayers; i++) {
    const p = `blk.${i}.`;
    const inputNorm = await vector(`${p}attn_norm.weight`, h);
    const q = await linear(`${p}attn_q.weight`, numHeads * headDim, h, permuteQk ? numHeads : undefined);
    const k = await linear(`${p}attn_k.weight`, numKvHeads * headDim, h, permuteQk ? numKvHeads : undefined);
    const v = await linear(`${p}attn_v.weight`, numKvHeads * headDim, h);
    const biases = spec.attentionBias
      ? {
          qBias: await vector(`${p}attn_q.bias`, numHeads * headDim),
          kBias: await vector(`${p}attn_k.bias`, numKvHeads * headDim),
          vBias: await vector(`${p}attn_v.bias`, numKvHeads * headDim),
        }
      : {};
    layers.push({
      inputNorm,
      q,
      k,
      v,
      ...biases,
      o: await linear(`${p}attn_output.weight`, h, numHeads * headDim),
      postAttentionNorm: await vector(`${p}ffn_norm.weight`, h),
      gate: await linear(`${p}ffn_gate.weight`, ff, h),
      up: await linear(`${p}ffn_up.weight`, ff, h),
      down: await linear(`${p}ffn_down.weight`, h, ff),
    });
  }
  const finalNorm = await vector("output_norm.weight", h);
  const lmHead = spec.tieWordEmbeddings ? undefined : await linear("output.weight", vocabSize, h);

  const weights: ModelWeights = {
    spec,
    embedTokens,
    layers,
    finalNorm,
    ...(lmHead !== undefined && { lmHead }),
    ...(tiedHead !== undefined && { tiedHead }),
  };
  return { weights, ...tokenizer, metadata: file.metadata };
}

async function readF32(file: GgufFile, info: GgufTensorInfo): Promise<Float32Array> {
  return dequantize(info.type, await file.readTensorBytes(info), info.numElements, `${file.path}: ${info.name}`);
}

function expectShape(path: string, info: GgufTensorInfo, expected: readonly number[]): void {
  if (info.shape.length !== expected.length || info.shape.some((d, i) => d !== expected[i])) {
    throw new ModelFormatError(
      `${path}: tensor ${info.name} (${ggmlTypeName(info.type)}) has ne [${info.shape.join(", ")}], expected [${expected.join(", ")}]`,
      { details: { path, tensor: info.name, shape: info.shape, expected } },
    );
  }
}
