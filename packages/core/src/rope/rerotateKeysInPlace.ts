import { InvalidInputError, KvLayoutError } from "../errors/KvLinkError.js";
import type { RopeSpec } from "./RopeSpec.js";
import { computeInvFreq } from "./computeInvFreq.js";

/** A [numHeads, numTokens, headDim] key buffer (one layer of a KV cache, tokens contiguous per head). */
export interface KeyBufferShape {
  readonly numHeads: number;
  readonly numTokens: number;
  readonly headDim: number;
}

export interface RerotateKeysMove {
  /** Position each key was rotated at, one per moved token. */
  readonly fromPositions: ArrayLike<number>;
  /** Position each key must end up rotated at; same length as fromPositions. */
  readonly toPositions: ArrayLike<number>;
  /** First buffer token to move (tokens startToken .. startToken + fromPositions.length − 1). Default 0. */
  readonly startToken?: number;
}

/**
 * Moves post-RoPE keys from `fromPositions` to `toPositions` in place, by rotating each token by its delta
 * (RoPE rotations compose: R(q)·R(p)⁻¹ = R(q − p)). Angles are delta·invFreq in float64, so the result is
 * exact up to fp32 rounding. HF rotate_half layout: within each head, dims i and i + rotaryDim/2 form a pair;
 * dims ≥ rotaryDim pass through. Values are never rotated.
 */
export function rerotateKeysInPlace(keys: Float32Array, shape: KeyBufferShape, move: RerotateKeysMove, rope: RopeSpec): void {
  const { numHeads, numTokens, headDim } = shape;
  const { fromPositions, toPositions, startToken = 0 } = move;
  const n = fromPositions.length;
  const where = "rerotateKeys";
  for (const [key, value] of Object.entries({ numHeads, numTokens, headDim })) {
    if (!Number.isInteger(value) || value < 0) {
      throw new KvLayoutError(`${where}: shape.${key} must be a non-negative integer, got ${value}`, { details: { shape } });
    }
  }
  if (keys.length !== numHeads * numTokens * headDim) {
    throw new KvLayoutError(
      `${where}: keys has ${keys.length} values, expected [${numHeads}, ${numTokens}, ${headDim}] = ${numHeads * numTokens * headDim}`,
      { details: { shape, length: keys.length } },
    );
  }
  if (toPositions.length !== n) {
    throw new InvalidInputError(`${where}: ${n} fromPositions but ${toPositions.length} toPositions`);
  }
  if (!Number.isInteger(startToken) || startToken < 0 || startToken + n > numTokens) {
    throw new KvLayoutError(`${where}: tokens ${startToken}..${startToken + n - 1} are outside the buffer of ${numTokens} tokens`, {
      details: { startToken, numMoved: n, numTokens },
    });
  }
  if (rope.rotaryDim > headDim) {
    throw new KvLayoutError(`${where}: rope.rotaryDim ${rope.rotaryDim} exceeds headDim ${headDim}`);
  }
  const invFreq = computeInvFreq(rope);
  const half = invFreq.length;

  // Per moved token cos/sin of its delta; consecutive equal deltas (a shifted document) reuse one row.
  const cos = new Float64Array(n * half);
  const sin = new Float64Array(n * half);
  const identity = new Uint8Array(n);
  let lastDelta = Number.NaN;
  for (let t = 0; t < n; t++) {
    const from = fromPositions[t]!;
    const to = toPositions[t]!;
    if (!Number.isInteger(from) || from < 0 || !Number.isInteger(to) || to < 0) {
      throw new InvalidInputError(`${where}: token ${t} moves from position ${from} to ${to}; positions must be integers ≥ 0`);
    }
    const delta = to - from;
    if (delta === 0) {
      identity[t] = 1;
      continue;
    }
    if (delta === lastDelta) {
      cos.copyWithin(t * half, (t - 1) * half, t * half);
      sin.copyWithin(t * half, (t - 1) * half, t * half);
      continue;
    }
    for (let i = 0; i < half; i++) {
      const angle = delta * invFreq[i]!;
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
    lastDelta = delta;
  }

  for (let h = 0; h < numHeads; h++) {
    for (let t = 0; t < n; t++) {
      if (identity[t]) continue;
      const off = (h * numTokens + startToken + t) * headDim;
      for (let i = 0; i < half; i++) {
        const c = cos[t * half + i]!;
        const s = sin[t * half + i]!;
        const x1 = keys[off + i]!;
        const x2 = keys[off + i + half]!;
        keys[off + i] = x1 * c - x2 * s;
        keys[off + i + half] = x2 * c + x1 * s;
      }
    }
  }
}
