import type { DeltaRotation } from "../rope/rotateKeysInto.js";
import type { KvBlock, SequenceStatus } from "./Runtime.js";

/** A document's fp32 KV at positions 0..n-1 (a KvBlock without its positions, which placing assigns). */
export type DocumentKv = Pick<KvBlock, "keys" | "values" | "numTokens">;

/** The geometry every KV array of one model shares. */
export interface KvGeometry {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
}

/**
 * One sequence's KV cache as a runtime keeps it: filled slots, each with a position id. Implemented by
 * HostKvCache (KVLink signature, preallocated buffers) and PresentKvCache (standard signature).
 */
export interface SequenceKv {
  readonly length: number;
  readonly lastPosition: number;
  /** Position id of slot `slot` (< length). */
  positionAt(slot: number): number;
  /** Appends a validated block (arrays [KVH, n, D] per layer) after the filled slots. */
  append(block: KvBlock): void;
  /**
   * Appends tokens [start, n) of a document block (encoded at positions 0..n-1), giving slot positions
   * positionOffset + j and rotating keys by `rotation` on the way (undefined: copied as they are).
   */
  appendDocument(block: DocumentKv, start: number, positionOffset: number, rotation: DeltaRotation | undefined): void;
  /** Copies out slots [start, end) as owned arrays. */
  read(start: number, end: number): KvBlock;
  truncate(length: number): void;
  status(): SequenceStatus;
}
