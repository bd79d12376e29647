import { DisposedError } from "../errors/KvLinkError.js";
import { DecoderSession } from "./DecoderSession.js";
import { applyCudaNumerics } from "./executionProvider.js";
import type {
  AppendDocumentArgs,
  CreateSequenceOptions,
  ForwardArgs,
  ForwardResult,
  KvBlock,
  Runtime,
  RuntimeInfo,
  RuntimeOptions,
  SequenceId,
  SequenceStatus,
} from "./Runtime.js";

/**
 * The Runtime on the calling thread: same logic as the worker (DecoderSession), no thread. Each forward pass
 * blocks the event loop, so use it for tests and tools, and RuntimeClient in services.
 */
export class InProcessRuntime implements Runtime {
  readonly #session: DecoderSession;
  #disposing: Promise<void> | undefined;

  private constructor(session: DecoderSession) {
    this.#session = session;
  }

  static async create(options: RuntimeOptions): Promise<InProcessRuntime> {
    if (options.executionProvider === "cuda" && options.providerSettings) applyCudaNumerics(options.providerSettings);
    return new InProcessRuntime(await DecoderSession.create(options));
  }

  get info(): RuntimeInfo {
    return this.#session.info;
  }
  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  createSequence(options?: CreateSequenceOptions): Promise<SequenceId> {
    return this.#live("createSequence", () => this.#session.createSequence(options));
  }
  forward(sequenceId: SequenceId, args: ForwardArgs): Promise<ForwardResult> {
    return this.#live("forward", () => this.#session.forward(sequenceId, args));
  }
  /** The block is always copied into the cache, so `transfer` changes nothing here. */
  appendKv(sequenceId: SequenceId, block: KvBlock, _options?: { readonly transfer?: boolean }): Promise<SequenceStatus> {
    return this.#live("appendKv", () => this.#session.appendKv(sequenceId, block));
  }
  /** The block is kept as given (not copied): do not modify it afterwards. */
  putDocument(key: string, block: KvBlock, _options?: { readonly transfer?: boolean }): Promise<void> {
    return this.#live("putDocument", () => this.#session.putDocument(key, block));
  }
  hasDocuments(keys: readonly string[]): Promise<boolean[]> {
    return this.#live("hasDocuments", () => this.#session.hasDocuments(keys));
  }
  readDocument(key: string): Promise<KvBlock | undefined> {
    return this.#live("readDocument", () => this.#session.readDocument(key));
  }
  appendDocument(sequenceId: SequenceId, key: string, append: AppendDocumentArgs): Promise<SequenceStatus> {
    return this.#live("appendDocument", () => this.#session.appendDocument(sequenceId, key, append));
  }
  readKv(sequenceId: SequenceId, start: number, end: number): Promise<KvBlock> {
    return this.#live("readKv", () => this.#session.readKv(sequenceId, start, end));
  }
  truncate(sequenceId: SequenceId, length: number): Promise<SequenceStatus> {
    return this.#live("truncate", () => this.#session.truncate(sequenceId, length));
  }
  async disposeSequence(sequenceId: SequenceId): Promise<void> {
    if (this.#disposing !== undefined) return;
    await this.#session.disposeSequence(sequenceId);
  }

  dispose(): Promise<void> {
    this.#disposing ??= this.#session.release();
    return this.#disposing;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  #live<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.#disposing !== undefined) return Promise.reject(new DisposedError(`runtime.${op}() called after dispose()`));
    return fn();
  }
}
