import type { KvBlock } from "./Runtime.js";

/**
 * The runtime's resident document caches (fp32 KvBlocks at positions 0..n-1), bounded in bytes, least
 * recently used evicted first. They live next to the sequences, so linking a document into a prompt copies
 * it once, straight into the sequence's KV slots, instead of crossing the worker boundary per query.
 */
export class DocumentKvLru {
  readonly #maxBytes: number;
  readonly #entries = new Map<string, { block: KvBlock; bytes: number }>();
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
  get(key: string): KvBlock | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.block;
  }

  put(key: string, block: KvBlock): void {
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
