/**
 * A least-recently-used map bounded by the total size of its values in bytes (a Map keeps insertion order, so
 * re-inserting on access makes the first key the least recently used). A value larger than the bound is not kept.
 */
export class ByteLruCache<K, V> {
  readonly #maxBytes: number;
  readonly #entries = new Map<K, { value: V; sizeBytes: number; expiresAtMs: number | undefined }>();
  #sizeBytes = 0;
  #numEvictions = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get sizeBytes(): number {
    return this.#sizeBytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get numEvictions(): number {
    return this.#numEvictions;
  }

  get(key: K, nowMs: number = Date.now()): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs !== undefined && nowMs >= entry.expiresAtMs) {
      this.delete(key);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Inserts or replaces; returns false (and keeps nothing) when the value alone exceeds the bound. */
  set(key: K, value: V, sizeBytes: number, expiresAtMs?: number): boolean {
    this.delete(key);
    if (sizeBytes > this.#maxBytes) return false;
    this.#entries.set(key, { value, sizeBytes, expiresAtMs });
    this.#sizeBytes += sizeBytes;
    for (const [oldKey, old] of this.#entries) {
      if (this.#sizeBytes <= this.#maxBytes) break;
      this.#entries.delete(oldKey);
      this.#sizeBytes -= old.sizeBytes;
      this.#numEvictions++;
    }
    return true;
  }

  delete(key: K): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    this.#sizeBytes -= entry.sizeBytes;
    return true;
  }

  clear(): void {
    this.#entries.clear();
    this.#sizeBytes = 0;
  }
}
