import { rotateKeysInto, type DeltaRotation } from "../rope/rotateKeysInto.js";
import { invariant } from "../util/invariant.js";
import type { KvBlock, SequenceStatus } from "./Runtime.js";
import type { DocumentKv, KvGeometry, SequenceKv } from "./SequenceKv.js";

/**
 * KV cache for the standard (Optimum) signature: the graph takes past [1, KVH, P, D] and returns present
 * [1, KVH, P+S, D], so the cache is simply the last present tensors. Cost: every step copies the whole cache
 * into ORT and back out (O(P) per token), which is why the KVLink signature keeps its cache host-side.
 */
export class PresentKvCache implements SequenceKv {
  readonly #geometry: KvGeometry;
  #length = 0;
  #keys: Float32Array[];
  #values: Float32Array[];
  #positions = new Int32Array(0);

  constructor(geometry: KvGeometry) {
    this.#geometry = geometry;
    this.#keys = Array.from({ length: geometry.numLayers }, () => new Float32Array(0));
    this.#values = Array.from({ length: geometry.numLayers }, () => new Float32Array(0));
  }

  get length(): number {
    return this.#length;
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
  pastKeys(layer: number): Float32Array {
    return this.#keys[layer]!;
  }
  pastValues(layer: number): Float32Array {
    return this.#values[layer]!;
  }

  /** Adopts the graph's present tensors (length + numNew slots) as the cache. */
  adoptPresent(keys: Float32Array[], values: Float32Array[], newPositions: Int32Array): void {
    const total = this.#length + newPositions.length;
    const { numKvHeads, headDim } = this.#geometry;
    for (const a of [...keys, ...values]) {
      invariant(a.length === numKvHeads * total * headDim, "present tensor has the wrong size", {
        expected: numKvHeads * total * headDim,
        actual: a.length,
      });
    }
    this.#keys = keys;
    this.#values = values;
    this.#appendPositions(newPositions);
  }

  appendDocument(block: DocumentKv, start: number, positionOffset: number, rotation: DeltaRotation | undefined): void {
    const n = block.numTokens - start;
    const { numLayers, numKvHeads, headDim } = this.#geometry;
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let l = 0; l < numLayers; l++) {
      const k = new Float32Array(numKvHeads * n * headDim);
      const v = new Float32Array(numKvHeads * n * headDim);
      rotateKeysInto(block.keys[l]!, block.numTokens, start, k, n, 0, n, numKvHeads, headDim, rotation);
      rotateKeysInto(block.values[l]!, block.numTokens, start, v, n, 0, n, numKvHeads, headDim, undefined);
      keys.push(k);
      values.push(v);
    }
    this.append({ keys, values, numTokens: n, positions: Int32Array.from({ length: n }, (_, j) => positionOffset + start + j) });
  }

  append(block: KvBlock): void {
    const { numLayers, numKvHeads, headDim } = this.#geometry;
    const n = block.numTokens;
    const total = this.#length + n;
    const concat = (old: Float32Array, add: Float32Array): Float32Array => {
      const out = new Float32Array(numKvHeads * total * headDim);
      for (let h = 0; h < numKvHeads; h++) {
        out.set(old.subarray(h * this.#length * headDim, (h + 1) * this.#length * headDim), h * total * headDim);
        out.set(add.subarray(h * n * headDim, (h + 1) * n * headDim), (h * total + this.#length) * headDim);
      }
      return out;
    };
    for (let l = 0; l < numLayers; l++) {
      this.#keys[l] = concat(this.#keys[l]!, block.keys[l]!);
      this.#values[l] = concat(this.#values[l]!, block.values[l]!);
    }
    this.#appendPositions(block.positions.subarray(0, n));
  }

  read(start: number, end: number): KvBlock {
    invariant(start >= 0 && start <= end && end <= this.#length, "read range out of bounds", { start, end, length: this.#length });
    return { ...this.#slice(start, end), numTokens: end - start, positions: this.#positions.slice(start, end) };
  }

  truncate(length: number): void {
    invariant(length >= 0 && length <= this.#length, "truncate length out of range", { length, current: this.#length });
    if (length === this.#length) return;
    const { keys, values } = this.#slice(0, length);
    this.#keys = keys;
    this.#values = values;
    this.#positions = this.#positions.slice(0, length);
    this.#length = length;
  }

  #slice(start: number, end: number): { keys: Float32Array[]; values: Float32Array[] } {
    const { numKvHeads, headDim } = this.#geometry;
    const n = end - start;
    const copy = (src: Float32Array): Float32Array => {
      const out = new Float32Array(numKvHeads * n * headDim);
      for (let h = 0; h < numKvHeads; h++) {
        const from = (h * this.#length + start) * headDim;
        out.set(src.subarray(from, from + n * headDim), h * n * headDim);
      }
      return out;
    };
    return { keys: this.#keys.map(copy), values: this.#values.map(copy) };
  }

  #appendPositions(add: Int32Array): void {
    const positions = new Int32Array(this.#length + add.length);
    positions.set(this.#positions.subarray(0, this.#length));
    positions.set(add, this.#length);
    this.#positions = positions;
    this.#length += add.length;
  }
}
