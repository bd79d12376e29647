import { hostname } from "node:os";
import { UnrecoverableError, Worker, type Job } from "bullmq";
import { ConfigError, StoreUnavailableError } from "../errors/KvLinkError.js";
import type { KvLinkEngine } from "../engine/KvLinkEngine.js";
import type { CacheKeyString } from "../store/cacheKey.js";
import { silentLogger, type Logger } from "../util/Logger.js";
import { DEFAULT_QUEUE_NAME, queueConnection, type PrecomputeJobData, type PrecomputeJobResult } from "./PrecomputeQueue.js";

/** How often a job holding a computed cache asks an unreachable store again. */
const STORE_RETRY_MS = 250;

/**
 * What this worker did, counted when the work happens. A job whose completion could not reach the queue (redis went
 * away just then) is retried; its document was still computed here once, and the retry finds it in the store.
 */
export interface PrecomputeWorkerStats {
  /** Documents this worker computed (encoded), whether or not the queue recorded the job as completed. */
  readonly computed: number;
  /** Jobs whose document was already cached (store or this process's memory) when the job ran. */
  readonly reused: number;
  /** Jobs the queue recorded as completed. */
  readonly completed: number;
  /** Job attempts that failed (each retry counts). */
  readonly failed: number;
}

export interface PrecomputeWorkerOptions {
  /** `redis://host:port[/db]` of the BullMQ queue. */
  readonly url: string;
  /** Computes the documents; its store is where the caches go (share one, e.g. redis, between workers). */
  readonly engine: KvLinkEngine;
  readonly name?: string;
  /** Jobs in flight at once in this worker. Default 1 (the engine has one runtime). */
  readonly concurrency?: number;
  /**
   * How long a job stays locked to this worker without a renewal. A worker that dies (kill -9) stops renewing;
   * after this long its job is moved back to waiting and another worker takes it. Default 30000 ms.
   */
  readonly lockMs?: number;
  /** How often stalled jobs (of dead workers) are looked for. Default lockMs. */
  readonly stalledIntervalMs?: number;
  /**
   * How long a job waits for an unreachable store to answer again before it fails (and is retried, perhaps by
   * another worker that must compute the document again). The computed cache is held meanwhile and written as soon
   * as the store answers, so a short outage costs no second computation. Default 20000 ms; keep it below lockMs.
   */
  readonly storeWaitMs?: number;
  /** A name for logs and job results. Default `<hostname>:<pid>`. */
  readonly workerName?: string;
  readonly logger?: Logger;
  /** Called after each job (completed or failed); a throwing callback is logged, never breaks the worker. */
  readonly onJob?: (event: { readonly key: string; readonly id: string; readonly result?: PrecomputeJobResult; readonly error?: Error }) => void;
}

/**
 * The consumer side of distributed precompute: a BullMQ worker that computes each job's document through the
 * engine into its store. Any number of workers on any machine can share a queue; a job whose worker died is
 * retried by another (stalled-job detection), failed jobs are retried with backoff, and a job whose key does not
 * match this worker's model or namespace fails at once (UnrecoverableError: retrying cannot help).
 */
export class PrecomputeWorker implements AsyncDisposable {
  readonly workerName: string;
  readonly #worker: Worker<PrecomputeJobData, PrecomputeJobResult>;
  readonly #engine: KvLinkEngine;
  readonly #logger: Logger;
  readonly #storeWaitMs: number;
  #closing: Promise<void> | undefined;
  #stats = { computed: 0, reused: 0, completed: 0, failed: 0 };

  constructor(options: PrecomputeWorkerOptions) {
    const concurrency = options.concurrency ?? 1;
    const lockMs = options.lockMs ?? 30_000;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError(`worker concurrency must be a positive integer, got ${concurrency}`);
    if (!Number.isInteger(lockMs) || lockMs < 100) throw new ConfigError(`worker lock duration must be an integer of at least 100 ms, got ${lockMs}`);
    const storeWaitMs = options.storeWaitMs ?? Math.min(20_000, Math.floor(lockMs * 2 / 3));
    if (!(Number.isFinite(storeWaitMs) && storeWaitMs >= 0)) throw new ConfigError(`worker store wait must be a non-negative number of ms, got ${storeWaitMs}`);
    this.#storeWaitMs = storeWaitMs;
    if (options.engine.store === undefined) throw new ConfigError("a precompute worker needs an engine with a store (where else would the caches go?)");
    this.workerName = options.workerName ?? `${hostname()}:${process.pid}`;
    this.#engine = options.engine;
    this.#logger = (options.logger ?? silentLogger).child({ component: "precompute-worker", worker: this.workerName });
    const onJob = options.onJob;
    const report = (event: Parameters<NonNullable<typeof onJob>>[0]): void => {
      try {
        onJob?.(event);
      } catch (error) {
        this.#logger.warn({ err: error }, "onJob callback threw");
      }
    };
    this.#worker = new Worker<PrecomputeJobData, PrecomputeJobResult>(options.name ?? DEFAULT_QUEUE_NAME, (job) => this.#process(job), {
      connection: queueConnection(options.url),
      concurrency,
      lockDuration: lockMs,
      stalledInterval: options.stalledIntervalMs ?? lockMs,
      maxStalledCount: 3,
      autorun: true,
    });
    this.#worker.on("error", (error) => this.#logger.warn({ err: error }, "queue connection error (retrying)"));
    this.#worker.on("completed", (job, result) => {
      this.#stats.completed++;
      report({ key: job.data.key, id: job.data.id, result });
    });
    this.#worker.on("failed", (job, error) => {
      this.#stats.failed++;
      if (job !== undefined) report({ key: job.data.key, id: job.data.id, error });
    });
  }

  /** What this worker did so far (a copy). */
  stats(): PrecomputeWorkerStats {
    return { ...this.#stats };
  }

  /** Resolves once the worker is connected and taking jobs. */
  async waitUntilReady(): Promise<void> {
    await this.#worker.waitUntilReady();
  }

  async #process(job: Job<PrecomputeJobData, PrecomputeJobResult>): Promise<PrecomputeJobResult> {
    const data = job.data;
    if (typeof data?.text !== "string" || typeof data.key !== "string") throw new UnrecoverableError(`job ${job.id} carries no document`);
    if (data.fingerprint !== this.#engine.fingerprint) {
      throw new UnrecoverableError(`job ${job.id} is for model ${data.fingerprint}, this worker runs ${this.#engine.fingerprint}`);
    }
    const key = this.#engine.documentKey(data.text);
    if (key !== data.key) {
      throw new UnrecoverableError(`job ${job.id}: the document's key here is ${key} (another namespace, dtype or store?), the job says ${data.key}`);
    }
    const t0 = performance.now();
    const store = this.#engine.store!;
    const [result] = await this.#engine.precompute([{ id: data.id, text: data.text }], { verifyStored: true });
    if (result!.source === "computed") this.#stats.computed++;
    else this.#stats.reused++;
    // The store absorbs outages (the cache then stays in this process only): the job must not pass as done. While
    // the store is unreachable, hold the computed cache and write it again once it answers (the job lock keeps
    // being renewed meanwhile), rather than fail the job and have it computed a second time elsewhere.
    const deadline = performance.now() + this.#storeWaitMs;
    for (let attempt = 0; !(await store.has(key as CacheKeyString)); attempt++) {
      if (attempt > 0 && performance.now() >= deadline) {
        throw new StoreUnavailableError(`job ${job.id}: the document is not in the store ${store.stats().available ? "after writing it" : "(unreachable)"}; retrying`);
      }
      if (attempt > 0) await new Promise((r) => setTimeout(r, STORE_RETRY_MS));
      const [again] = await this.#engine.precompute([{ id: data.id, text: data.text }], { verifyStored: true });
      if (again!.source === "computed") this.#stats.computed++; // the held cache was evicted: it had to be computed again
    }
    this.#logger.debug({ key, id: data.id, source: result!.source, ms: Math.round(performance.now() - t0), attempt: job.attemptsMade }, "job done");
    return { source: result!.source, numTokens: result!.numTokens, worker: this.workerName };
  }

  /** Stops taking jobs, lets the running ones finish (graceful shutdown), then disconnects. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#worker.close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
