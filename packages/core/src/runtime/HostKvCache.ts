import { rotateKeysInto, type DeltaRotation } from "../rope/rotateKeysInto.js";
import { invariant } from "../util/invariant.js";
import type { KvBlock, SequenceStatus } from "./Runtime.js";
import type { KvGeometry, SequenceKv } from "./SequenceKv.js";

/** Slots added at least per growth, so a decode loop reallocates rarely. */
const GROWTH_CHUNK = 256;

/**
 * Host-owned KV cache for the KVLink signature: per layer, K and V live in preallocated Float32Arrays laid out
 * [numKvHeads][capacity][headDim]. The whole buffer is fed to the graph as past [1, KVH, capacity, D] with no
 * copy (unused slots are blocked in attention_bias), and only the new tokens' KV is written back, so a decode
 * step moves O(S) KV through JS instead of the whole cache. Growth copies once per chunk.
 */
export class HostKvCache implements SequenceKv {
  readonly #geometry: KvGeometry;
  readonly #maxCapacityHint: number;
  #capacity = 0;
  #length = 0;
  #keys: Float32Array[];
  #values: Float32Array[];
  #positions = new Int32Array(0);

  /** `maxCapacityHint` (e.g. max_position_embeddings) caps chunked growth, never a required size. */
  constructor(geometry: KvGeometry, maxCapacityHint: number) {
    this.#geometry = geometry;
    this.#maxCapacityHint = maxCapacityHint;
    this.#keys = Array.from({ length: geometry.numLayers }, () => new Float32Array(0));
    this.#values = Array.from({ length: geometry.numLayers }, () => new Float32Array(0));
  }

  get length(): number {
    return this.#length;
  }
  get capacity(): number {
    return this.#capacity;
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

  /** The whole-capacity key buffer of `layer`, a [1, KVH, capacity, D] view for the graph's past input. */
  pastKeys(layer: number): Float32Array {
    return this.#keys[layer]!;
  }
  pastValues(layer: number): Float32Array {
    return this.#values[layer]!;
  }

  /** Makes room for `required` slots, copying the filled ones once into larger buffers. */
  ensureCapacity(required: number): void {
    if (required <= this.#capacity) return;
    const chunked = Math.ceil(Math.max(required, this.#capacity * 1.5, this.#capacity + GROWTH_CHUNK) / GROWTH_CHUNK) * GROWTH_CHUNK;
    const capacity = Math.max(required, Math.min(chunked, this.#maxCapacityHint));
    const { numLayers, numKvHeads, headDim } = this.#geometry;
    const grow = (old: Float32Array): Float32Array => {
      const next = new Float32Array(numKvHeads * capacity * headDim);
      for (let h = 0; h < numKvHeads; h++) {
        const from = h * this.#capacity * headDim;
        next.set(old.subarray(from, from + this.#length * headDim), h * capacity * headDim);
      }
      return next;
    };
    for (let l = 0; l < numLayers; l++) {
      this.#keys[l] = grow(this.#keys[l]!);
      this.#values[l] = grow(this.#values[l]!);
    }
    const positions = new Int32Array(capacity);
    positions.set(this.#positions.subarray(0, this.#length));
    this.#positions = positions;
    this.#capacity = capacity;
  }

  /** Writes per-layer [KVH, n, D] arrays into slots length..length+n-1 (growing if needed). */
  append(block: KvBlock): void {
    const n = block.numTokens;
    this.ensureCapacity(this.#length + n);
    const { numLayers, numKvHeads, headDim } = this.#geometry;
    const span = n * headDim;
    for (let l = 0; l < numLayers; l++) {
      const k = block.keys[l]!;
      const v = block.values[l]!;
      const dk = this.#keys[l]!;
      const dv = this.#values[l]!;
      for (let h = 0; h < numKvHeads; h++) {
        const dst = (h * this.#capacity + this.#length) * headDim;
        dk.set(k.subarray(h * span, (h + 1) * span), dst);
        dv.set(v.subarray(h * span, (h + 1) * span), dst);
      }
    }
    this.#positions.set(block.positions.subarray(0, n), this.#length);
    this.#length += n;
  }

  appendDocument(block: KvBlock, start: number, positionOffset: number, rotation: DeltaRotation | undefined): void {
    const n = block.numTokens - start;
    invariant(n >= 0, "document start beyond its tokens", { start, numTokens: block.numTokens });
    this.ensureCapacity(this.#length + n);
    const { numLayers, numKvHeads, headDim } = this.#geometry;
    for (let l = 0; l < numLayers; l++) {
      rotateKeysInto(block.keys[l]!, block.numTokens, start, this.#keys[l]!, this.#capacity, this.#length, n, numKvHeads, headDim, rotation);
      rotateKeysInto(block.values[l]!, block.numTokens, start, this.#values[l]!, this.#capacity, this.#length, n, numKvHeads, headDim, undefined);
    }
    for (let j = 0; j < n; j++) this.#positions[this.#length + j] = positionOffset + start + j;
    this.#length += n;
  }

  read(start: number, end: number): KvBlock {
    invariant(start >= 0 && start <= end && end <= this.#length, "read range out of bounds", { start, end, length: this.#length });
    const { numLayers, numKvHeads, headDim } = this.#geometry;
    const n = end - start;
    const copy = (src: Float32Array): Float32Array => {
      const out = new Float32Array(numKvHeads * n * headDim);
      for (let h = 0; h < numKvHeads; h++) {
        const from = (h * this.#capacity + start) * headDim;
        out.set(src.subarray(from, from + n * headDim), h * n * headDim);
      }
      return out;
    };
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let l = 0; l < numLayers; l++) {
      keys.push(copy(this.#keys[l]!));
      values.push(copy(this.#values[l]!));
    }
    return { keys, values, numTokens: n, positions: this.#positions.slice(start, end) };
  }

  truncate(length: number): void {
    invariant(length >= 0 && length <= this.#length, "truncate length out of range", { length, current: this.#length });
    this.#length = length;
  }
}
