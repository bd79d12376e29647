import { ModelFormatError, UnsupportedModelError } from "../errors/KvLinkError.js";
import { bf16ToF32, fp16ToF32 } from "./fp16.js";
import { dequantizeQ4K, dequantizeQ5K, dequantizeQ6K } from "./dequantizeKQuants.js";
import { GGML_BLOCK_LAYOUT, GgmlType, ggmlTypeName } from "./ggmlType.js";

type BlockDecoder = (src: Uint8Array, out: Float32Array, numBlocks: number) => void;

const f = Math.fround;
const u16 = (s: Uint8Array, o: number): number => s[o]! | (s[o + 1]! << 8);
const u32 = (s: Uint8Array, o: number): number => (s[o]! | (s[o + 1]! << 8) | (s[o + 2]! << 16) | (s[o + 3]! << 24)) >>> 0;

/** Q4_0: d, qs[16]; byte j holds element j (low nibble) and j+16 (high); y = d·(q − 8). */
function q4_0(src: Uint8Array, out: Float32Array, numBlocks: number): void {
  for (let b = 0; b < numBlocks; b++) {
    const o = b * 18, y = b * 32;
    const d = fp16ToF32(u16(src, o));
    for (let j = 0; j < 16; j++) {
      const byte = src[o + 2 + j]!;
      out[y + j] = ((byte & 15) - 8) * d;
      out[y + j + 16] = ((byte >> 4) - 8) * d;
    }
  }
}

/** Q4_1: d, m, qs[16]; y = d·q + m. */
function q4_1(src: Uint8Array, out: Float32Array, numBlocks: number): void {
  for (let b = 0; b < numBlocks; b++) {
    const o = b * 20, y = b * 32;
    const d = fp16ToF32(u16(src, o));
    const m = fp16ToF32(u16(src, o + 2));
    for (let j = 0; j < 16; j++) {
      const byte = src[o + 4 + j]!;
      out[y + j] = f((byte & 15) * d) + m;
      out[y + j + 16] = f((byte >> 4) * d) + m;
    }
  }
}

/** Q5_0: d, qh (u32), qs[16]; the 5th bit of element i is bit i of qh; y = d·(q − 16). */
function q5_0(src: Uint8Array, out: Float32Array, numBlocks: number): void {
  for (let b = 0; b < numBlocks; b++) {
    const o = b * 22, y = b * 32;
    const d = fp16ToF32(u16(src, o));
    const qh = u32(src, o + 2);
    for (let j = 0; j < 16; j++) {
      const byte = src[o + 6 + j]!;
      const x0 = ((byte & 15) | (((qh >>> j) & 1) << 4)) - 16;
      const x1 = ((byte >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16;
      out[y + j] = x0 * d;
      out[y + j + 16] = x1 * d;
    }
  }
}

/** Q5_1: d, m, qh (u32), qs[16]; y = d·q + m with the 5-bit q of Q5_0 (no −16). */
function q5_1(src: Uint8Array, out: Float32Array, numBlocks: number): void {
  for (let b = 0; b < numBlocks; b++) {
    const o = b * 24, y = b * 32;
    const d = fp16ToF32(u16(src, o));
    const m = fp16ToF32(u16(src, o + 2));
    const qh = u32(src, o + 4);
    for (let j = 0; j < 16; j++) {
      const byte = src[o + 8 + j]!;
      const x0 = (byte & 15) | (((qh >>> j) & 1) << 4);
      const x1 = (byte >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      out[y + j] = f(x0 * d) + m;
      out[y + j + 16] = f(x1 * d) + m;
    }
  }
}

/** Q8_0: d, i8 qs[32]; y = d·q. */
function q8_0(src: Uint8Array, out: Float32Array, numBlocks: number): void {
  for (let b = 0; b < numBlocks; b++) {
    const o = b * 34, y = b * 32;
    const d = fp16ToF32(u16(src, o));
    for (let j = 0; j < 32; j++) out[y + j] = ((src[o + 2 + j]! << 24) >> 24) * d;
  }
}

function f32(src: Uint8Array, out: Float32Array, n: number): void {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
}
function f16(src: Uint8Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = fp16ToF32(u16(src, i * 2));
}
function bf16(src: Uint8Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = bf16ToF32(u16(src, i * 2));
}

const DECODERS: ReadonlyMap<number, BlockDecoder> = new Map<number, BlockDecoder>([
  [GgmlType.F32, f32],
  [GgmlType.F16, f16],
  [GgmlType.BF16, bf16],
  [GgmlType.Q4_0, q4_0],
  [GgmlType.Q4_1, q4_1],
  [GgmlType.Q5_0, q5_0],
  [GgmlType.Q5_1, q5_1],
  [GgmlType.Q8_0, q8_0],
  [GgmlType.Q4_K, dequantizeQ4K],
  [GgmlType.Q5_K, dequantizeQ5K],
  [GgmlType.Q6_K, dequantizeQ6K],
]);

/** Names of the tensor types dequantize() accepts. */
export const SUPPORTED_GGML_TYPES: readonly string[] = [...DECODERS.keys()].map(ggmlTypeName);

/** Bytes that `numElements` values of `type` occupy; throws for unknown types or partial blocks. */
export function ggmlByteLength(type: number, numElements: number, where = "tensor"): number {
  const layout = GGML_BLOCK_LAYOUT[type];
  if (!layout) {
    throw new UnsupportedModelError(`${where}: unknown ggml tensor type ${type}`, { details: { type, where } });
  }
  if (numElements % layout.blockSize !== 0) {
    throw new ModelFormatError(
      `${where}: ${numElements} elements of ${ggmlTypeName(type)} is not a whole number of ${layout.blockSize}-element blocks`,
      { details: { type, numElements, where } },
    );
  }
  return (numElements / layout.blockSize) * layout.blockBytes;
}

/**
 * Dequantizes `numElements` values of GGUF type `type` from their raw bytes to fp32, in storage order
 * (ne0 fastest). Pure: no I/O. Unsupported types throw UnsupportedModelError naming the supported ones;
 * a byte count that does not match throws ModelFormatError. `where` (e.g. the tensor name) goes in messages.
 */
export function dequantize(type: number, bytes: Uint8Array, numElements: number, where = "tensor"): Float32Array {
  const decode = DECODERS.get(type);
  if (!decode) {
    throw new UnsupportedModelError(
      `${where}: tensor type ${ggmlTypeName(type)} cannot be dequantized; supported: ${SUPPORTED_GGML_TYPES.join(", ")}`,
      { details: { type: ggmlTypeName(type), supported: SUPPORTED_GGML_TYPES, where } },
    );
  }
  const expected = ggmlByteLength(type, numElements, where);
  if (bytes.byteLength !== expected) {
    throw new ModelFormatError(
      `${where}: expected ${expected} bytes for ${numElements} ${ggmlTypeName(type)} values, got ${bytes.byteLength}`,
      { details: { type: ggmlTypeName(type), expected, actual: bytes.byteLength, where } },
    );
  }
  const out = new Float32Array(numElements);
  const layout = GGML_BLOCK_LAYOUT[type]!;
  decode(bytes, out, numElements / layout.blockSize);
  return out;
}
