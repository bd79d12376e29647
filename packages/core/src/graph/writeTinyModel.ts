import { InvalidInputError } from "../errors/KvLinkError.js";
import { createRandomWeights } from "../model/createRandomWeights.js";
import type { RopeScalingLinear, RopeScalingLlama3, ModelSpec } from "../model/ModelSpec.js";
import { writeModelFolder, type KvLinkConfig, type ModelFolderPaths } from "../model/modelFolder.js";
import type { ModelWeights } from "../model/ModelWeights.js";
import { tinySpec } from "../model/tinySpec.js";
import { createTinyTokenizer, TINY_NUM_LINK_TOKENS } from "../tokenizer/createTinyTokenizer.js";
import { buildDecoderGraph, type PastKvType } from "./buildDecoderGraph.js";
import type { GraphSignature } from "./ioNames.js";

export interface TinyModelOptions {
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  /** Total vocabulary; at least the tiny tokenizer's minimum (specials + 256 bytes). */
  readonly vocab: number;
  /** Default 2 × hidden. */
  readonly intermediate?: number;
  /** Same seed and options → byte-identical folder. */
  readonly seed: number;
  readonly signature: GraphSignature;
  readonly quant: "fp32" | "q4";
  /** Tie the LM head to the embedding. Default true. */
  readonly tied?: boolean;
  readonly ropeScaling?: RopeScalingLlama3 | RopeScalingLinear;
  /** Default 1024. */
  readonly maxPositionEmbeddings?: number;
  /** KVLink link tokens per document slot. Default 2. */
  readonly numLinkTokens?: number;
  /** Document slots listed in kvlink.json. Default 8. */
  readonly numSlots?: number;
  /**
   * Draw random weights for one layer and use them in every layer (speed benchmarks of large shapes: speed does
   * not depend on weight values, and drawing a 1B-shaped model's weights takes a minute). Default false.
   */
  readonly repeatLayers?: boolean;
  /** Element type of the past KV inputs (BuildDecoderGraphOptions.pastKvType). Default "float32". */
  readonly pastKvType?: PastKvType;
}

export interface TinyModel {
  readonly dir: string;
  readonly spec: ModelSpec;
  readonly paths: ModelFolderPaths;
  readonly kvlink: KvLinkConfig;
}

/**
 * Writes a complete, deterministic tiny model folder (random weights, ONNX graph of the chosen signature,
 * tiny byte-level BPE tokenizer with a ChatML template, generation_config, kvlink.json) for tests and demos.
 * kvlink.json: slot i uses link tokens `<|link_{(i·K + j) mod 16}|>`, j < K, and `<|mem_start|>`/`<|mem_end|>`.
 */
export async function writeTinyModel(dir: string, options: TinyModelOptions): Promise<TinyModel> {
  const { layers, hidden, heads, kvHeads, vocab, seed, signature, quant } = options;
  if (!Number.isInteger(hidden) || !Number.isInteger(heads) || heads <= 0 || hidden % heads !== 0 || (hidden / heads) % 2 !== 0) {
    throw new InvalidInputError(`writeTinyModel: hidden ${hidden} must be a multiple of heads ${heads} with an even head dim`, {
      details: { hidden, heads },
    });
  }
  if (quant !== "fp32" && quant !== "q4") {
    throw new InvalidInputError(`writeTinyModel: quant must be "fp32" or "q4", got ${String(quant)}`);
  }
  const numLinkTokens = options.numLinkTokens ?? 2;
  const numSlots = options.numSlots ?? 8;
  if (!Number.isInteger(numLinkTokens) || numLinkTokens < 0 || numLinkTokens > TINY_NUM_LINK_TOKENS) {
    throw new InvalidInputError(`writeTinyModel: numLinkTokens must be an integer in [0, ${TINY_NUM_LINK_TOKENS}], got ${numLinkTokens}`);
  }
  if (!Number.isInteger(numSlots) || numSlots < 0) {
    throw new InvalidInputError(`writeTinyModel: numSlots must be a non-negative integer, got ${numSlots}`);
  }
  const headDim = hidden / heads;
  const spec = tinySpec({
    vocabSize: vocab,
    hiddenSize: hidden,
    intermediateSize: options.intermediate ?? 2 * hidden,
    numLayers: layers,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    maxPositionEmbeddings: options.maxPositionEmbeddings ?? 1024,
    rope: { theta: 10000, rotaryDim: headDim, ...(options.ropeScaling ? { scaling: options.ropeScaling } : {}) },
    tieWordEmbeddings: options.tied ?? true,
  });

  const tokenizer = createTinyTokenizer({ vocabSize: vocab, seed: 0 });
  const weightOptions = { seed, quant: quant === "q4" ? ("q4" as const) : ("f32" as const) };
  const weights = options.repeatLayers ? repeatFirstLayer(createRandomWeights({ ...spec, numLayers: 1 }, weightOptions), spec) : createRandomWeights(spec, weightOptions);
  const built = buildDecoderGraph(weights, { signature, ...(options.pastKvType !== undefined ? { pastKvType: options.pastKvType } : {}) });
  const ids = tokenizer.specialTokenIds;
  const kvlink: KvLinkConfig = {
    formatVersion: 1,
    numLinkTokens,
    linkTokenIds: Array.from({ length: numSlots }, (_, slot) =>
      Array.from({ length: numLinkTokens }, (_, j) => ids.link[(slot * numLinkTokens + j) % TINY_NUM_LINK_TOKENS]!),
    ),
    memStartTokenId: ids.memStart,
    memEndTokenId: ids.memEnd,
  };
  const external = built.externalData;
  const paths = await writeModelFolder(dir, {
    spec,
    onnx: {
      model: built.model,
      ...(external ? { externalData: { fileName: external.fileName, bytes: concatBytes(external.chunks, external.sizeBytes) } } : {}),
    },
    tokenizerJson: tokenizer.tokenizerJson,
    tokenizerConfig: tokenizer.tokenizerConfig,
    generationConfig: { bos_token_id: ids.imStart, eos_token_id: [ids.imEnd, ids.endOfText], pad_token_id: ids.imEnd },
    kvlink,
  });
  return { dir, spec, paths, kvlink };
}

/** The weights of a one-layer model with that layer in each of `spec.numLayers` layers. */
function repeatFirstLayer(weights: ModelWeights, spec: ModelSpec): ModelWeights {
  const layer = weights.layers[0]!;
  return { ...weights, spec, layers: Array.from({ length: spec.numLayers }, () => layer) };
}

function concatBytes(chunks: readonly Uint8Array[], sizeBytes: number): Uint8Array {
  const out = new Uint8Array(sizeBytes);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
