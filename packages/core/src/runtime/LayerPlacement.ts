import { rotateKeysInto, rotateKeysIntoTransposed, type DeltaRotation } from "../rope/rotateKeysInto.js";
import { decodeFloat16, encodeFloat16 } from "../store/codec/float16.js";

/**
 * How a layer's key buffer is laid out: "tokenMajor" [KVH][capacity][D] (Attention-23 graphs' past keys
 * [1,KVH,P,D]) or "dimMajor" [KVH][D][capacity] (decomposed-attention graphs' past keys [1,KVH,D,P]).
 * Values are always [KVH][capacity][D].
 */
export type KeyLayout = "tokenMajor" | "dimMajor";

/** A sequence's KV slots: fp32, or fp16 as raw bits (graphs with float16 past inputs). */
export type SlotArray = Float32Array | Uint16Array;

/**
 * One layer's keys to place: tokens [srcStart, srcStart + count) of a document's keys ([KVH][srcTokens][D]) into
 * slots [dstStart, dstStart + count) of a buffer of `dstCapacity` slots in `keyLayout`, rotated by `rotation`
 * (undefined: copied), and rounded to fp16 when the destination is a Uint16Array. Plain data, so a helper thread
 * can run it on shared buffers (PlacementPool).
 */
export interface KeyPlacement {
  /** fp32, or fp16 bits (a resident document of a float16-past graph; then the slots are fp16 too). */
  readonly srcKeys: SlotArray;
  readonly dstKeys: SlotArray;
  readonly srcTokens: number;
  readonly srcStart: number;
  readonly dstCapacity: number;
  readonly dstStart: number;
  readonly count: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly keyLayout: KeyLayout;
  readonly rotation: DeltaRotation | undefined;
}

/** One layer's share of placing a document in a sequence's slots: its keys, and its values (copied, same slots). */
export interface LayerPlacement extends KeyPlacement {
  readonly srcValues: SlotArray;
  readonly dstValues: SlotArray;
}

export function placeKeys(p: KeyPlacement): void {
  write(p.srcKeys, p.dstKeys, p, p.rotation);
}

export function placeValues(p: LayerPlacement): void {
  write(p.srcValues, p.dstValues, { ...p, keyLayout: "tokenMajor" }, undefined);
}

/** True when writing `src` into `dst` needs arithmetic (rotation or fp16 rounding), not just a copy. */
export function needsArithmetic(src: SlotArray, dst: SlotArray, rotation: DeltaRotation | undefined): boolean {
  return rotation !== undefined || src instanceof Uint16Array !== dst instanceof Uint16Array;
}

type Geometry = Omit<KeyPlacement, "srcKeys" | "dstKeys" | "rotation">;

function write(src: SlotArray, dst: SlotArray, g: Geometry, rotation: DeltaRotation | undefined): void {
  const { srcTokens, srcStart, dstCapacity, dstStart, count, numHeads, headDim } = g;
  if (src instanceof Float32Array && dst instanceof Float32Array) {
    const writeKeys = g.keyLayout === "dimMajor" ? rotateKeysIntoTransposed : rotateKeysInto;
    writeKeys(src, srcTokens, srcStart, dst, dstCapacity, dstStart, count, numHeads, headDim, rotation);
    return;
  }
  if (g.keyLayout !== "tokenMajor" || !(dst instanceof Uint16Array)) throw new Error("fp16 KV goes into token-major fp16 slots only");
  if (src instanceof Float32Array) {
    writeHalf(src, srcTokens, srcStart, dst, dstCapacity, dstStart, count, numHeads, headDim, rotation);
    return;
  }
  for (let h = 0; h < numHeads; h++) {
    const srcBase = (h * srcTokens + srcStart) * headDim;
    const dstBase = (h * dstCapacity + dstStart) * headDim;
    if (rotation === undefined) {
      dst.set(src.subarray(srcBase, srcBase + count * headDim), dstBase);
      continue;
    }
    // fp16 in and out: decode a token's row, rotate it in fp32 (as rotateKeysInto does), encode it.
    const row = rowScratch(headDim);
    const rotated = rowScratch2(headDim);
    for (let t = 0; t < count; t++) {
      const s = srcBase + t * headDim;
      decodeFloat16(src.subarray(s, s + headDim), row);
      rotateKeysInto(row, 1, 0, rotated, 1, 0, 1, 1, headDim, rotation);
      const d = dstBase + t * headDim;
      encodeFloat16(rotated, dst.subarray(d, d + headDim));
    }
  }
}

/** rotateKeysInto into fp16 slots (token-major): the same fp32 arithmetic, each result rounded to fp16 bits. */
function writeHalf(
  src: Float32Array,
  srcTokens: number,
  srcStart: number,
  dst: Uint16Array,
  dstCapacity: number,
  dstStart: number,
  count: number,
  numHeads: number,
  headDim: number,
  rotation: DeltaRotation | undefined,
): void {
  for (let h = 0; h < numHeads; h++) {
    const srcBase = (h * srcTokens + srcStart) * headDim;
    const dstBase = (h * dstCapacity + dstStart) * headDim;
    if (rotation === undefined) {
      encodeFloat16(src.subarray(srcBase, srcBase + count * headDim), dst.subarray(dstBase, dstBase + count * headDim));
      continue;
    }
    // Rotate a token into an fp32 row (the fp32 path's rounding), then encode the row: faster than one call per value.
    const { cos, sin, half } = rotation;
    const rotaryDim = 2 * half;
    const row = rowScratch(headDim);
    for (let t = 0; t < count; t++) {
      const s = srcBase + t * headDim;
      const d = dstBase + t * headDim;
      for (let i = 0; i < half; i++) {
        const x1 = src[s + i]!;
        const x2 = src[s + i + half]!;
        row[i] = x1 * cos[i]! - x2 * sin[i]!;
        row[i + half] = x2 * cos[i]! + x1 * sin[i]!;
      }
      for (let i = rotaryDim; i < headDim; i++) row[i] = src[s + i]!;
      encodeFloat16(row, dst.subarray(d, d + headDim));
    }
  }
}

let scratch = new Float32Array(0);
let scratch2 = new Float32Array(0);
/** Reusable fp32 rows of `length` (this thread's; placement never interleaves on one thread). */
function rowScratch(length: number): Float32Array {
  if (scratch.length !== length) scratch = new Float32Array(length);
  return scratch;
}
function rowScratch2(length: number): Float32Array {
  if (scratch2.length !== length) scratch2 = new Float32Array(length);
  return scratch2;
}

export function placeLayer(p: LayerPlacement): void {
  placeKeys(p);
  placeValues(p);
}

/** Floats a placement reads (keys and values). */
export function placementFloats(p: LayerPlacement): number {
  return 2 * p.numHeads * p.count * p.headDim;
}
