import type { RopeSpec } from "./RopeSpec.js";
import { assertRopeRerotatable } from "./assertRopeRerotatable.js";

/**
 * RoPE inverse frequencies [rotaryDim/2] in float64: inv_freq_i = theta^(−2i/rotaryDim), then scaled as HF
 * transformers does: linear divides by factor; llama3 follows `_compute_llama3_parameters` (wavelengths
 * shorter than original/highFreqFactor unchanged, longer than original/lowFreqFactor divided by factor,
 * smooth interpolation in between). Throws RopeUnsupportedError for a spec assertRopeRerotatable refuses.
 */
export function computeInvFreq(rope: RopeSpec): Float64Array {
  assertRopeRerotatable(rope);
  const half = rope.rotaryDim / 2;
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.pow(rope.theta, (2 * i) / rope.rotaryDim);
  const scaling = rope.scaling;
  if (scaling === undefined) return invFreq;
  if (scaling.type === "linear") {
    for (let i = 0; i < half; i++) invFreq[i] = invFreq[i]! / scaling.factor;
    return invFreq;
  }
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldContext } = scaling;
  const lowFreqWavelen = oldContext / lowFreqFactor;
  const highFreqWavelen = oldContext / highFreqFactor;
  for (let i = 0; i < half; i++) {
    const f = invFreq[i]!;
    const wavelen = (2 * Math.PI) / f;
    if (wavelen > lowFreqWavelen) {
      invFreq[i] = f / factor;
    } else if (wavelen >= highFreqWavelen) {
      const smooth = (oldContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      invFreq[i] = ((1 - smooth) * f) / factor + smooth * f;
    }
  }
  return invFreq;
}
