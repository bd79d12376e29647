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
  write(p.srcKeys, p.srcTokens, p.srcStart, p.dstKeys, p, p.keyLayout, p.rotation);
}

export function placeValues(p: LayerPlacement): void {
  write(p.srcValues, p.srcTokens, p.srcStart, p.dstValues, p, "tokenMajor", undefined);
}

/**
 * Copies a staged part of `p` (its keys, already rotated, or its values) from a token-major [KVH][count][D] region
 * into the slots, in the slots' layout (PlacementPool's helpers stage what they computed).
 */
export function placeStaged(region: SlotArray, p: LayerPlacement, part: "keys" | "values"): void {
  if (part === "keys") write(region, p.count, 0, p.dstKeys, p, p.keyLayout, undefined);
  else write(region, p.count, 0, p.dstValues, p, "tokenMajor", undefined);
}

/** True when writing `src` into `dst` needs arithmetic (rotation or fp16 rounding), not just a copy. */
export function needsArithmetic(src: SlotArray, dst: SlotArray, rotation: DeltaRotation | undefined): boolean {
  return rotation !== undefined || src instanceof Uint16Array !== dst instanceof Uint16Array;
}

type Destination = Pick<KeyPlacement, "dstCapacity" | "dstStart" | "count" | "numHeads" | "headDim">;

/** Tokens [srcStart, srcStart + count) of `src` ([KVH][srcTokens][D]) into slots of `dst` in `layout`, rotated. */
function write(
  src: SlotArray,
  srcTokens: number,
  srcStart: number,
  dst: SlotArray,
  g: Destination,
  layout: KeyLayout,
  rotation: DeltaRotation | undefined,
): void {
  const { dstCapacity, dstStart, count, numHeads, headDim } = g;
  if (src instanceof Float32Array && dst instanceof Float32Array) {
    const writeRows = layout === "dimMajor" ? rotateKeysIntoTransposed : rotateKeysInto;
    writeRows(src, srcTokens, srcStart, dst, dstCapacity, dstStart, count, numHeads, headDim, rotation);
    return;
  }
  if (layout !== "tokenMajor" || !(dst instanceof Uint16Array)) throw new Error("fp16 KV goes into token-major fp16 slots only");
  // fp16 slots, a head at a time: decode (fp16 documents), rotate in fp32 as rotateKeysInto does, encode. Whole
  // heads keep the per-call cost (typed-array views) off the per-token path.
  const n = count * headDim;
  for (let h = 0; h < numHeads; h++) {
    const srcBase = (h * srcTokens + srcStart) * headDim;
    const out = dst.subarray((h * dstCapacity + dstStart) * headDim, (h * dstCapacity + dstStart) * headDim + n);
    if (src instanceof Uint16Array && rotation === undefined) {
      out.set(src.subarray(srcBase, srcBase + n));
      continue;
    }
    let row: Float32Array;
    if (src instanceof Uint16Array) {
      row = scratch(0, n);
      decodeFloat16(src.subarray(srcBase, srcBase + n), row);
    } else {
      row = src.subarray(srcBase, srcBase + n);
    }
    if (rotation !== undefined) {
      const rotated = scratch(1, n);
      rotateKeysInto(row, count, 0, rotated, count, 0, count, 1, headDim, rotation);
      row = rotated;
    }
    encodeFloat16(row, out);
  }
}

const scratchBuffers = [new Float32Array(0), new Float32Array(0)];
/** Reusable fp32 scratch `which` (0 or 1) of `length` (this thread's; placement never interleaves on one thread). */
function scratch(which: 0 | 1, length: number): Float32Array {
  if (scratchBuffers[which]!.length < length) scratchBuffers[which] = new Float32Array(length);
  return scratchBuffers[which]!.subarray(0, length);
}

export function placeLayer(p: LayerPlacement): void {
  placeKeys(p);
  placeValues(p);
}

/** Floats a placement reads (keys and values). */
export function placementFloats(p: LayerPlacement): number {
  return 2 * p.numHeads * p.count * p.headDim;
}
