import { InvariantError } from "../errors/KvLinkError.js";
import type { RopeSpec } from "./RopeSpec.js";
import { computeInvFreq } from "./computeInvFreq.js";
import { rerotateKeys } from "./rerotateKeys.js";

export interface RopeSelfTestOptions {
  /** Largest allowed |moved − direct| for unit-scale vectors. Default 1e-4. */
  readonly tolerance?: number;
}

/**
 * Start-up check that re-rotation is exact for `rope`: fixed pseudo-random keys rotated at p and then moved
 * p → q must equal the keys rotated directly at q (computed here with its own float64 RoPE). Throws
 * RopeUnsupportedError for a spec that cannot be re-rotated, InvariantError with the measured difference
 * otherwise; returns the measured max abs difference.
 */
export function ropeSelfTest(rope: RopeSpec, options: RopeSelfTestOptions = {}): number {
  const tolerance = options.tolerance ?? 1e-4;
  const invFreq = computeInvFreq(rope);
  const half = invFreq.length;
  const headDim = rope.rotaryDim + 2; // two pass-through dims
  const numHeads = 2;
  const fromPositions = [0, 5, 123, 4093, 70000, 31];
  const toPositions = [4093, 5, 1, 0, 70017, 131071];
  const numTokens = fromPositions.length;

  const raw = new Float64Array(numHeads * numTokens * headDim);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.sin(12.9898 * (i + 1) + 78.233 * Math.sin(i * 0.37));

  const direct = (positions: readonly number[]): Float32Array => {
    const out = new Float32Array(raw.length);
    for (let h = 0; h < numHeads; h++) {
      for (let t = 0; t < numTokens; t++) {
        const off = (h * numTokens + t) * headDim;
        for (let d = 0; d < headDim; d++) out[off + d] = raw[off + d]!;
        for (let i = 0; i < half; i++) {
          const angle = positions[t]! * invFreq[i]!;
          const x1 = raw[off + i]!;
          const x2 = raw[off + i + half]!;
          out[off + i] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
          out[off + i + half] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
        }
      }
    }
    return out;
  };
  const shape = { numHeads, numTokens, headDim };
  const atFrom = direct(fromPositions);
  const expected = direct(toPositions);
  const moved = rerotateKeys(atFrom, shape, { fromPositions, toPositions }, rope);
  const viaZero = rerotateKeys(new Float32Array(raw), shape, { fromPositions: new Array<number>(numTokens).fill(0), toPositions }, rope);

  let maxAbsDiff = 0;
  let worstIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.max(Math.abs(moved[i]! - expected[i]!), Math.abs(viaZero[i]! - expected[i]!));
    if (!(d <= maxAbsDiff)) {
      maxAbsDiff = d;
      worstIndex = i;
    }
  }
  if (!(maxAbsDiff <= tolerance)) {
    throw new InvariantError(
      `RoPE self-test failed: moving keys p → q differs from rotating at q directly by ${maxAbsDiff} (tolerance ${tolerance})`,
      { details: { maxAbsDiff, tolerance, worstIndex, rope } },
    );
  }
  return maxAbsDiff;
}
