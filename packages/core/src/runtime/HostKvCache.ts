import type { PastKvType } from "../graph/buildDecoderGraph.js";
import type { Float32Pool } from "./Float32Pool.js";
import type { DeltaRotation } from "../rope/rotateKeysInto.js";
import { decodeFloat16 } from "../store/codec/float16.js";
import { placeLayer, type KeyLayout, type LayerPlacement, type SlotArray } from "./LayerPlacement.js";
import { invariant } from "../util/invariant.js";
import type { ResidentDocument } from "./DocumentKvLru.js";
import type { KvBlock, SequenceStatus } from "./Runtime.js";
import type { KvGeometry, SequenceKv } from "./SequenceKv.js";

export type { KeyLayout } from "./LayerPlacement.js";

/** Slots added per growth (rounded up to a multiple of it) once the cache holds SMALL_CAPACITY slots. */
const GROWTH_CHUNK = 256;
/** Below this capacity growth is by SMALL_GROWTH_CHUNK: a short sequence should not attend over 256 empty slots. */
const SMALL_CAPACITY = 1024;
const SMALL_GROWTH_CHUNK = 64;

export interface HostKvCacheOptions {
  /** Caps chunked growth (e.g. max_position_embeddings), never a required size. */
  readonly maxCapacityHint: number;
  /** Default "tokenMajor". */
  readonly keyLayout?: KeyLayout;
  /** Where slot buffers come from and go back to (reuse across sequences); default: plain allocation. */
  readonly pool?: Float32Pool;
  /**
   * Element type of the slots, as the graph's past inputs take them: "float32" (default) or "float16" (raw bits in
   * Uint16Arrays; token-major keys only). Blocks in and out stay fp32; fp16 slots round what is written.
   */
  readonly slotType?: PastKvType;
}

/**
 * Host-owned KV cache for the KVLink signature: per layer, K and V live in preallocated Float32Arrays (keys in
 * `keyLayout`, values [KVH][capacity][D]). The whole buffer is fed to the graph as past with capacity as P and
 * no copy (unused slots are blocked in attention_bias), and only the new tokens' KV is written back, so a
 * decode step moves O(S) KV through JS instead of the whole cache. Blocks in and out are [KVH, n, D].
 *
 * Growth is tight (+64 slots below 1024, then +256, rounded): both attention forms read every slot up to capacity each step, so a
 * 1.5× slack costs up to 50% more past traffic per step, while one copy of the cache per 256 tokens costs
 * about one step's worth of it (reasoned from the per-step costs in addDecomposedAttention.ts, not timed alone).
 */
export class HostKvCache implements SequenceKv {
  readonly #geometry: KvGeometry;
  readonly #maxCapacityHint: number;
  readonly #keyLayout: KeyLayout;
  readonly #pool: Float32Pool | undefined;
  readonly #half: boolean;
  #capacity = 0;
  #length = 0;
  #keys: SlotArray[];
  #values: SlotArray[];
  #positions = new Int32Array(0);

  /** `options` as a number is the maxCapacityHint (token-major keys). */
  constructor(geometry: KvGeometry, options: number | HostKvCacheOptions) {
    const opts = typeof options === "number" ? { maxCapacityHint: options } : options;
    this.#geometry = geometry;
    this.#maxCapacityHint = opts.maxCapacityHint;
    this.#keyLayout = opts.keyLayout ?? "tokenMajor";
    this.#pool = opts.pool;
    this.#half = opts.slotType === "float16";
    invariant(!this.#half || this.#keyLayout === "tokenMajor", "fp16 slots need token-major keys", { keyLayout: this.#keyLayout });
    this.#keys = Array.from({ length: geometry.numLayers }, () => this.#allocate(0));
    this.#values = Array.from({ length: geometry.numLayers }, () => this.#allocate(0));
  }

  get slotType(): PastKvType {
    return this.#half ? "float16" : "float32";
  }

  #allocate(length: number): SlotArray {
    if (this.#pool !== undefined && length > 0) return this.#half ? this.#pool.takeHalf(length) : this.#pool.take(length);
    return this.#half ? new Uint16Array(length) : new Float32Array(length);
  }

  get length(): number {
    return this.#length;
  }
  get capacity(): number {
    return this.#capacity;
  }
  get keyLayout(): KeyLayout {
    return this.#keyLayout;
  }
  get lastPosition(): number {
    return this.#length === 0 ? -1 : this.#positions[this.#length - 1]!;
  }
  positionAt(slot: number): number {
    invariant(slot >= 0 && slot < this.#length, "slot out of range", { slot, length: this.#length });
    return this.#positions[slot]!;
  }
  status(): SequenceStatus {
    return { length: this.#length, lastPosition: this.lastPosition };
  }

  /** The whole-capacity key buffer of `layer`: [1,KVH,capacity,D] (tokenMajor) or [1,KVH,D,capacity] (dimMajor). */
  pastKeys(layer: number): SlotArray {
    return this.#keys[layer]!;
  }
  /** The whole-capacity value buffer of `layer`, [1,KVH,capacity,D]. */
  pastValues(layer: number): SlotArray {
    return this.#values[layer]!;
  }

  /** Makes room for `required` slots, copying the filled ones once into larger buffers. */
  ensureCapacity(required: number): void {
    if (required <= this.#capacity) return;
    const chunk = this.#capacity < SMALL_CAPACITY ? SMALL_GROWTH_CHUNK : GROWTH_CHUNK;
    const chunked = Math.ceil(Math.max(required, this.#capacity + chunk) / chunk) * chunk;
    const capacity = Math.max(required, Math.min(chunked, this.#maxCapacityHint));
    const { numLayers, numKvHeads, headDim } = this.#geometry;
    // Copies `numRows` rows of `rowLength` filled elements from rows of stride oldStride to rows of newStride.
    const grow = (old: SlotArray, numRows: number, rowLength: number, oldStride: number, newStride: number): SlotArray => {
      const next = this.#allocate(numRows * newStride);
      for (let r = 0; r < numRows; r++) copyRow(old, r * oldStride, rowLength, next, r * newStride);
      this.#pool?.give(old);
      return next;
    };
    const len = this.#length;
    const cap = this.#capacity;
    for (let l = 0; l < numLayers; l++) {
      this.#keys[l] =
        this.#keyLayout === "dimMajor"
          ? grow(this.#keys[l]!, numKvHeads * headDim, len, cap, capacity)
          : grow(this.#keys[l]!, numKvHeads, len * headDim, cap * headDim, capacity * headDim);
      this.#values[l] = grow(this.#values[l]!, numKvHeads, len * headDim, cap * headDim, capacity * headDim);
    }
    const positions = new Int32Array(capacity);
    positions.set(this.#positions.subarray(0, len));
    this.#positions = positions;
    this.#capacity = capacity;
  }

  /** Writes per-layer [KVH, n, D] arrays into slots length..length+n-1 (growing if needed). */
  append(block: KvBlock): void {
    const plan = this.#plan(block, 0, undefined, (slots, at) => slots.set(block.positions.subarray(0, block.numTokens), at));
    for (const layer of plan.layers) placeLayer(layer);
    plan.commit();
  }

  appendDocument(block: ResidentDocument, start: number, positionOffset: number, rotation: DeltaRotation | undefined): void {
    const plan = this.planDocument(block, start, positionOffset, rotation);
    for (const layer of plan.layers) placeLayer(layer);
    plan.commit();
  }

  /**
   * appendDocument in two steps, so the copying can run elsewhere (PlacementPool's helper threads): reserves the
   * slots and returns each layer's work; after every layer has been placed, commit() makes the slots part of the
   * sequence. Nothing else may touch this cache in between.
   */
  planDocument(block: ResidentDocument, start: number, positionOffset: number, rotation: DeltaRotation | undefined): { layers: LayerPlacement[]; commit: () => void } {
    const n = block.numTokens - start;
    return this.#plan(block, start, rotation, (slots, at) => {
      for (let j = 0; j < n; j++) slots[at + j] = positionOffset + start + j;
    });
  }

  /** planDocument, with the slot positions written by `writePositions(positions, firstSlot)` at commit. */
  #plan(
    block: ResidentDocument,
    start: number,
    rotation: DeltaRotation | undefined,
    writePositions: (positions: Int32Array, firstSlot: number) => void,
  ): { layers: LayerPlacement[]; commit: () => void } {
    const n = block.numTokens - start;
    invariant(n >= 0, "document start beyond its tokens", { start, numTokens: block.numTokens });
    this.ensureCapacity(this.#length + n);
    const { numLayers, numKvHeads, headDim } = this.#geometry;
    const dstStart = this.#length;
    const layers: LayerPlacement[] = [];
    for (let l = 0; l < numLayers; l++) {
      layers.push({
        srcKeys: block.keys[l]!,
        srcValues: block.values[l]!,
        dstKeys: this.#keys[l]!,
        dstValues: this.#values[l]!,
        srcTokens: block.numTokens,
        srcStart: start,
        dstCapacity: this.#capacity,
        dstStart,
        count: n,
        numHeads: numKvHeads,
        headDim,
        keyLayout: this.#keyLayout,
        rotation,
      });
    }
    const capacity = this.#capacity;
    const commit = (): void => {
      invariant(this.#length === dstStart && this.#capacity === capacity, "the cache changed between planDocument and commit", { dstStart, length: this.#length });
      writePositions(this.#positions, dstStart);
      this.#length = dstStart + n;
    };
    return { layers, commit };
  }

  /** Hands the slot buffers back to the pool; the cache is empty afterwards. */
  release(): void {
    for (const a of [...this.#keys, ...this.#values]) this.#pool?.give(a);
    this.#keys = this.#keys.map(() => this.#allocate(0));
    this.#values = this.#values.map(() => this.#allocate(0));
    this.#capacity = 0;
    this.#length = 0;
  }

  read(start: number, end: number): KvBlock {
    invariant(start >= 0 && start <= end && end <= this.#length, "read range out of bounds", { start, end, length: this.#length });
    const { numLayers, numKvHeads, headDim } = this.#geometry;
    const n = end - start;
    const cap = this.#capacity;
    const copyTokenMajor = (src: SlotArray): Float32Array => {
      const out = new Float32Array(numKvHeads * n * headDim);
      for (let h = 0; h < numKvHeads; h++) copyRow(src, (h * cap + start) * headDim, n * headDim, out, h * n * headDim);
      return out;
    };
    const copyDimMajor = (src: SlotArray): Float32Array => {
      const out = new Float32Array(numKvHeads * n * headDim);
      for (let h = 0; h < numKvHeads; h++) {
        for (let d = 0; d < headDim; d++) {
          const row = (h * headDim + d) * cap + start;
          for (let t = 0, o = h * n * headDim + d; t < n; t++, o += headDim) out[o] = src[row + t]!;
        }
      }
      return out;
    };
    const copyKeys = this.#keyLayout === "dimMajor" ? copyDimMajor : copyTokenMajor;
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let l = 0; l < numLayers; l++) {
      keys.push(copyKeys(this.#keys[l]!));
      values.push(copyTokenMajor(this.#values[l]!));
    }
    return { keys, values, numTokens: n, positions: this.#positions.slice(start, end) };
  }

  truncate(length: number): void {
    invariant(length >= 0 && length <= this.#length, "truncate length out of range", { length, current: this.#length });
    this.#length = length;
  }
}

/** dst[to..to+length) = src[from..from+length), decoding fp16 bits into an fp32 destination (same types: a copy). */
function copyRow(src: SlotArray, from: number, length: number, dst: SlotArray, to: number): void {
  const part = src.subarray(from, from + length);
  if (dst instanceof Float32Array && part instanceof Uint16Array) decodeFloat16(part, dst.subarray(to, to + length));
  else if (dst instanceof Uint16Array && part instanceof Float32Array) throw new Error("copyRow: fp32 into fp16 slots must go through placeLayer");
  else (dst as Float32Array).set(part as Float32Array, to);
}
