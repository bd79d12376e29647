import type { ModelSpec } from "./ModelSpec.js";

/**
 * A linear layer y = x·Wᵀ (+ b) with W of shape [outFeatures, inFeatures] (nn.Linear / GGUF row order).
 *
 * - `f32`: `data` is row-major [outFeatures, inFeatures].
 * - `nbits`: the exact layout of com.microsoft.MatMulNBits (bits 4 or 8, blockSize 32 by default):
 *   `packed` is [outFeatures, numBlocks, blockSize*bits/8] u8 with consecutive input elements packed low
 *   nibble first (bits = 4); `scales` and `zeroPoints` are [outFeatures, numBlocks] fp32, and the weight is
 *   w = (q − zeroPoint)·scale. numBlocks = ceil(inFeatures / blockSize). Dequantize with dequantizeLinear().
 */
export type LinearWeight =
  | { readonly kind: "f32"; readonly outFeatures: number; readonly inFeatures: number; readonly data: Float32Array }
  | {
      readonly kind: "nbits";
      readonly bits: 4 | 8;
      readonly blockSize: number;
      readonly outFeatures: number;
      readonly inFeatures: number;
      readonly packed: Uint8Array;
      readonly scales: Float32Array;
      readonly zeroPoints: Float32Array;
    };

/**
 * A LoRA branch beside a linear layer: y = x·Wᵀ + scale · (x·Aᵀ)·Bᵀ, with A [rank, inFeatures] and
 * B [outFeatures, rank] row-major fp32 (PEFT's lora_A / lora_B weights; scale = lora_alpha / r).
 */
export interface LoraBranch {
  readonly rank: number;
  readonly scale: number;
  readonly a: Float32Array;
  readonly b: Float32Array;
}

/** The projections of a decoder layer a LoRA adapter may touch (PEFT target module names without "_proj"). */
export const LORA_TARGETS = ["q", "k", "v", "o", "gate", "up", "down"] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LayerWeights {
  readonly inputNorm: Float32Array;
  readonly postAttentionNorm: Float32Array;
  readonly q: LinearWeight;
  readonly k: LinearWeight;
  readonly v: LinearWeight;
  readonly o: LinearWeight;
  readonly gate: LinearWeight;
  readonly up: LinearWeight;
  readonly down: LinearWeight;
  readonly qBias?: Float32Array;
  readonly kBias?: Float32Array;
  readonly vBias?: Float32Array;
  /** LoRA branches per projection (see LoraBranch), absent where the adapter has none. */
  readonly lora?: Partial<Record<LoraTarget, LoraBranch>>;
}

/**
 * All weights of a decoder, in HF conventions: q/k rows in HF's half-split RoPE order (GGUF's llama.cpp
 * permutation already undone), embeddings [vocabSize, hiddenSize] fp32.
 */
export interface ModelWeights {
  readonly spec: ModelSpec;
  readonly embedTokens: Float32Array;
  /** Input-only embedding rows [spec.numExtraEmbeddings, hiddenSize] for ids vocabSize… (trained link tokens). */
  readonly extraEmbeddings?: Float32Array;
  readonly layers: readonly LayerWeights[];
  readonly finalNorm: Float32Array;
  /** Untied output head; undefined when spec.tieWordEmbeddings (the head is embedTokens, possibly quantized as `tiedHead`). */
  readonly lmHead?: LinearWeight;
  /**
   * Optional quantized copy of the tied embedding used as the output head (e.g. GGUF's Q8_0 token_embd
   * carried as MatMulNBits bits=8), so the head does not cost a vocab×hidden fp32 MatMul weight.
   */
  readonly tiedHead?: LinearWeight;
}

/** Dequantize a linear weight to row-major fp32 [outFeatures, inFeatures]. */
export function dequantizeLinear(w: LinearWeight): Float32Array {
  if (w.kind === "f32") return w.data;
  const { outFeatures: n, inFeatures: k, blockSize, bits } = w;
  const numBlocks = Math.ceil(k / blockSize);
  const bytesPerBlock = (blockSize * bits) / 8;
  const out = new Float32Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < numBlocks; b++) {
      const scale = w.scales[r * numBlocks + b]!;
      const zp = w.zeroPoints[r * numBlocks + b]!;
      const base = (r * numBlocks + b) * bytesPerBlock;
      for (let j = 0; j < blockSize; j++) {
        const col = b * blockSize + j;
        if (col >= k) break;
        let q: number;
        if (bits === 4) {
          const byte = w.packed[base + (j >> 1)]!;
          q = j & 1 ? byte >> 4 : byte & 15;
        } else {
          q = w.packed[base + j]!;
        }
        out[r * k + col] = (q - zp) * scale;
      }
    }
  }
  return out;
}
