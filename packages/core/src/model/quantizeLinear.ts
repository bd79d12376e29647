import { InvalidInputError } from "../errors/KvLinkError.js";
import type { LinearWeight } from "./ModelWeights.js";

export interface QuantizeLinearOptions {
  readonly bits: 4 | 8;
  /** Elements per block along inFeatures; a power of two ≥ 16 (MatMulNBits' rule). Default 32. */
  readonly blockSize?: number;
}

/**
 * Quantizes a row-major fp32 weight [outFeatures, inFeatures] into the MatMulNBits layout (see LinearWeight):
 * asymmetric per-block min/max with a float zero point, scale = (max − min)/(2^bits − 1), zeroPoint = −min/scale,
 * q = clamp(round(w/scale + zeroPoint)). A constant block c gets scale |c| (1 when c = 0) and q = 0, so it is exact.
 * The round-trip error is at most scale/2 per element (plus fp32 rounding). The tail of a last partial block
 * is packed as q = 0 and ignored by dequantizeLinear.
 */
export function quantizeLinear(
  data: Float32Array,
  outFeatures: number,
  inFeatures: number,
  options: QuantizeLinearOptions,
): LinearWeight {
  const { bits, blockSize = 32 } = options;
  if (!Number.isInteger(outFeatures) || outFeatures <= 0 || !Number.isInteger(inFeatures) || inFeatures <= 0) {
    throw new InvalidInputError(`quantizeLinear: shape must be positive integers, got [${outFeatures}, ${inFeatures}]`);
  }
  if (data.length !== outFeatures * inFeatures) {
    throw new InvalidInputError(
      `quantizeLinear: data has ${data.length} values, expected ${outFeatures}×${inFeatures} = ${outFeatures * inFeatures}`,
    );
  }
  if (bits !== 4 && bits !== 8) throw new InvalidInputError(`quantizeLinear: bits must be 4 or 8, got ${String(bits)}`);
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new InvalidInputError(`quantizeLinear: blockSize must be a power of two ≥ 16, got ${blockSize}`);
  }
  const numBlocks = Math.ceil(inFeatures / blockSize);
  const bytesPerBlock = (blockSize * bits) / 8;
  const qMax = (1 << bits) - 1;
  const packed = new Uint8Array(outFeatures * numBlocks * bytesPerBlock);
  const scales = new Float32Array(outFeatures * numBlocks);
  const zeroPoints = new Float32Array(outFeatures * numBlocks);

  for (let r = 0; r < outFeatures; r++) {
    for (let b = 0; b < numBlocks; b++) {
      const start = r * inFeatures + b * blockSize;
      const count = Math.min(blockSize, inFeatures - b * blockSize);
      let min = Infinity;
      let max = -Infinity;
      for (let j = 0; j < count; j++) {
        const w = data[start + j]!;
        if (!Number.isFinite(w)) {
          throw new InvalidInputError(`quantizeLinear: non-finite weight ${w} at row ${r}, column ${b * blockSize + j}`);
        }
        if (w < min) min = w;
        if (w > max) max = w;
      }
      let scale = Math.fround((max - min) / qMax);
      if (scale === 0) scale = min === 0 ? 1 : Math.fround(Math.abs(min));
      const zeroPoint = Math.fround(-min / scale) + 0; // + 0 turns -0 into 0
      scales[r * numBlocks + b] = scale;
      zeroPoints[r * numBlocks + b] = zeroPoint;
      const base = (r * numBlocks + b) * bytesPerBlock;
      for (let j = 0; j < count; j++) {
        const q = Math.min(qMax, Math.max(0, Math.round(data[start + j]! / scale + zeroPoint)));
        if (bits === 8) packed[base + j] = q;
        else packed[base + (j >> 1)]! |= j & 1 ? q << 4 : q;
      }
    }
  }
  return { kind: "nbits", bits, blockSize, outFeatures, inFeatures, packed, scales, zeroPoints };
}
