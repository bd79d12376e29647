import { InvalidInputError } from "../../errors/KvLinkError.js";

/**
 * Symmetric int8 quantisation of one K or V block [numKvHeads, numTokens, headDim], one scale per (head, head-dim
 * channel), shared by all tokens. Per-channel grouping fits keys best (RoPE and outlier channels differ in
 * magnitude by channel, the observation behind KIVI), keeps the scales independent of the document length
 * (numKvHeads*headDim f32 per block), and bounds the error of every element by scale/2 = max|x_channel|/254.
 */
export interface Int8Block {
  /** numKvHeads * headDim scales, index h * headDim + d; value = q * scale. */
  readonly scales: Float32Array;
  readonly values: Int8Array;
}

export interface BlockShape {
  readonly numKvHeads: number;
  readonly numTokens: number;
  readonly headDim: number;
}

/** Quantises `block`; InvalidInputError when it holds a non-finite value (int8 cannot carry it). */
export function quantizeInt8PerChannel(block: Float32Array, shape: BlockShape): Int8Block {
  const { numKvHeads, numTokens, headDim } = shape;
  const scales = new Float32Array(numKvHeads * headDim);
  const values = new Int8Array(block.length);
  const maxAbs = new Float64Array(headDim);
  for (let h = 0; h < numKvHeads; h++) {
    maxAbs.fill(0);
    const base = h * numTokens * headDim;
    for (let t = 0; t < numTokens; t++) {
      const row = base + t * headDim;
      for (let d = 0; d < headDim; d++) {
        const x = block[row + d]!;
        if (!Number.isFinite(x)) {
          throw new InvalidInputError(`int8 cache encoding needs finite values; head ${h}, token ${t}, channel ${d} is ${x}`, {
            details: { head: h, token: t, channel: d },
          });
        }
        const a = Math.abs(x);
        if (a > maxAbs[d]!) maxAbs[d] = a;
      }
    }
    for (let d = 0; d < headDim; d++) scales[h * headDim + d] = maxAbs[d]! / 127;
    for (let t = 0; t < numTokens; t++) {
      const row = base + t * headDim;
      for (let d = 0; d < headDim; d++) {
        const s = scales[h * headDim + d]!;
        if (s === 0) continue; // all-zero channel stays 0
        const q = Math.round(block[row + d]! / s);
        values[row + d] = q > 127 ? 127 : q < -127 ? -127 : q;
      }
    }
  }
  return { scales, values };
}

/** Writes value = q * scale for every element into `out` (fp32, same length as `values`). */
export function dequantizeInt8PerChannel(q: Int8Block, shape: BlockShape, out: Float32Array): void {
  const { numKvHeads, numTokens, headDim } = shape;
  for (let h = 0; h < numKvHeads; h++) {
    const base = h * numTokens * headDim;
    const sBase = h * headDim;
    for (let t = 0; t < numTokens; t++) {
      const row = base + t * headDim;
      for (let d = 0; d < headDim; d++) out[row + d] = q.values[row + d]! * q.scales[sBase + d]!;
    }
  }
}
