import type { RopeSpec } from "./RopeSpec.js";
import { computeInvFreq } from "./computeInvFreq.js";

export interface CosSinTable {
  /** [numPositions, rotaryDim/2], row r = cos(positions[r] · invFreq). */
  readonly cos: Float32Array;
  /** [numPositions, rotaryDim/2] */
  readonly sin: Float32Array;
  readonly numPositions: number;
  readonly halfDim: number;
}

/**
 * cos/sin of position × invFreq, angles computed in float64 and rounded once to fp32: the half-width layout of
 * ONNX RotaryEmbedding's cos_cache/sin_cache (pass positions 0..maxPositionEmbeddings−1 for a full cache).
 */
export function cosSinTable(rope: RopeSpec, positions: ArrayLike<number>): CosSinTable {
  const invFreq = computeInvFreq(rope);
  const halfDim = invFreq.length;
  const numPositions = positions.length;
  const cos = new Float32Array(numPositions * halfDim);
  const sin = new Float32Array(numPositions * halfDim);
  for (let r = 0; r < numPositions; r++) {
    const p = positions[r]!;
    for (let i = 0; i < halfDim; i++) {
      const angle = p * invFreq[i]!;
      cos[r * halfDim + i] = Math.cos(angle);
      sin[r * halfDim + i] = Math.sin(angle);
    }
  }
  return { cos, sin, numPositions, halfDim };
}
