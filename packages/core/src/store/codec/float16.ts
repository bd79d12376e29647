/**
 * IEEE 754 half precision (fp16) <-> fp32, written here because Node 20 has no Float16Array. Encoding rounds to
 * nearest, ties to even; overflow gives ±Infinity, tiny values become subnormals or ±0, NaN stays NaN (quiet).
 * fp16 data lives as raw bits in a Uint16Array.
 */
import { KvLayoutError } from "../../errors/KvLinkError.js";

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * fp16 bits of the fp32 whose raw bits are `x` (an unsigned 32-bit pattern). Normal results take one branch and
 * integer adds: rebias the exponent and round at bit 13 by adding 0xfff plus the lowest kept bit (ties to even;
 * a carry into the exponent is correct, up to Inf). Subnormal results add 0.5 as a float, which puts the rounded
 * subnormal mantissa in the low bits (the FPU rounds to nearest even). This is ~3x faster than rounding by cases
 * (placing fp16 KV converts every key), and gives the same bits for every input (test/core/unit/store/float16.test.ts).
 */
function halfBitsFromF32Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const f = x & 0x7fffffff;
  if (f >= 0x38800000 && f < 0x47800000) return sign | ((f - 0x38000000 + 0xfff + ((f >>> 13) & 1)) >>> 13);
  if (f >= 0x47800000) return sign | (f > 0x7f800000 ? 0x7e00 | ((f & 0x7fffff) >>> 13) : 0x7c00); // NaN stays quiet NaN; overflow: Inf
  // |value| < 2^-14: 0.5 + |value| in fp32 holds the subnormal's mantissa (rounded) in its low 10 bits. The sum is
  // formed in float64 and then rounded to fp32, which rounds once: below 2^-30 the float64 sum is exact or rounds to 0.5.
  u32Scratch[0] = f;
  f32Scratch[0] = f32Scratch[0]! + 0.5;
  return sign | (u32Scratch[0]! - 0x3f000000);
}

/** The fp16 bit pattern nearest to `value` (rounded to fp32 first, as a Float32Array store would). */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  return halfBitsFromF32Bits(u32Scratch[0]!);
}

function decodeHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

let halfToF32Table: Float32Array | undefined;

/** The value of fp16 bits `bits` (0..65535), exact, via a 64k-entry table built on first use. */
export function f16BitsToF32(bits: number): number {
  halfToF32Table ??= buildTable();
  return halfToF32Table[bits & 0xffff]!;
}

function buildTable(): Float32Array {
  const table = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) table[i] = decodeHalf(i);
  return table;
}

/** Writes the fp16 bits of every element of `src` into `dst` (same length). */
export function encodeFloat16(src: Float32Array, dst: Uint16Array): void {
  if (dst.length !== src.length) throw new KvLayoutError(`encodeFloat16: dst has ${dst.length} elements, src ${src.length}`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = halfBitsFromF32Bits(bits[i]!);
}

/** Writes the fp32 value of every fp16 pattern in `src` into `dst` (same length). */
export function decodeFloat16(src: Uint16Array, dst: Float32Array): void {
  if (dst.length !== src.length) throw new KvLayoutError(`decodeFloat16: dst has ${dst.length} elements, src ${src.length}`);
  halfToF32Table ??= buildTable();
  const table = halfToF32Table;
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]!]!;
}
