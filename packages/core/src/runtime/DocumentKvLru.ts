import type { SlotArray } from "./LayerPlacement.js";

/**
 * A document's KV as the runtime keeps it: per layer [KVH, n, D] at positions 0..n-1, in fp32, or in fp16 bits when
 * the graph's past inputs are float16 (placing it then copies values as they are and converts keys only to rotate).
 */
export interface ResidentDocument {
  readonly keys: readonly SlotArray[];
  readonly values: readonly SlotArray[];
  readonly numTokens: number;
}

/**
 * The runtime's resident document caches (ResidentDocument: fp32, or fp16 for float16-past graphs), bounded in bytes, least
 * recently used evicted first. They live next to the sequences, so linking a document into a prompt copies
 * it once, straight into the sequence's KV slots, instead of crossing the worker boundary per query.
 */
export class DocumentKvLru {
  readonly #maxBytes: number;
  readonly #entries = new Map<string, { block: ResidentDocument; bytes: number }>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get sizeBytes(): number {
    return this.#bytes;
  }
  get size(): number {
    return this.#entries.size;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The block, marked most recently used; undefined on a miss. */
  get(key: string): ResidentDocument | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.block;
  }

  put(key: string, block: ResidentDocument): void {
    const bytes = block.keys.reduce((s, a) => s + a.byteLength, 0) + block.values.reduce((s, a) => s + a.byteLength, 0);
    this.delete(key);
    this.#entries.set(key, { block, bytes });
    this.#bytes += bytes;
    for (const [k, e] of this.#entries) {
      if (this.#bytes <= this.#maxBytes || k === key) break;
      this.#entries.delete(k);
      this.#bytes -= e.bytes;
    }
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }
}
