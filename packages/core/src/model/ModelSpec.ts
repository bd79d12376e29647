/**
 * The typed architecture of a Llama-family decoder: everything the graph builder, the reference forward
 * pass, RoPE re-rotation and the cache fingerprint need to know about a model, and nothing about weights.
 */
export interface RopeScalingLlama3 {
  readonly type: "llama3";
  readonly factor: number;
  readonly lowFreqFactor: number;
  readonly highFreqFactor: number;
  readonly originalMaxPositionEmbeddings: number;
}
/** Position-independent scalings: rotations still compose, so re-rotation stays exact. */
export interface RopeScalingLinear {
  readonly type: "linear";
  readonly factor: number;
}

export interface RopeSpec {
  /** rope_theta */
  readonly theta: number;
  /** Rotated dimensions per head (= headDim for Llama). Rotation uses HF's half-split (rotate_half) layout. */
  readonly rotaryDim: number;
  readonly scaling?: RopeScalingLlama3 | RopeScalingLinear;
}

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
}
