import { DisposedError } from "../errors/KvLinkError.js";
import type { ForwardArgs, ForwardResult, KvBlock, Runtime, SequenceId, SequenceStatus } from "../runtime/Runtime.js";

/**
 * One KV cache in the model's runtime, with the sequence operations of the Runtime bound to it. The model
 * creates it; the caller disposes it (or the model's dispose frees everything).
 */
export class DecoderSequence implements AsyncDisposable {
  readonly #runtime: Runtime;
  readonly #id: SequenceId;
  #status: SequenceStatus = { length: 0, lastPosition: -1 };
  #disposing: Promise<void> | undefined;

  /** Use DecoderModel.createSequence(). */
  constructor(runtime: Runtime, id: SequenceId) {
    this.#runtime = runtime;
    this.#id = id;
  }

  /** Filled slots, as of the last completed operation. */
  get length(): number {
    return this.#status.length;
  }
  /** Position id of the last slot (-1 when empty). */
  get lastPosition(): number {
    return this.#status.lastPosition;
  }
  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  async forward(args: ForwardArgs): Promise<ForwardResult> {
    this.#ensureNotDisposed();
    const result = await this.#runtime.forward(this.#id, args);
    this.#status = result.status;
    return result;
  }

  /** Places precomputed per-layer [KVH, n, D] blocks into the next slots (see Runtime.appendKv). */
  async appendKv(block: KvBlock, options?: { readonly transfer?: boolean }): Promise<SequenceStatus> {
    this.#ensureNotDisposed();
    this.#status = await this.#runtime.appendKv(this.#id, block, options);
    return this.#status;
  }

  async readKv(start: number, end: number): Promise<KvBlock> {
    this.#ensureNotDisposed();
    return this.#runtime.readKv(this.#id, start, end);
  }

  async truncate(length: number): Promise<SequenceStatus> {
    this.#ensureNotDisposed();
    this.#status = await this.#runtime.truncate(this.#id, length);
    return this.#status;
  }

  /** Frees the KV cache. Idempotent. */
  dispose(): Promise<void> {
    this.#disposing ??= this.#runtime.disposed ? Promise.resolve() : this.#runtime.disposeSequence(this.#id);
    return this.#disposing;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  #ensureNotDisposed(): void {
    if (this.#disposing !== undefined) throw new DisposedError(`sequence ${this.#id} has been disposed`);
  }
}
