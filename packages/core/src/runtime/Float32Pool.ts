/**
 * Reuses the large Float32Arrays of finished sequences' KV slots. A prompt over 10 documents of 512 tokens needs
 * ~240 MB of fresh slots; allocating (zero-filling, page-faulting) that per request cost more than the copies
 * themselves. Buffers come back as views of exactly the requested length; their contents are stale, which is
 * safe because a sequence only attends to slots it has written (unused slots are masked out).
 */
export class Float32Pool {
  readonly #maxBytes: number;
  readonly #free: Float32Array[] = [];
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get sizeBytes(): number {
    return this.#bytes;
  }

  /** A buffer of `length` floats: a pooled one (at most twice as large) when available, else a new one. */
  take(length: number): Float32Array {
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const n = this.#free[i]!.length;
      if (n >= length && n <= 2 * length && (best < 0 || n < this.#free[best]!.length)) best = i;
    }
    if (best < 0) return new Float32Array(length);
    const buf = this.#free.splice(best, 1)[0]!;
    this.#bytes -= buf.byteLength;
    return buf.length === length ? buf : buf.subarray(0, length);
  }

  /** A buffer of `length` fp16 values (raw bits), from the same pool: a view of take(⌈length / 2⌉)'s memory. */
  takeHalf(length: number): Uint16Array {
    const f = this.take(Math.ceil(length / 2));
    return new Uint16Array(f.buffer, f.byteOffset, length);
  }

  /** Returns a buffer (or a view from take()/takeHalf()) for reuse; the smallest ones are dropped past the byte cap. */
  give(view: Float32Array | Uint16Array): void {
    if (view.length === 0) return;
    const buf = new Float32Array(view.buffer, 0, view.buffer.byteLength / 4);
    this.#free.push(buf);
    this.#bytes += buf.byteLength;
    if (this.#bytes > this.#maxBytes) {
      this.#free.sort((a, b) => b.length - a.length);
      while (this.#bytes > this.#maxBytes && this.#free.length > 0) this.#bytes -= this.#free.pop()!.byteLength;
    }
  }

  clear(): void {
    this.#free.length = 0;
    this.#bytes = 0;
  }
}
