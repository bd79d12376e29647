import { rotateKeysInto, rotateKeysIntoTransposed, type DeltaRotation } from "../rope/rotateKeysInto.js";

/**
 * How a layer's key buffer is laid out: "tokenMajor" [KVH][capacity][D] (Attention-23 graphs' past keys
 * [1,KVH,P,D]) or "dimMajor" [KVH][D][capacity] (decomposed-attention graphs' past keys [1,KVH,D,P]).
 * Values are always [KVH][capacity][D].
 */
export type KeyLayout = "tokenMajor" | "dimMajor";

/**
 * One layer's keys to place: tokens [srcStart, srcStart + count) of a document's keys ([KVH][srcTokens][D]) into
 * slots [dstStart, dstStart + count) of a buffer of `dstCapacity` slots in `keyLayout`, rotated by `rotation`
 * (undefined: copied). Plain data, so a helper thread can run it on shared buffers (PlacementPool).
 */
export interface KeyPlacement {
  readonly srcKeys: Float32Array;
  readonly dstKeys: Float32Array;
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
  readonly srcValues: Float32Array;
  readonly dstValues: Float32Array;
}

export function placeKeys(p: KeyPlacement): void {
  const writeKeys = p.keyLayout === "dimMajor" ? rotateKeysIntoTransposed : rotateKeysInto;
  writeKeys(p.srcKeys, p.srcTokens, p.srcStart, p.dstKeys, p.dstCapacity, p.dstStart, p.count, p.numHeads, p.headDim, p.rotation);
}

export function placeValues(p: LayerPlacement): void {
  rotateKeysInto(p.srcValues, p.srcTokens, p.srcStart, p.dstValues, p.dstCapacity, p.dstStart, p.count, p.numHeads, p.headDim, undefined);
}

export function placeLayer(p: LayerPlacement): void {
  placeKeys(p);
  placeValues(p);
}

/** Floats a placement reads (keys and values). */
export function placementFloats(p: LayerPlacement): number {
  return 2 * p.numHeads * p.count * p.headDim;
}
