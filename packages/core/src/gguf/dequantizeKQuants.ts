import { fp16ToF32 } from "./fp16.js";

/**
 * Super-block (256-element) dequantizers of the k-quants, following ggml-quants.c `dequantize_row_q*_K`
 * with fp32 rounding at each step. `src` holds whole blocks; `out` receives numBlocks·256 values.
 */
const f = Math.fround;
const QK_K = 256;

/** 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes at `s` (ggml get_scale_min_k4). */
function scaleMinK4(src: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [src[s + j]! & 63, src[s + j + 4]! & 63];
  const sc = (src[s + j + 4]! & 0xf) | ((src[s + j - 4]! >> 6) << 4);
  const mn = (src[s + j + 4]! >> 4) | ((src[s + j]! >> 6) << 4);
  return [sc, mn];
}

/** Q4_K: d, dmin (fp16), scales[12], qs[128]; y = d·sc·q − dmin·mn. */
export function dequantizeQ4K(src: Uint8Array, out: Float32Array, numBlocks: number): void {
  for (let b = 0; b < numBlocks; b++) {
    const o = b * 144;
    const d = fp16ToF32(src[o]! | (src[o + 1]! << 8));
    const dmin = fp16ToF32(src[o + 2]! | (src[o + 3]! << 8));
    let q = o + 16;
    let y = b * QK_K;
    for (let is = 0; is < 8; is += 2) {
      const [sc1, m1] = scaleMinK4(src, o + 4, is);
      const [sc2, m2] = scaleMinK4(src, o + 4, is + 1);
      const d1 = f(d * sc1), min1 = f(dmin * m1), d2 = f(d * sc2), min2 = f(dmin * m2);
      for (let l = 0; l < 32; l++) out[y + l] = f(d1 * (src[q + l]! & 0xf)) - min1;
      for (let l = 0; l < 32; l++) out[y + 32 + l] = f(d2 * (src[q + l]! >> 4)) - min2;
      q += 32;
      y += 64;
    }
  }
}

/** Q5_K: d, dmin, scales[12], qh[32], qs[128]; the 5th bit of each value comes from qh. */
export function dequantizeQ5K(src: Uint8Array, out: Float32Array, numBlocks: number): void {
  for (let b = 0; b < numBlocks; b++) {
    const o = b * 176;
    const d = fp16ToF32(src[o]! | (src[o + 1]! << 8));
    const dmin = fp16ToF32(src[o + 2]! | (src[o + 3]! << 8));
    const qh = o + 16;
    let ql = o + 48;
    let y = b * QK_K;
    let u1 = 1, u2 = 2;
    for (let is = 0; is < 8; is += 2) {
      const [sc1, m1] = scaleMinK4(src, o + 4, is);
      const [sc2, m2] = scaleMinK4(src, o + 4, is + 1);
      const d1 = f(d * sc1), min1 = f(dmin * m1), d2 = f(d * sc2), min2 = f(dmin * m2);
      for (let l = 0; l < 32; l++) {
        out[y + l] = f(d1 * ((src[ql + l]! & 0xf) + (src[qh + l]! & u1 ? 16 : 0))) - min1;
      }
      for (let l = 0; l < 32; l++) {
        out[y + 32 + l] = f(d2 * ((src[ql + l]! >> 4) + (src[qh + l]! & u2 ? 16 : 0))) - min2;
      }
      ql += 32;
      y += 64;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
}

/** Q6_K: ql[128], qh[64], i8 scales[16], then d (fp16, last); y = d·sc·(q − 32) with a 6-bit q. */
export function dequantizeQ6K(src: Uint8Array, out: Float32Array, numBlocks: number): void {
  for (let b = 0; b < numBlocks; b++) {
    const o = b * 210;
    const d = fp16ToF32(src[o + 208]! | (src[o + 209]! << 8));
    let ql = o, qh = o + 128, sc = o + 192;
    let y = b * QK_K;
    const scale = (i: number): number => ((src[sc + i]! << 24) >> 24); // int8
    for (let n = 0; n < QK_K; n += 128) {
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = src[qh + l]!;
        const q1 = ((src[ql + l]! & 0xf) | ((h & 3) << 4)) - 32;
        const q2 = ((src[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((src[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((src[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
        out[y + l] = f(d * scale(is)) * q1;
        out[y + l + 32] = f(d * scale(is + 2)) * q2;
        out[y + l + 64] = f(d * scale(is + 4)) * q3;
        out[y + l + 96] = f(d * scale(is + 6)) * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}
