/**
 * The typed architecture of a Llama-family decoder: everything the graph builder, the reference forward
 * pass, RoPE re-rotation and the cache fingerprint need to know about a model, and nothing about weights.
 */
import type { RopeSpec } from "../rope/RopeSpec.js";

export type { RopeScalingLinear, RopeScalingLlama3, RopeSpec } from "../rope/RopeSpec.js";

export interface ModelSpec {
  /** "llama" covers Llama 1-3, SmolLM, Mistral-without-sliding-window; "qwen2" adds q/k/v biases. */
  readonly architecture: "llama" | "qwen2";
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly rmsNormEps: number;
  readonly maxPositionEmbeddings: number;
  readonly rope: RopeSpec;
  readonly tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (Qwen2). */
  readonly attentionBias: boolean;
  /**
   * Input-only embedding rows after the vocabulary (KVLink's trained link tokens and memory markers): ids
   * vocabSize … vocabSize + n − 1 may be fed to the model, but the LM head has vocabSize rows and never emits
   * them. Absent = 0.
   */
  readonly numExtraEmbeddings?: number;
}

/** How many token ids a model accepts as input: its vocabulary plus any extra (link-token) embedding rows. */
export function numInputTokenIds(spec: ModelSpec): number {
  return spec.vocabSize + (spec.numExtraEmbeddings ?? 0);
}
