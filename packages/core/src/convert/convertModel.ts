import { copyFile, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { ModelFormatError, ModelLoadError } from "../errors/KvLinkError.js";
import { buildDecoderGraph, type AttentionImpl, type BuildDecoderGraphOptions, type PastKvType } from "../graph/buildDecoderGraph.js";
import type { GraphSignature } from "../graph/ioNames.js";
import { NO_KVLINK_CONFIG, writeModelFolder, type ModelFolderPaths } from "../model/modelFolder.js";
import type { ModelWeights } from "../model/ModelWeights.js";
import { silentLogger, type Logger } from "../util/Logger.js";
import type { ConvertQuant } from "./ggufTensorToLinear.js";
import { loadGgufWeights } from "./loadGgufWeights.js";
import { applyLoraAdapter, loadLoraAdapter } from "./loadLoraAdapter.js";

/** File name of the converted-in LoRA adapter inside a model folder. */
export const ADAPTER_FILE_NAME = "adapter.safetensors";
import { loadSafetensorsWeights } from "./loadSafetensorsWeights.js";

export interface ConvertProgress {
  readonly phase: "convert" | "write";
  readonly done: number;
  readonly total: number;
}

export interface ConvertModelOptions {
  readonly signature: GraphSignature;
  readonly quant: ConvertQuant;
  /** Called per tensor while converting, then once per step of writing; a throwing callback is logged, not fatal. */
  readonly onProgress?: (progress: ConvertProgress) => void;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /**
   * A PEFT-style LoRA adapter (.safetensors) to convert with the model: its branches run beside the base
   * weights (graph/addLinear.ts), its extra embedding rows become input-only token ids, and its `kvlink`
   * metadata (link tokens) becomes kvlink.json; the file is copied into the folder.
   */
  readonly adapter?: string;
  /**
   * Fold the adapter into the weights (re-quantizing 4-bit ones) instead of branches beside them. Measured on the
   * default model (README, "LoRA in the graph"): branches are exact and cost little; merging is kept for comparison.
   */
  readonly mergeLora?: boolean;
  /** Kernel choices of the graph (buildDecoderGraph's options); default: fp32 activations and an fp32 head. */
  readonly graph?: GraphKernelOptions;
}

/** The kernel options of buildDecoderGraph a conversion may set. */
export type GraphKernelOptions = Pick<BuildDecoderGraphOptions, "accuracyLevel" | "head" | "attention" | "pastKvType">;

/**
 * What a 4-bit conversion builds unless `graph` says otherwise: int8 activations in MatMulNBits (accuracy_level
 * 4, as llama.cpp quantizes activations to 8 bits) and the quantized head (GGUF's Q8_0 token_embd as an 8-bit
 * MatMulNBits instead of an fp32 Gemm over 49152×576). Measured in docs/performance.md: 1.6–1.9× decode speed
 * on the default model; the greedy agreement with fp32 activations is stated there. Pass
 * `graph: FP32_ACTIVATION_KERNELS` for the fp32-activation graph.
 */
export const Q4_GRAPH_KERNELS: GraphKernelOptions = { accuracyLevel: 4, head: "nbits" };

/**
 * The attention a conversion builds unless `graph.attention` says otherwise: "hybrid" for kvlink graphs with fp32
 * past (one-token steps over a long past through MatMuls that read the past once, without Attention-23's copy of
 * it: 1.6–1.7× decode tokens/s at a 4k context on the base GGUF, docs/performance.md §7), else Attention-23
 * ("onnx": the standard signature, and fp16 past, which only Attention-23 graphs take).
 */
export function defaultAttention(signature: GraphSignature, pastKvType: PastKvType | undefined): AttentionImpl {
  return signature === "kvlink" && (pastKvType ?? "float32") === "float32" ? "hybrid" : "onnx";
}

/** fp32 activations everywhere and an fp32 head: exact against a float reference (buildDecoderGraph's defaults). */
export const FP32_ACTIVATION_KERNELS: GraphKernelOptions = { accuracyLevel: 0, head: "fp32" };

/**
 * Converts a `.gguf` file or a Hugging Face checkpoint folder (config.json + safetensors + tokenizer files)
 * into a model folder at `outDir` (config.json, generation_config.json, tokenizer files, onnx/model.onnx),
 * building the decoder graph with the requested signature. Returns the written paths.
 */
export async function convertModel(input: string, outDir: string, options: ConvertModelOptions): Promise<ModelFolderPaths> {
  const logger = options.logger ?? silentLogger;
  const report = (progress: ConvertProgress): void => {
    try {
      options.onProgress?.(progress);
    } catch (error) {
      logger.warn({ err: error, phase: progress.phase }, "onProgress callback threw; ignored");
    }
  };
  const onTensor = (done: number, total: number): void => report({ phase: "convert", done, total });
  let info;
  try {
    info = await stat(input);
  } catch (cause) {
    throw new ModelLoadError(`cannot convert ${input}: no such file or folder`, { cause, details: { input } });
  }
  const started = Date.now();
  let weights: ModelWeights;
  let tokenizerJson: Record<string, unknown>;
  let tokenizerConfig: Record<string, unknown>;
  let generationConfig: Record<string, unknown>;
  const loadOptions = { quant: options.quant, onTensor, ...(options.signal && { signal: options.signal }) };
  if (info.isDirectory()) {
    const hf = await loadSafetensorsWeights(input, loadOptions);
    weights = hf.weights;
    tokenizerJson = await readJsonObject(join(input, "tokenizer.json"), true);
    tokenizerConfig = await readJsonObject(join(input, "tokenizer_config.json"), true);
    generationConfig = await readJsonObject(join(input, "generation_config.json"), false);
    for (const key of ["bos_token_id", "eos_token_id", "pad_token_id"]) {
      if (generationConfig[key] == null && hf.config[key] != null) generationConfig[key] = hf.config[key];
    }
  } else {
    const gguf = await loadGgufWeights(input, loadOptions);
    ({ weights, tokenizerJson, tokenizerConfig, generationConfig } = gguf);
  }
  logger.info({ input, quant: options.quant, ms: Date.now() - started, numLayers: weights.spec.numLayers }, "weights loaded");
  options.signal?.throwIfAborted();
  const adapter = options.adapter === undefined ? undefined : await loadLoraAdapter(options.adapter);
  if (adapter !== undefined) {
    weights = applyLoraAdapter(weights, adapter, { merge: options.mergeLora === true });
    logger.info({ adapter: adapter.path, rank: adapter.rank, numExtraEmbeddings: weights.spec.numExtraEmbeddings ?? 0 }, "LoRA adapter applied");
  }

  report({ phase: "write", done: 0, total: 2 });
  const graph: GraphKernelOptions = { ...(options.quant === "q4" ? Q4_GRAPH_KERNELS : {}), ...options.graph };
  const built = buildDecoderGraph(weights, {
    ...graph,
    attention: graph.attention ?? defaultAttention(options.signature, graph.pastKvType),
    signature: options.signature,
  });
  report({ phase: "write", done: 1, total: 2 });
  options.signal?.throwIfAborted();
  const external = built.externalData;
  const paths = await writeModelFolder(outDir, {
    spec: weights.spec,
    onnx: {
      model: built.model,
      ...(external && { externalData: { fileName: external.fileName, bytes: Buffer.concat(external.chunks) } }),
    },
    tokenizerJson,
    tokenizerConfig,
    generationConfig,
    ...(adapter !== undefined && {
      kvlink: { ...(adapter.kvlink ?? NO_KVLINK_CONFIG), adapter: { file: ADAPTER_FILE_NAME, sha256: adapter.sha256 } },
    }),
  });
  if (adapter !== undefined) await copyFile(adapter.path, join(outDir, ADAPTER_FILE_NAME));
  report({ phase: "write", done: 2, total: 2 });
  logger.info({ outDir, signature: options.signature, modelBytes: built.model.byteLength, ms: Date.now() - started }, "model folder written");
  return paths;
}

async function readJsonObject(path: string, required: boolean): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    if (!required) return {};
    throw new ModelLoadError(`cannot read ${path}, which the model folder needs`, { cause, details: { path } });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (cause) {
    throw new ModelFormatError(`${path} is not valid JSON`, { cause, details: { path } });
  }
  throw new ModelFormatError(`${path} is not a JSON object`, { details: { path } });
}
