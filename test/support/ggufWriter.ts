/**
 * Writes small GGUF v3 files for tests: metadata of any GGUF value type, tensors of given types laid out
 * at aligned offsets, and block quantizers (Q4_0, Q4_1, Q8_0, F16) that mirror ggml's reference quantizers
 * closely enough for round-trip tests. Independent of packages/core/src/gguf (only fp16 encoding is here).
 */
import { writeFileSync } from "node:fs";

/** A metadata value; wrap numbers to force a GGUF type (default: u32 for non-negative integers, i32, f32). */
export type GgufMetaValue =
  | string
  | boolean
  | number
  | readonly string[]
  | readonly number[]
  | { readonly f32: number }
  | { readonly u64: bigint }
  | { readonly f32Array: readonly number[] };

export interface GgufTensorSpec {
  readonly name: string;
  /** ggml order: ne[0] (the row length) first. */
  readonly shape: readonly number[];
  readonly type: number;
  readonly data: Uint8Array;
}

export interface WriteGgufOptions {
  readonly metadata: Readonly<Record<string, GgufMetaValue>>;
  readonly tensors: readonly GgufTensorSpec[];
  readonly alignment?: number;
}

class Bytes {
  parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  i32(v: number): void { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b); }
  u64(v: number | bigint): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  f32(v: number): void { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b); }
  str(s: string): void { const b = Buffer.from(s, "utf8"); this.u64(b.length); this.push(b); }
}

function writeValue(out: Bytes, v: GgufMetaValue): void {
  const numType = (n: number): number => (Number.isInteger(n) ? (n >= 0 ? 4 : 5) : 6);
  const num = (t: number, n: number): void => (t === 4 ? out.u32(n) : t === 5 ? out.i32(n) : out.f32(n));
  if (typeof v === "string") { out.u32(8); out.str(v); return; }
  if (typeof v === "boolean") { out.u32(7); out.push(Buffer.from([v ? 1 : 0])); return; }
  if (typeof v === "number") { const t = numType(v); out.u32(t); num(t, v); return; }
  if (Array.isArray(v)) {
    out.u32(9);
    if (v.length > 0 && typeof v[0] === "string") {
      out.u32(8); out.u64(v.length);
      for (const s of v as string[]) out.str(s);
    } else {
      const nums = v as number[];
      const t = nums.every((n) => Number.isInteger(n)) ? (nums.every((n) => n >= 0) ? 4 : 5) : 6;
      out.u32(t); out.u64(nums.length);
      for (const n of nums) num(t, n);
    }
    return;
  }
  if ("f32" in v) { out.u32(6); out.f32(v.f32); return; }
  if ("u64" in v) { out.u32(10); out.u64(v.u64); return; }
  const arr = (v as { readonly f32Array: readonly number[] }).f32Array;
  out.u32(9); out.u32(6); out.u64(arr.length);
  for (const n of arr) out.f32(n);
}

/** Serializes a GGUF v3 file. */
export function encodeGguf(options: WriteGgufOptions): Buffer {
  const alignment = options.alignment ?? 32;
  const out = new Bytes();
  out.u32(0x46554747);
  out.u32(3);
  out.u64(options.tensors.length);
  const meta = { ...options.metadata };
  if (options.alignment !== undefined) meta["general.alignment"] = options.alignment;
  out.u64(Object.keys(meta).length);
  for (const [k, v] of Object.entries(meta)) {
    out.str(k);
    writeValue(out, v);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of options.tensors) {
    offsets.push(offset);
    offset += Math.ceil(t.data.length / alignment) * alignment;
  }
  options.tensors.forEach((t, i) => {
    out.str(t.name);
    out.u32(t.shape.length);
    for (const d of t.shape) out.u64(d);
    out.u32(t.type);
    out.u64(offsets[i]!);
  });
  out.push(Buffer.alloc((alignment - (out.length % alignment)) % alignment));
  for (const t of options.tensors) {
    out.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    out.push(Buffer.alloc((alignment - (t.data.length % alignment)) % alignment));
  }
  return Buffer.concat(out.parts);
}

export function writeGguf(path: string, options: WriteGgufOptions): void {
  writeFileSync(path, encodeGguf(options));
}

/** fp32 → fp16 bits, round to nearest even (handles subnormals, overflow to inf, NaN). */
export function f32ToF16Bits(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** The value an fp16 bit pattern stands for (for building expected results in tests). */
export function f16BitsToNumber(bits: number): number {
  const exp = (bits >> 10) & 0x1f, frac = bits & 0x3ff, sign = bits & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function encodeF32(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

export function encodeF16(values: ArrayLike<number>): Uint8Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]!);
  return new Uint8Array(out.buffer);
}

/** ggml quantize_row_q4_0_ref: d = max/−8 (signed max-abs), q = clamp(round(x/d) + 8). */
export function quantizeQ4_0(values: ArrayLike<number>): Uint8Array {
  const nb = values.length / 32;
  const out = new Uint8Array(nb * 18);
  for (let b = 0; b < nb; b++) {
    let amax = 0, max = 0;
    for (let j = 0; j < 32; j++) { const v = values[b * 32 + j]!; if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; } }
    const dBits = f32ToF16Bits(max / -8);
    const d = f16BitsToNumber(dBits);
    const id = d ? 1 / d : 0;
    out[b * 18] = dBits & 0xff; out[b * 18 + 1] = dBits >> 8;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, Math.max(0, Math.round(values[b * 32 + j]! * id) + 8));
      const q1 = Math.min(15, Math.max(0, Math.round(values[b * 32 + j + 16]! * id) + 8));
      out[b * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/** ggml quantize_row_q4_1_ref: d = (max − min)/15, m = min, q = clamp(round((x − m)/d)). */
export function quantizeQ4_1(values: ArrayLike<number>): Uint8Array {
  const nb = values.length / 32;
  const out = new Uint8Array(nb * 20);
  for (let b = 0; b < nb; b++) {
    let min = Infinity, max = -Infinity;
    for (let j = 0; j < 32; j++) { const v = values[b * 32 + j]!; min = Math.min(min, v); max = Math.max(max, v); }
    const dBits = f32ToF16Bits((max - min) / 15), mBits = f32ToF16Bits(min);
    const d = f16BitsToNumber(dBits);
    const id = d ? 1 / d : 0;
    out.set([dBits & 0xff, dBits >> 8, mBits & 0xff, mBits >> 8], b * 20);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, Math.max(0, Math.round((values[b * 32 + j]! - min) * id)));
      const q1 = Math.min(15, Math.max(0, Math.round((values[b * 32 + j + 16]! - min) * id)));
      out[b * 20 + 4 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/** ggml quantize_row_q8_0_ref: d = amax/127, q = round(x/d). */
export function quantizeQ8_0(values: ArrayLike<number>): Uint8Array {
  const nb = values.length / 32;
  const out = new Uint8Array(nb * 34);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(values[b * 32 + j]!));
    const dBits = f32ToF16Bits(amax / 127);
    const d = f16BitsToNumber(dBits);
    const id = d ? 1 / d : 0;
    out[b * 34] = dBits & 0xff; out[b * 34 + 1] = dBits >> 8;
    for (let j = 0; j < 32; j++) out[b * 34 + 2 + j] = Math.round(values[b * 32 + j]! * id) & 0xff;
  }
  return out;
}
