/**
 * IEEE half (fp16) and bfloat16 bit patterns → fp32 numbers. Node 20 has no Float16Array, so GGUF's fp16
 * scales and F16 tensors are decoded from raw u16 bits. Subnormals, ±0, ±Infinity and NaN are exact.
 */
let table: Float32Array | undefined;

function decodeHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The fp32 value of the fp16 bit pattern `bits` (0..65535), via a 64k-entry table built on first use. */
export function fp16ToF32(bits: number): number {
  table ??= buildTable();
  return table[bits & 0xffff]!;
}

function buildTable(): Float32Array {
  const t = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = decodeHalf(i);
  return t;
}

const bf16Scratch = new DataView(new ArrayBuffer(4));

/** The fp32 value of the bfloat16 bit pattern `bits` (the top half of an fp32). */
export function bf16ToF32(bits: number): number {
  bf16Scratch.setUint32(0, (bits & 0xffff) << 16, true);
  return bf16Scratch.getFloat32(0, true);
}
