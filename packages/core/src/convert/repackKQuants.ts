import { dequantize } from "../gguf/dequantize.js";
import { fp16ToF32 } from "../gguf/fp16.js";
import { GgmlType } from "../gguf/ggmlType.js";
import type { LinearWeight } from "../model/ModelWeights.js";

/*
 * Lossless repacks of GGUF k-quant and Q5_0 blocks into MatMulNBits layouts (ModelWeights' nbits form).
 * Which kernel then runs them is addLinear's choice. Measured on this project's 2-vCPU AMD EPYC with
 * onnxruntime-node 1.30.0, 2 threads, one [8960 × 1536] weight (Qwen2.5-1.5B's FFN size), ms per run:
 *
 *   weight as                               S = 1    S = 64   resident weight
 *   Q4_K → MatMulNBits 4-bit (+ zp fix-up)   3.0      18.6     ≈ 8.6 MB
 *   Q6_K → MatMulNBits 8-bit, block 16     140.4     158.1    ≈ 17 MB
 *   Q6_K → dequantized fp32 MatMul           4.4      23.0     55 MB
 *
 * ORT's CPU 8-bit MatMulNBits dequantizes B on every run, 32× slower than fp32 for one decode token, so
 * 8-bit weights (Q6_K, Q5_0, Q5_K, Q8_0) keep addLinear's default "dequantize" (fp32 MatMul). Accuracy: every
 * repack reproduces ggml's dequantization bit for bit (Q6_K, Q5_0) or to fp32 rounding of the min term
 * (Q4_K, Q5_K; ≤ 2⁻²¹ of the largest weight), and a tiny qwen2 GGUF's graph logits equal the float64
 * reference forward to 1e-4 (test/core/integration/convert/qwen2Gguf.int.test.ts).
 */

type NBits = Extract<LinearWeight, { kind: "nbits" }>;

const f = Math.fround;
const QK_K = 256;

/** 6-bit scale and min of Q4_K/Q5_K sub-block j (0..7) from the 12 packed bytes at `s` (ggml get_scale_min_k4). */
function scaleMinK4(src: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [src[s + j]! & 63, src[s + j + 4]! & 63];
  return [(src[s + j + 4]! & 0xf) | ((src[s + j - 4]! >> 6) << 4), (src[s + j + 4]! >> 4) | ((src[s + j]! >> 6) << 4)];
}

/**
 * Sets block `b`'s scale and zero point for w = f(d·sc)·q − f(dmin·mn): scale = f(d·sc), zero point =
 * f(dmin·mn)/scale, so (q − zp)·scale reproduces w to fp32 rounding (|dmin·mn|·2⁻²³). A sub-block with
 * sc = 0 holds the constant −dmin·mn: scale 1, zero point dmin·mn and q forced to 0, which is exact.
 * Returns whether q must be zeroed.
 */
function setAffine(scales: Float32Array, zeroPoints: Float32Array, b: number, d: number, sc: number, dmin: number, mn: number): boolean {
  const scale = f(d * sc);
  const min = f(dmin * mn);
  if (scale === 0) {
    scales[b] = 1;
    zeroPoints[b] = min;
    return true;
  }
  scales[b] = scale;
  zeroPoints[b] = min / scale;
  return false;
}

/**
 * Q4_K (144 B per 256: d, dmin, scales[12], qs[128]) → MatMulNBits bits 4, block 32: each 32-element
 * sub-block keeps its 4-bit q, scale d·sc and zero point dmin·mn/(d·sc) (see setAffine). Chunk c of qs holds
 * sub-block 2c in its low nibbles and 2c+1 in its high nibbles; MatMulNBits packs consecutive pairs.
 */
export function repackQ4K(src: Uint8Array, rows: number, cols: number): NBits {
  const numSuper = (rows * cols) / QK_K;
  if (src.byteLength !== numSuper * 144) dequantize(GgmlType.Q4_K, src, rows * cols); // reports the size mismatch
  const numBlocks = numSuper * 8;
  const packed = new Uint8Array(numBlocks * 16);
  const scales = new Float32Array(numBlocks);
  const zeroPoints = new Float32Array(numBlocks);
  for (let sb = 0; sb < numSuper; sb++) {
    const o = sb * 144;
    const d = fp16ToF32(src[o]! | (src[o + 1]! << 8));
    const dmin = fp16ToF32(src[o + 2]! | (src[o + 3]! << 8));
    for (let j = 0; j < 8; j++) {
      const b = sb * 8 + j;
      const [sc, mn] = scaleMinK4(src, o + 4, j);
      const zero = setAffine(scales, zeroPoints, b, d, sc, dmin, mn);
      if (zero) continue; // packed stays 0
      const qs = o + 16 + 32 * (j >> 1);
      const shift = (j & 1) * 4;
      const p = b * 16;
      for (let l = 0; l < 16; l++) {
        packed[p + l] = ((src[qs + 2 * l]! >> shift) & 15) | (((src[qs + 2 * l + 1]! >> shift) & 15) << 4);
      }
    }
  }
  return { kind: "nbits", bits: 4, blockSize: 32, outFeatures: rows, inFeatures: cols, packed, scales, zeroPoints };
}

/**
 * Q5_K (176 B: d, dmin, scales[12], qh[32], qs[128]) → MatMulNBits bits 8, block 32: the 5-bit q stored as
 * a byte, scale and zero point as for Q4_K (exact up to fp32 rounding of the zero point).
 */
export function repackQ5K(src: Uint8Array, rows: number, cols: number): NBits {
  const numSuper = (rows * cols) / QK_K;
  if (src.byteLength !== numSuper * 176) dequantize(GgmlType.Q5_K, src, rows * cols);
  const numBlocks = numSuper * 8;
  const packed = new Uint8Array(numBlocks * 32);
  const scales = new Float32Array(numBlocks);
  const zeroPoints = new Float32Array(numBlocks);
  for (let sb = 0; sb < numSuper; sb++) {
    const o = sb * 176;
    const d = fp16ToF32(src[o]! | (src[o + 1]! << 8));
    const dmin = fp16ToF32(src[o + 2]! | (src[o + 3]! << 8));
    for (let j = 0; j < 8; j++) {
      const b = sb * 8 + j;
      const [sc, mn] = scaleMinK4(src, o + 4, j);
      if (setAffine(scales, zeroPoints, b, d, sc, dmin, mn)) continue;
      const ql = o + 48 + 32 * (j >> 1);
      const shift = (j & 1) * 4;
      const hbit = 1 << j;
      for (let l = 0; l < 32; l++) {
        packed[b * 32 + l] = ((src[ql + l]! >> shift) & 15) + (src[o + 16 + l]! & hbit ? 16 : 0);
      }
    }
  }
  return { kind: "nbits", bits: 8, blockSize: 32, outFeatures: rows, inFeatures: cols, packed, scales, zeroPoints };
}

/**
 * Q6_K (210 B: ql[128], qh[64], i8 scales[16], d last) → MatMulNBits bits 8, block 16: element e of a
 * super-block belongs to sub-block e >> 4 (scale d·sc[e >> 4]) and keeps its 6-bit q, zero point 32. Exact:
 * (q − 32)·f(d·sc) is ggml's own expression.
 */
export function repackQ6K(src: Uint8Array, rows: number, cols: number): NBits {
  const numSuper = (rows * cols) / QK_K;
  if (src.byteLength !== numSuper * 210) dequantize(GgmlType.Q6_K, src, rows * cols);
  const numBlocks = numSuper * 16;
  const packed = new Uint8Array(numSuper * QK_K);
  const scales = new Float32Array(numBlocks);
  const zeroPoints = new Float32Array(numBlocks).fill(32);
  for (let sb = 0; sb < numSuper; sb++) {
    const o = sb * 210;
    const d = fp16ToF32(src[o + 208]! | (src[o + 209]! << 8));
    for (let k = 0; k < 16; k++) scales[sb * 16 + k] = f(d * ((src[o + 192 + k]! << 24) >> 24));
    const y0 = sb * QK_K;
    for (let half = 0; half < 2; half++) {
      const ql = o + 64 * half, qh = o + 128 + 32 * half, y = y0 + 128 * half;
      for (let l = 0; l < 32; l++) {
        const h = src[qh + l]!;
        packed[y + l] = (src[ql + l]! & 0xf) | ((h & 3) << 4);
        packed[y + l + 32] = (src[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4);
        packed[y + l + 64] = (src[ql + l]! >> 4) | (((h >> 4) & 3) << 4);
        packed[y + l + 96] = (src[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4);
      }
    }
  }
  return { kind: "nbits", bits: 8, blockSize: 16, outFeatures: rows, inFeatures: cols, packed, scales, zeroPoints };
}

/** Q5_0 (d, qh u32, qs[16]) → bits 8, block 32: the 5-bit q as a byte, scale d, zero point 16 (exact). */
export function repackQ5_0(src: Uint8Array, rows: number, cols: number): NBits {
  const numBlocks = (rows * cols) / 32;
  if (src.byteLength !== numBlocks * 22) dequantize(GgmlType.Q5_0, src, rows * cols);
  const packed = new Uint8Array(numBlocks * 32);
  const scales = new Float32Array(numBlocks);
  const zeroPoints = new Float32Array(numBlocks).fill(16);
  for (let b = 0; b < numBlocks; b++) {
    const o = b * 22;
    scales[b] = fp16ToF32(src[o]! | (src[o + 1]! << 8));
    const qh = (src[o + 2]! | (src[o + 3]! << 8) | (src[o + 4]! << 16) | (src[o + 5]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const byte = src[o + 6 + j]!;
      packed[b * 32 + j] = (byte & 15) | (((qh >>> j) & 1) << 4);
      packed[b * 32 + j + 16] = (byte >> 4) | (((qh >>> (j + 16)) & 1) << 4);
    }
  }
  return { kind: "nbits", bits: 8, blockSize: 32, outFeatures: rows, inFeatures: cols, packed, scales, zeroPoints };
}
