import { ConfigError } from "../errors/KvLinkError.js";
import { dequantizeLinear, type ModelWeights } from "../model/ModelWeights.js";
import { addDecomposedAttentionMask } from "./addDecomposedAttention.js";
import { addHybridAttentionShared } from "./addHybridAttention.js";
import { addDecoderLayer, type LayerAttention } from "./addDecoderLayer.js";
import { addLinear, type Int8WeightMode, type NBitsAccuracy } from "./addLinear.js";
import { cosSinTable } from "../rope/cosSinTable.js";
import { graphSpecStamp } from "./graphSpecStamp.js";
import { IoNames, type GraphSignature } from "./ioNames.js";
import { OnnxGraphBuilder, type BuiltModel, type Dim } from "./OnnxGraphBuilder.js";
import { validateModelWeights } from "./validateModelWeights.js";

export interface BuildDecoderGraphOptions {
  /** Which I/O contract to implement (graph/ioNames.ts). */
  readonly signature: GraphSignature;
  /**
   * Rows of the RoPE cos/sin caches, i.e. position ids must be < this (ORT rejects larger ones).
   * Default spec.maxPositionEmbeddings.
   */
  readonly maxPositions?: number;
  /** 8-bit nbits weights: fp32 MatMul (default, fast on ORT's CPU EP) or MatMulNBits. See Int8WeightMode. */
  readonly int8Weights?: Int8WeightMode;
  /** MatMulNBits' accuracy_level for every nbits linear (0 = fp32 activations, default; 4 = int8). See NBitsAccuracy. */
  readonly accuracyLevel?: NBitsAccuracy;
  /**
   * The LM head when the model has a quantized one (GGUF's Q8_0 token_embd, or a quantized untied head):
   * "fp32" (default) = Gemm over the dequantized table; "nbits" = MatMulNBits over the quantized rows, whatever
   * `int8Weights` says (4× fewer bytes read per token; fast with accuracyLevel 4).
   */
  readonly head?: "fp32" | "nbits";
  /**
   * How layers attend: "onnx" (default) = the Attention-23 node over past keys [B,KVH,P,D]; "decomposed"
   * (kvlink signature only) = MatMul/Softmax over past keys fed transposed [B,KVH,D,P], no copy of the past per
   * step (addDecomposedAttention.ts: faster decode at long context, slower prefill; figures there); "hybrid"
   * (kvlink signature only) = the same inputs as "onnx", one-token steps over a long past through MatMuls that
   * read the past in place, everything else through Attention-23
   * (addHybridAttention.ts).
   */
  readonly attention?: AttentionImpl;
  /**
   * Element type of the past KV inputs (kvlink signature, Attention-23): "float32" (default) or "float16", cast to
   * float32 in the graph, so attention still computes in fp32 over fp16-rounded KV. Halves the past that crosses
   * from host memory to the device every step on CUDA (onnxruntime-node cannot keep it there); on the CPU the cast
   * is a pass over the past per step, so fp32 stays the default. New KV outputs stay float32.
   */
  readonly pastKvType?: PastKvType;
  /** Initializer bytes above which weights go to external data. Default 1.8e9. */
  readonly externalDataThresholdBytes?: number;
  /** Default "model.onnx_data". */
  readonly externalDataFileName?: string;
}

/** Element type of a kvlink graph's past KV inputs (BuildDecoderGraphOptions.pastKvType), and so of the host KV slots. */
export type PastKvType = "float32" | "float16";

/** The attention formulation of a graph (see BuildDecoderGraphOptions.attention). */
export type AttentionImpl = "onnx" | "decomposed" | "hybrid";

/** Symbolic dimension names of the graph inputs and outputs. */
const Dims = {
  batch: "batch_size",
  seq: "sequence_length",
  past: "past_sequence_length",
  total: "total_sequence_length",
  logits: "num_logits",
} as const;

/**
 * Builds a Llama-family ONNX decoder (opsets ai.onnx 23 + com.microsoft 1) from `weights`:
 * Gather embedding → per layer RMSNormalization, q/k/v (+ Qwen2 biases), RotaryEmbedding (HF half-split,
 * explicit position_ids, cos/sin caches from spec.rope incl. llama3/linear scaling), Attention-23 (GQA via
 * q_num_heads/kv_num_heads, float additive mask, past/present BNSH; or, for the kvlink signature on request,
 * the decomposed form of addDecomposedAttention.ts over transposed past keys), o-proj, SwiGLU MLP → slice to the last
 * `num_logits_to_keep` positions (0 = all) → final RMSNorm → LM head. f32 linears are MatMul over transposed
 * initializers, 4-bit linears MatMulNBits, 8-bit ones per `int8Weights`; an fp32 head is Gemm(transB) over the
 * [vocab, hidden] table, which for a tied head is the embedding initializer itself.
 *
 * Attention op choice, measured 2026-11-28 on this project's shared 2-core CPU host (onnxruntime-node 1.30.0, fp32,
 * intraOpNumThreads 2), the attention op alone at SmolLM2 size (9/3 heads, head_dim 64, float causal bias),
 * medians over 2 runs × 2 rounds:
 *   prefill 512 tokens:           Attention-23 8.4–9.4 ms · com.microsoft.GroupQueryAttention 6.5–9.3 ms
 *   decode 1 token at 1024 past:  Attention-23 0.51–0.57 ms · GroupQueryAttention 0.60–0.67 ms
 *   (outputs agree to 3.6e-7). Both are small next to the layer's MatMuls (~3.7 GFLOP per layer at 512 tokens).
 * Op-level figures hide the per-step cost in a whole model, where Attention-23 allocates and fills the
 * [B,KVH,P+S,D] present copy of every layer's past each step; the decomposed form avoids that but loses at
 * prefill (figures in addDecomposedAttention.ts). We prefer Attention-23 to GQA: on par overall (faster at
 * decode, which dominates generation), standard ONNX, any additive mask and any position ids, no
 * seqlens_k/total_sequence_length inputs; GQA ANDs in its own causal mask and, with past, allows S > 1 only
 * for batch 1.
 *
 * Signatures (see ioNames.ts): "kvlink" takes position_ids and a 4D attention_bias and outputs only the new
 * tokens' post-RoPE K and V; "standard" takes Optimum's 2D attention_mask, builds the causal+padding bias
 * in-graph (key j visible to query i iff mask[b,j] = 1 and j ≤ P+i) and outputs the present caches.
 */
export function buildDecoderGraph(weights: ModelWeights, options: BuildDecoderGraphOptions): BuiltModel {
  validateModelWeights(weights);
  const { spec } = weights;
  const { signature } = options;
  if (signature !== "kvlink" && signature !== "standard") {
    throw new ConfigError(`signature must be "kvlink" or "standard", got ${String(signature)}`, { details: { signature } });
  }
  const maxPositions = options.maxPositions ?? spec.maxPositionEmbeddings;
  if (!Number.isInteger(maxPositions) || maxPositions <= 0) {
    throw new ConfigError(`maxPositions must be a positive integer, got ${maxPositions}`, { details: { maxPositions } });
  }
  const int8Weights = options.int8Weights ?? "dequantize";
  if (int8Weights !== "dequantize" && int8Weights !== "matMulNBits") {
    throw new ConfigError(`int8Weights must be "dequantize" or "matMulNBits", got ${String(int8Weights)}`, { details: { int8Weights } });
  }
  const accuracyLevel = options.accuracyLevel ?? 0;
  if (accuracyLevel !== 0 && accuracyLevel !== 4) {
    throw new ConfigError(`accuracyLevel must be 0 or 4, got ${String(accuracyLevel)}`, { details: { accuracyLevel } });
  }
  const headMode = options.head ?? "fp32";
  if (headMode !== "fp32" && headMode !== "nbits") {
    throw new ConfigError(`head must be "fp32" or "nbits", got ${String(headMode)}`, { details: { head: headMode } });
  }
  const attention = options.attention ?? "onnx";
  if (attention !== "onnx" && attention !== "decomposed" && attention !== "hybrid") {
    throw new ConfigError(`attention must be "onnx", "decomposed" or "hybrid", got ${String(attention)}`, { details: { attention } });
  }
  if (attention !== "onnx" && signature !== "kvlink") {
    throw new ConfigError(`attention "${attention}" needs the kvlink signature (it returns only new KV), got "${signature}"`, {
      details: { attention, signature },
    });
  }
  const { batch: B, seq: S, past: P, total: T } = Dims;
  const { numKvHeads: kvHeads, headDim, hiddenSize, vocabSize } = spec;

  const b = new OnnxGraphBuilder({
    name: `${spec.architecture}_decoder_${signature}`,
    docString: `kvlink-ts ${spec.architecture} decoder, ${signature} signature, ${spec.numLayers} layers\n${graphSpecStamp(spec)}`,
  });

  const inputIds = b.addInput(IoNames.inputIds, "int64", [B, S]);
  let positionIds: string;
  let attentionBias: string;
  if (signature === "kvlink") {
    positionIds = b.addInput(IoNames.positionIds, "int64", [B, S]);
    attentionBias = b.addInput(IoNames.attentionBias, "float32", [B, 1, S, T]);
  } else {
    const attentionMask = b.addInput(IoNames.attentionMask, "int64", [B, T]);
    positionIds = b.addInput(IoNames.positionIds, "int64", [B, S]);
    attentionBias = addCausalPaddingBias(b, inputIds, attentionMask);
  }
  const pastKvType = options.pastKvType ?? "float32";
  if (pastKvType === "float16" && (signature !== "kvlink" || attention !== "onnx")) {
    throw new ConfigError(`pastKvType "float16" needs the kvlink signature with Attention-23, got ${signature} / ${attention}`, {
      details: { pastKvType, signature, attention },
    });
  }
  const pastInput = (name: string, dims: Dim[]): string => {
    const input = b.addInput(name, pastKvType, dims);
    return pastKvType === "float32" ? input : b.op("Cast", [input], { name: `${name}.to_float32`, attrs: { to: { int: 1 } } });
  };
  const past = Array.from({ length: spec.numLayers }, (_, i) => ({
    key: pastInput(IoNames.pastKey(i), attention === "decomposed" ? [B, kvHeads, headDim, P] : [B, kvHeads, P, headDim]),
    value: pastInput(IoNames.pastValue(i), [B, kvHeads, P, headDim]),
  }));
  const numLogitsToKeep = b.addInput(IoNames.numLogitsToKeep, "int64", []);
  // LoRA branches of a kvlink graph are scaled per sequence, so one graph serves the adapted model and its exact
  // base. A standard graph is for other runtimes (transformers.js, Optimum), which feed only the inputs they know:
  // its branches are always on.
  const hasLora = weights.layers.some((layer) => layer.lora !== undefined && Object.keys(layer.lora).length > 0);
  const adapterScale = hasLora && signature === "kvlink" ? b.addInput(IoNames.adapterScale, "float32", [B, 1, 1]) : undefined;

  const { cos, sin } = cosSinTable(spec.rope, Int32Array.from({ length: maxPositions }, (_, p) => p));
  const half = spec.rope.rotaryDim / 2;
  const cosCache = b.addInitializer("rope.cos_cache", "float32", [maxPositions, half], cos);
  const sinCache = b.addInitializer("rope.sin_cache", "float32", [maxPositions, half], sin);

  const embed = b.addInitializer("model.embed_tokens.weight", "float32", [vocabSize, hiddenSize], weights.embedTokens);
  let hidden = addEmbedding(b, embed, inputIds, weights);

  const layerAttention: LayerAttention =
    attention === "decomposed"
      ? { kind: "decomposed", mask: addDecomposedAttentionMask(b, attentionBias) }
      : attention === "hybrid"
        ? { kind: "hybrid", shared: addHybridAttentionShared(b, inputIds, past[0]!.key) }
        : { kind: "onnx" };
  const layerInputs = {
    spec,
    cosCache,
    sinCache,
    positionIds,
    attentionBias,
    int8Weights,
    accuracyLevel,
    attention: layerAttention,
    ...(adapterScale !== undefined ? { adapterScale } : {}),
  };
  weights.layers.forEach((layer, i) => {
    const kv = past[i]!;
    hidden = addDecoderLayer(b, layerInputs, i, layer, hidden, {
      pastKey: kv.key,
      pastValue: kv.value,
      outputMode: signature === "kvlink" ? "new" : "present",
      keyOutput: signature === "kvlink" ? IoNames.newKey(i) : IoNames.presentKey(i),
      valueOutput: signature === "kvlink" ? IoNames.newValue(i) : IoNames.presentValue(i),
    });
  });

  const kept = addKeepLastPositions(b, hidden, inputIds, numLogitsToKeep);
  const normW = b.addInitializer("model.norm.weight", "float32", [hiddenSize], weights.finalNorm);
  const normed = b.op("RMSNormalization", [kept, normW], {
    name: "model.norm",
    attrs: { epsilon: { float: spec.rmsNormEps }, axis: { int: -1 } },
  });
  const head = spec.tieWordEmbeddings ? weights.tiedHead : weights.lmHead;
  const nbitsHead = head !== undefined && head.kind === "nbits" && (headMode === "nbits" || head.bits !== 8 || int8Weights === "matMulNBits");
  if (!nbitsHead) {
    // An fp32 head (tied, untied, or 8-bit run in fp32): Gemm(transB) over the [vocab, hidden] table as stored,
    // reusing the Gather table itself when the head is the embedding (GGUF's Q8_0 token_embd dequantizes to it).
    const dense = head === undefined ? weights.embedTokens : dequantizeLinear(head);
    const table = sameValues(dense, weights.embedTokens)
      ? embed
      : b.addInitializer("lm_head.weight", "float32", [vocabSize, hiddenSize], dense);
    addGemmHead(b, normed, table, hiddenSize, vocabSize);
  } else {
    const logits = addLinear(b, normed, head!, { name: "lm_head", int8Weights: "matMulNBits", accuracyLevel });
    b.addNode("Identity", [logits], [IoNames.logits], { name: "lm_head.output" });
  }

  b.addOutput(IoNames.logits, "float32", [B, Dims.logits, vocabSize]);
  for (let i = 0; i < spec.numLayers; i++) {
    if (signature === "kvlink") {
      b.addOutput(IoNames.newKey(i), "float32", [B, kvHeads, S, headDim]);
      b.addOutput(IoNames.newValue(i), "float32", [B, kvHeads, S, headDim]);
    } else {
      b.addOutput(IoNames.presentKey(i), "float32", [B, kvHeads, T, headDim]);
      b.addOutput(IoNames.presentValue(i), "float32", [B, kvHeads, T, headDim]);
    }
  }
  return b.encode({
    ...(options.externalDataThresholdBytes !== undefined ? { externalDataThresholdBytes: options.externalDataThresholdBytes } : {}),
    ...(options.externalDataFileName !== undefined ? { externalDataFileName: options.externalDataFileName } : {}),
  });
}

/**
 * The standard signature's float bias [B,1,S,T] from a 2D int64 mask [B,T]: 0 where key j is allowed for query
 * i (mask[b,j] = 1 and j ≤ P+i with P = T−S), −Infinity elsewhere.
 */
function addCausalPaddingBias(b: OnnxGraphBuilder, inputIds: string, attentionMask: string): string {
  const one = b.constInt64([1], { scalar: true });
  const zero = b.constInt64([0], { scalar: true });
  const seqLen = b.op("Gather", [b.op("Shape", [inputIds], { name: "mask.ids_shape" }), one], { name: "mask.seq_len", attrs: { axis: { int: 0 } } });
  const totalLen = b.op("Gather", [b.op("Shape", [attentionMask], { name: "mask.mask_shape" }), one], { name: "mask.total_len", attrs: { axis: { int: 0 } } });
  const pastLen = b.op("Sub", [totalLen, seqLen], { name: "mask.past_len" });
  const queryPos = b.op("Add", [b.op("Range", [zero, seqLen, one], { name: "mask.query_range" }), pastLen], { name: "mask.query_pos" });
  const queryCol = b.op("Unsqueeze", [queryPos, b.constInt64([1])], { name: "mask.query_col" });
  const keyPos = b.op("Range", [zero, totalLen, one], { name: "mask.key_pos" });
  const causal = b.op("LessOrEqual", [keyPos, queryCol], { name: "mask.causal" });
  const notPadded = b.op("Equal", [attentionMask, b.constInt64([1], { scalar: true })], { name: "mask.not_padded" });
  const notPadded4d = b.op("Unsqueeze", [notPadded, b.constInt64([1, 2])], { name: "mask.not_padded_4d" });
  const allowed = b.op("And", [causal, notPadded4d], { name: "mask.allowed" });
  return b.op("Where", [allowed, b.constFloat(0), b.constFloat(-Infinity)], { name: "mask.bias" });
}

/**
 * The input embedding [B,S,H]: a Gather from the vocabulary table, and, when the model has extra input-only rows
 * (trained link tokens, ids ≥ vocabSize), a second Gather from those rows picked per token by Where, so the
 * vocabulary table (shared with a tied LM head) is not copied and the head stays vocabSize wide.
 */
function addEmbedding(b: OnnxGraphBuilder, embed: string, inputIds: string, weights: ModelWeights): string {
  const { vocabSize, hiddenSize } = weights.spec;
  const numExtra = weights.spec.numExtraEmbeddings ?? 0;
  if (numExtra === 0 || weights.extraEmbeddings === undefined) {
    return b.op("Gather", [embed, inputIds], { name: "model.embed_tokens", attrs: { axis: { int: 0 } } });
  }
  const extra = b.addInitializer("kvlink.extra_embeddings", "float32", [numExtra, hiddenSize], weights.extraEmbeddings);
  const vocab = b.constInt64([vocabSize], { scalar: true });
  const isExtra = b.op("GreaterOrEqual", [inputIds, vocab], { name: "model.embed_tokens.is_extra" });
  const vocabIds = b.op("Where", [isExtra, b.constInt64([0], { scalar: true }), inputIds], { name: "model.embed_tokens.vocab_ids" });
  const extraIds = b.op("Where", [isExtra, b.op("Sub", [inputIds, vocab], { name: "model.embed_tokens.sub" }), b.constInt64([0], { scalar: true })], {
    name: "model.embed_tokens.extra_ids",
  });
  const fromVocab = b.op("Gather", [embed, vocabIds], { name: "model.embed_tokens", attrs: { axis: { int: 0 } } });
  const fromExtra = b.op("Gather", [extra, extraIds], { name: "kvlink.extra_embeddings.gather", attrs: { axis: { int: 0 } } });
  const pick = b.op("Unsqueeze", [isExtra, b.constInt64([-1])], { name: "model.embed_tokens.pick" });
  return b.op("Where", [pick, fromExtra, fromVocab], { name: "model.embed_tokens.select" });
}

/** Slices hidden [B,S,H] to its last n positions, n = num_logits_to_keep (0 or n ≥ S keep all). */
function addKeepLastPositions(b: OnnxGraphBuilder, hidden: string, inputIds: string, numLogitsToKeep: string): string {
  const zero = b.constInt64([0], { scalar: true });
  const seqLen = b.op("Gather", [b.op("Shape", [inputIds], { name: "keep.ids_shape" }), b.constInt64([1], { scalar: true })], {
    name: "keep.seq_len",
    attrs: { axis: { int: 0 } },
  });
  const fromEnd = b.op("Max", [b.op("Sub", [seqLen, numLogitsToKeep], { name: "keep.sub" }), zero], { name: "keep.clamp" });
  const keepAll = b.op("Equal", [numLogitsToKeep, zero], { name: "keep.all" });
  const start = b.op("Where", [keepAll, zero, fromEnd], { name: "keep.start" });
  const starts = b.op("Unsqueeze", [start, b.constInt64([0])], { name: "keep.starts" });
  return b.op("Slice", [hidden, starts, b.constInt64([Number.MAX_SAFE_INTEGER]), b.constInt64([1])], { name: "keep.slice" });
}

/** logits [B,L,V] = x [B,L,H] · tableᵀ via Gemm(transB = 1) on the flattened rows. */
function addGemmHead(b: OnnxGraphBuilder, x: string, table: string, hiddenSize: number, vocabSize: number): void {
  const flat = b.op("Reshape", [x, b.constInt64([-1, hiddenSize])], { name: "lm_head.flatten" });
  const logits2d = b.op("Gemm", [flat, table], { name: "lm_head", attrs: { transB: { int: 1 } } });
  const batchAndLen = b.op("Shape", [x], { name: "lm_head.shape", attrs: { start: { int: 0 }, end: { int: 2 } } });
  const shape = b.op("Concat", [batchAndLen, b.constInt64([vocabSize])], { name: "lm_head.out_shape", attrs: { axis: { int: 0 } } });
  b.addNode("Reshape", [logits2d, shape], [IoNames.logits], { name: "lm_head.unflatten" });
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
