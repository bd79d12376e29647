/** RoPE parameters: what rotates keys and queries, and so what re-rotation must reproduce exactly. */
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
