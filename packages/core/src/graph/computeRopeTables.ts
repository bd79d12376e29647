import { RopeUnsupportedError } from "../errors/KvLinkError.js";
import type { RopeSpec } from "../model/ModelSpec.js";

/**
 * RoPE inverse frequencies inv_freq[i] = theta^(−2i/rotaryDim), i < rotaryDim/2, in float64, with the model's
 * scaling applied:
 * - `linear`: inv_freq / factor (the same as dividing positions by factor);
 * - `llama3`: HF `_compute_llama3_parameters`: wavelengths longer than original/lowFreqFactor are divided by
 *   factor, shorter than original/highFreqFactor are kept, and the band in between is interpolated with
 *   smooth = (original/wavelen − low) / (high − low).
 */
export function computeRopeInvFreq(rope: RopeSpec): Float64Array {
  const { theta, rotaryDim } = rope;
  if (!Number.isInteger(rotaryDim) || rotaryDim <= 0 || rotaryDim % 2 !== 0) {
    throw new RopeUnsupportedError(`rope.rotaryDim must be a positive even integer, got ${rotaryDim}`, {
      details: { rotaryDim },
    });
  }
  if (!(theta > 0)) throw new RopeUnsupportedError(`rope.theta must be > 0, got ${theta}`, { details: { theta } });
  const half = rotaryDim / 2;
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.pow(theta, (2 * i) / rotaryDim);
  const scaling = rope.scaling;
  if (scaling === undefined) return invFreq;
  if (!(scaling.factor > 0)) {
    throw new RopeUnsupportedError(`rope.scaling.factor must be > 0, got ${scaling.factor}`, { details: { ...scaling } });
  }
  if (scaling.type === "linear") return invFreq.map((f) => f / scaling.factor);
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: original } = scaling;
  if (!(highFreqFactor > lowFreqFactor)) {
    throw new RopeUnsupportedError(
      `llama3 rope scaling needs highFreqFactor > lowFreqFactor, got ${highFreqFactor} <= ${lowFreqFactor}`,
      { details: { ...scaling } },
    );
  }
  const lowFreqWavelen = original / lowFreqFactor;
  const highFreqWavelen = original / highFreqFactor;
  return invFreq.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highFreqWavelen) return f;
    if (wavelen > lowFreqWavelen) return f / factor;
    const smooth = (original / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

/**
 * cos/sin caches [numPositions, rotaryDim/2] (row p = cos/sin of p·inv_freq, computed in float64, stored fp32)
 * in the layout of ONNX RotaryEmbedding's cos_cache/sin_cache inputs.
 */
export function computeRopeCosSinCache(
  rope: RopeSpec,
  numPositions: number,
): { readonly cos: Float32Array; readonly sin: Float32Array } {
  const invFreq = computeRopeInvFreq(rope);
  const half = invFreq.length;
  const cos = new Float32Array(numPositions * half);
  const sin = new Float32Array(numPositions * half);
  for (let p = 0; p < numPositions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * invFreq[i]!;
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
