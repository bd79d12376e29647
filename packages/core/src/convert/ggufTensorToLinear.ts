import { UnsupportedModelError } from "../errors/KvLinkError.js";
import { dequantize } from "../gguf/dequantize.js";
import { fp16ToF32 } from "../gguf/fp16.js";
import { GgmlType } from "../gguf/ggmlType.js";
import type { LinearWeight } from "../model/ModelWeights.js";
import { quantizeLinear } from "../model/quantizeLinear.js";
import { repackQ4K, repackQ5_0, repackQ5K, repackQ6K } from "./repackKQuants.js";

/** "q4": keep GGUF 4/8-bit blocks as MatMulNBits (lossless), re-quantize other types to 4 bits; "fp32": dequantize all. */
export type ConvertQuant = "q4" | "fp32";

const BLOCK = 32;

/**
 * Maps one GGUF weight matrix (raw bytes, rows = outFeatures of `inFeatures` values, already in HF row order)
 * onto a LinearWeight. With quant "q4", without changing any quantized value:
 * - Q4_0, Q4_1 → bits 4, block 32 (nibbles re-paired, scale = d, zero point from m/d);
 * - Q4_K → bits 4, block 32 (one MatMulNBits block per sub-block: scale d·sc, zero point dmin·mn/(d·sc));
 * - Q8_0, Q5_0, Q5_K → bits 8, block 32; Q6_K → bits 8, block 16 (its sub-blocks are 16 wide).
 * Other types (Q5_1, Q2_K, Q3_K, F16, …) are dequantized and re-quantized to 4 bits with quantizeLinear (lossy).
 * With "fp32" everything is dequantized. How 8-bit weights then run is the graph's choice (addLinear).
 */
export function ggufTensorToLinear(
  type: number,
  bytes: Uint8Array,
  outFeatures: number,
  inFeatures: number,
  quant: ConvertQuant,
  where: string,
): LinearWeight {
  if (quant === "q4" && inFeatures % BLOCK === 0) {
    if (type === GgmlType.Q4_0 || type === GgmlType.Q4_1) return repack4(type, bytes, outFeatures, inFeatures);
    if (type === GgmlType.Q8_0) return repackQ8_0(bytes, outFeatures, inFeatures);
    if (type === GgmlType.Q5_0) return repackQ5_0(bytes, outFeatures, inFeatures);
    if (type === GgmlType.Q4_K && inFeatures % 256 === 0) return repackQ4K(bytes, outFeatures, inFeatures);
    if (type === GgmlType.Q5_K && inFeatures % 256 === 0) return repackQ5K(bytes, outFeatures, inFeatures);
    if (type === GgmlType.Q6_K && inFeatures % 256 === 0) return repackQ6K(bytes, outFeatures, inFeatures);
  }
  const data = dequantize(type, bytes, outFeatures * inFeatures, where);
  if (quant === "fp32") return { kind: "f32", outFeatures, inFeatures, data };
  if (quant !== "q4") throw new UnsupportedModelError(`unknown quant ${String(quant)}, expected "q4" or "fp32"`);
  return quantizeLinear(data, outFeatures, inFeatures, { bits: 4, blockSize: BLOCK });
}

/**
 * Q4_0 / Q4_1 → bits 4. GGUF byte j holds elements j (low nibble) and j+16 (high); MatMulNBits byte j holds
 * elements 2j (low) and 2j+1 (high). Q4_0: w = d·(q − 8) → scale d, zero point 8 (exact). Q4_1: w = d·q + m →
 * scale d, zero point −m/d (rounded to fp32: w is reproduced to within |m|·2⁻²⁴). A Q4_1 block with d = 0 holds
 * the constant m: it becomes scale 1, zero point −m, q = 0, which is exact.
 */
function repack4(type: number, src: Uint8Array, rows: number, cols: number): LinearWeight {
  const numBlocks = rows * (cols / BLOCK);
  const blockBytes = type === GgmlType.Q4_0 ? 18 : 20;
  const header = blockBytes - 16;
  if (src.byteLength !== numBlocks * blockBytes) {
    // Let dequantize() report the mismatch with its usual message.
    dequantize(type, src, rows * cols);
  }
  const packed = new Uint8Array(numBlocks * 16);
  const scales = new Float32Array(numBlocks);
  const zeroPoints = new Float32Array(numBlocks);
  const q = new Uint8Array(32);
  for (let b = 0; b < numBlocks; b++) {
    const o = b * blockBytes;
    const d = fp16ToF32(src[o]! | (src[o + 1]! << 8));
    for (let j = 0; j < 16; j++) {
      const byte = src[o + header + j]!;
      q[j] = byte & 15;
      q[j + 16] = byte >> 4;
    }
    if (type === GgmlType.Q4_0) {
      scales[b] = d;
      zeroPoints[b] = 8;
    } else {
      const m = fp16ToF32(src[o + 2]! | (src[o + 3]! << 8));
      if (d === 0) {
        scales[b] = 1;
        zeroPoints[b] = -m;
        q.fill(0);
      } else {
        scales[b] = d;
        zeroPoints[b] = -m / d;
      }
    }
    const p = b * 16;
    for (let j = 0; j < 16; j++) packed[p + j] = q[2 * j]! | (q[2 * j + 1]! << 4);
  }
  return { kind: "nbits", bits: 4, blockSize: BLOCK, outFeatures: rows, inFeatures: cols, packed, scales, zeroPoints };
}

/** Q8_0 → bits 8: stored u8 = q + 128, zero point 128, scale d (exact). */
function repackQ8_0(src: Uint8Array, rows: number, cols: number): LinearWeight {
  const numBlocks = rows * (cols / BLOCK);
  if (src.byteLength !== numBlocks * 34) dequantize(GgmlType.Q8_0, src, rows * cols);
  const packed = new Uint8Array(numBlocks * 32);
  const scales = new Float32Array(numBlocks);
  const zeroPoints = new Float32Array(numBlocks).fill(128);
  for (let b = 0; b < numBlocks; b++) {
    const o = b * 34;
    scales[b] = fp16ToF32(src[o]! | (src[o + 1]! << 8));
    for (let j = 0; j < 32; j++) packed[b * 32 + j] = (src[o + 2 + j]! + 128) & 0xff;
  }
  return { kind: "nbits", bits: 8, blockSize: BLOCK, outFeatures: rows, inFeatures: cols, packed, scales, zeroPoints };
}
