import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { DisposedError, InvalidInputError, WorkerCrashedError } from "../errors/KvLinkError.js";
import { fromWireError } from "../errors/wire.js";
import { applyCudaNumerics } from "./executionProvider.js";
import { silentLogger, type Logger } from "../util/Logger.js";
import { siblingModuleUrl, spawnWorker } from "./spawnWorker.js";
import { kvBlockBuffers, type RuntimeOp, type RuntimeOps, type RuntimeRequest, type RuntimeResponse, type WorkerInit } from "./protocol.js";
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

export interface RuntimeClientOptions extends RuntimeOptions {
  /**
   * Entry module of the worker; default `runtime.worker` next to this module (`.js` in dist, `.ts` under tsx).
   * Lets an embedder wrap the worker (instrumentation, fault injection in tests).
   */
  readonly workerUrl?: URL;
}

interface Pending {
  readonly op: RuntimeOp;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/** The worker entry next to this module: `.ts` when running from source under tsx, `.js` in dist. */
function defaultWorkerUrl(): URL {
  return siblingModuleUrl("runtime.worker", import.meta.url);
}

/**
 * The main-thread side of the worker runtime: one worker per model, which loads the ONNX session once and keeps
 * every sequence's KV cache, so `InferenceSession.run` never blocks this thread. Calls become RuntimeRequests;
 * errors come back rebuilt with their class and code; if the worker dies, every pending and later call rejects
 * with WorkerCrashedError. The worker is unref'd while idle, so an idle runtime does not keep the process alive.
 */
export class RuntimeClient implements Runtime {
  readonly info: RuntimeInfo;
  readonly #worker: Worker;
  readonly #logger: Logger;
  readonly #pending = new Map<number, Pending>();
  #nextRequestId = 1;
  #crash: WorkerCrashedError | undefined;
  #disposing: Promise<void> | undefined;

  private constructor(worker: Worker, info: RuntimeInfo, logger: Logger) {
    this.#worker = worker;
    this.info = info;
    this.#logger = logger;
    worker.on("message", (message: RuntimeResponse) => this.#onMessage(message));
    worker.on("error", (error) => this.#onCrash(new WorkerCrashedError(`the inference worker threw: ${error.message}`, { cause: error })));
    worker.on("exit", (code) => {
      if (this.#disposing === undefined) {
        this.#onCrash(new WorkerCrashedError(`the inference worker exited unexpectedly with code ${code}`, { details: { exitCode: code } }));
      }
    });
    worker.unref();
  }

  /** Starts the worker and waits until it has loaded the model (load errors keep their class). */
  static async create(options: RuntimeClientOptions): Promise<RuntimeClient> {
    const logger = options.logger ?? silentLogger;
    const init: WorkerInit = {
      modelPath: options.modelPath,
      spec: options.spec,
      executionProvider: options.executionProvider ?? "cpu",
      ...(options.providerSettings !== undefined ? { providerSettings: options.providerSettings } : {}),
      numThreads: options.numThreads ?? availableParallelism(),
      documentCacheBytes: options.documentCacheBytes ?? 2 * 1024 ** 3,
      ...(options.placementThreads !== undefined ? { placementThreads: options.placementThreads } : {}),
    };
    const started = Date.now();
    // Before the worker exists: CUDA reads the process environment, which a worker only copies.
    if (init.executionProvider === "cuda" && init.providerSettings) applyCudaNumerics(init.providerSettings);
    const worker = spawnWorker(options.workerUrl ?? defaultWorkerUrl(), init);
    const listeners: { message?: (m: RuntimeResponse) => void; error?: (e: Error) => void; exit?: (code: number) => void } = {};
    // Remove only our own listeners: Worker keeps internal ones (removeAllListeners breaks message delivery).
    const detach = (): void => {
      if (listeners.message) worker.off("message", listeners.message);
      if (listeners.error) worker.off("error", listeners.error);
      if (listeners.exit) worker.off("exit", listeners.exit);
    };
    try {
      const info = await new Promise<RuntimeInfo>((resolve, reject) => {
        listeners.message = (message) => {
          if (message.kind === "ready") resolve(message.info);
          else if (message.kind === "loadFailed") reject(fromWireError(message.error));
          else reject(new WorkerCrashedError(`the inference worker sent "${message.kind}" before loading the model`));
        };
        listeners.error = (error) => reject(new WorkerCrashedError(`the inference worker failed to start: ${error.message}`, { cause: error }));
        listeners.exit = (code) => reject(new WorkerCrashedError(`the inference worker exited with code ${code} while loading`));
        worker.on("message", listeners.message);
        worker.on("error", listeners.error);
        worker.on("exit", listeners.exit);
      });
      detach();
      logger.info({ modelPath: options.modelPath, signature: info.signature, numThreads: info.numThreads, ms: Date.now() - started }, "runtime worker ready");
      return new RuntimeClient(worker, info, logger);
    } catch (error) {
      detach();
      await worker.terminate();
      throw error;
    }
  }

  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  createSequence(options: CreateSequenceOptions = {}): Promise<SequenceId> {
    return this.#call("createSequence", options);
  }
  forward(sequenceId: SequenceId, forward: ForwardArgs): Promise<ForwardResult> {
    return this.#call("forward", { sequenceId, forward });
  }
  appendKv(sequenceId: SequenceId, block: KvBlock, options?: { readonly transfer?: boolean }): Promise<SequenceStatus> {
    return this.#call("appendKv", { sequenceId, block }, options?.transfer ? kvBlockBuffers(block) : []);
  }
  putDocument(key: string, block: KvBlock, options?: { readonly transfer?: boolean }): Promise<void> {
    return this.#call("putDocument", { key, block }, options?.transfer ? kvBlockBuffers(block) : []).then(() => undefined);
  }
  hasDocuments(keys: readonly string[]): Promise<boolean[]> {
    return this.#call("hasDocuments", { keys });
  }
  readDocument(key: string): Promise<KvBlock | undefined> {
    return this.#call("readDocument", { key }).then((block) => block ?? undefined);
  }
  appendDocument(sequenceId: SequenceId, key: string, append: AppendDocumentArgs): Promise<SequenceStatus> {
    return this.#call("appendDocument", { sequenceId, key, append });
  }
  readKv(sequenceId: SequenceId, start: number, end: number): Promise<KvBlock> {
    return this.#call("readKv", { sequenceId, start, end });
  }
  truncate(sequenceId: SequenceId, length: number): Promise<SequenceStatus> {
    return this.#call("truncate", { sequenceId, length });
  }
  async disposeSequence(sequenceId: SequenceId): Promise<void> {
    if (this.#disposing !== undefined || this.#crash !== undefined) return; // everything is gone already
    await this.#call("disposeSequence", { sequenceId });
  }

  /** Lets queued requests finish, frees the session, then terminates the worker. Idempotent. */
  dispose(): Promise<void> {
    this.#disposing ??= (async () => {
      if (this.#crash === undefined) {
        try {
          await this.#send("release", {});
        } catch (error) {
          this.#logger.warn({ err: error }, "runtime worker release failed; terminating");
        }
      }
      await this.#worker.terminate();
      this.#rejectAll(new DisposedError("the runtime was disposed while this call was pending"));
    })();
    return this.#disposing;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  #call<K extends RuntimeOp>(op: K, args: RuntimeOps[K]["args"], transfer: ArrayBuffer[] = []): Promise<RuntimeOps[K]["result"]> {
    if (this.#disposing !== undefined) return Promise.reject(new DisposedError(`runtime.${op}() called after dispose()`));
    return this.#send(op, args, transfer);
  }

  #send<K extends RuntimeOp>(op: K, args: RuntimeOps[K]["args"], transfer: ArrayBuffer[] = []): Promise<RuntimeOps[K]["result"]> {
    if (this.#crash !== undefined) {
      return Promise.reject(new WorkerCrashedError(`runtime.${op}(): the inference worker is gone (${this.#crash.message})`, { cause: this.#crash }));
    }
    const id = this.#nextRequestId++;
    return new Promise<RuntimeOps[K]["result"]>((resolve, reject) => {
      this.#pending.set(id, { op, resolve: resolve as (value: unknown) => void, reject });
      if (this.#pending.size === 1) this.#worker.ref();
      try {
        this.#worker.postMessage({ id, op, args } as RuntimeRequest, transfer);
      } catch (error) {
        // e.g. DataCloneError: an argument holds a detached (already transferred) buffer.
        this.#settle(id);
        const message = error instanceof Error ? error.message : String(error);
        reject(new InvalidInputError(`runtime.${op}(): the arguments cannot be sent to the worker: ${message}`, { cause: error }));
      }
    });
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker.unref();
    return pending;
  }

  #onMessage(message: RuntimeResponse): void {
    if (message.kind !== "ok" && message.kind !== "error") return;
    const pending = this.#settle(message.id);
    if (pending === undefined) return;
    if (message.kind === "ok") pending.resolve(message.result);
    else pending.reject(fromWireError(message.error));
  }

  #onCrash(error: WorkerCrashedError): void {
    if (this.#crash !== undefined) return;
    this.#crash = error;
    this.#logger.error({ err: error, numPending: this.#pending.size }, "runtime worker crashed");
    this.#rejectAll(error);
  }

  #rejectAll(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#worker.unref();
    for (const p of pending) p.reject(error);
  }
}
