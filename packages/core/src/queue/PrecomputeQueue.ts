import { Queue, type ConnectionOptions, type JobsOptions } from "bullmq";
import { ConfigError, DisposedError, InvalidInputError } from "../errors/KvLinkError.js";
import { parseStoreUrl } from "../store/backend/parseStoreUrl.js";

/** One document to compute: its store key (the job id), text, and where it came from (for reporting). */
export interface PrecomputeJobData {
  /** The store key of the document (engine.documentKey(text)); the worker checks it against its own engine. */
  readonly key: string;
  readonly text: string;
  /** Caller's id, e.g. `path#chunk`. */
  readonly id: string;
  readonly numTokens: number;
  /** The fingerprint of the model the key was computed for; a worker with another model fails the job. */
  readonly fingerprint: string;
  readonly namespace: string;
}

/** What a worker returns for a job: where the document's cache came from. */
export interface PrecomputeJobResult {
  readonly source: "memory" | "store" | "computed";
  readonly numTokens: number;
  readonly worker: string;
}

export interface QueueCounts {
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly completed: number;
  readonly failed: number;
}

export interface PrecomputeQueueOptions {
  /** `redis://host:port[/db]` of the BullMQ queue. */
  readonly url: string;
  /** Queue name (BullMQ: no `:`). Default `kvlink-precompute`. */
  readonly name?: string;
  /** Attempts per job (a worker that dies or fails → retried, with exponential backoff). Default 5. */
  readonly attempts?: number;
  /** First retry delay; doubles on each attempt. Default 1000 ms. */
  readonly backoffMs?: number;
}

export const DEFAULT_QUEUE_NAME = "kvlink-precompute";

/** BullMQ job id of a document: its store key, so one document is enqueued once (BullMQ ignores a known id). */
export function jobIdOf(key: string): string {
  return `doc-${key}`;
}

/** Connection options for BullMQ from a redis URL (ConfigError for anything else). */
export function queueConnection(url: string): ConnectionOptions {
  const parsed = parseStoreUrl(url);
  if (parsed.scheme !== "redis") throw new ConfigError(`a precompute queue needs a redis:// URL, got ${parsed.description}`);
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, "");
  return {
    host: u.hostname,
    port: u.port === "" ? 6379 : Number(u.port),
    ...(u.username !== "" ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== "" ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== "" ? { db: Number(db) } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {}),
    // Workers block on redis: BullMQ requires unlimited retries per request, and reconnects by itself.
    maxRetriesPerRequest: null,
  };
}

/**
 * The producer side of distributed precompute: documents become BullMQ jobs whose ids are their store keys, so a
 * document is enqueued once however often it is submitted (completed jobs are kept for a day to remember it).
 * Workers (PrecomputeWorker, `kvlink worker`) on any machine compute them into the shared store.
 */
export class PrecomputeQueue implements AsyncDisposable {
  readonly name: string;
  readonly #queue: Queue<PrecomputeJobData, PrecomputeJobResult>;
  readonly #jobOptions: JobsOptions;
  #closed: Promise<void> | undefined;

  constructor(options: PrecomputeQueueOptions) {
    this.name = options.name ?? DEFAULT_QUEUE_NAME;
    if (this.name === "" || this.name.includes(":")) throw new ConfigError(`a queue name must be non-empty without ':', got ${JSON.stringify(this.name)}`);
    const attempts = options.attempts ?? 5;
    const backoffMs = options.backoffMs ?? 1000;
    if (!Number.isInteger(attempts) || attempts < 1) throw new ConfigError(`queue attempts must be a positive integer, got ${attempts}`);
    if (!(Number.isFinite(backoffMs) && backoffMs >= 0)) throw new ConfigError(`queue backoff must be a non-negative number of ms, got ${backoffMs}`);
    this.#queue = new Queue(this.name, { connection: queueConnection(options.url) });
    this.#queue.on("error", () => {}); // connection errors surface as rejected calls
    this.#jobOptions = {
      attempts,
      backoff: { type: "exponential", delay: backoffMs },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
  }

  /** Enqueues documents not already known to the queue; returns how many were added and how many it already had. */
  async enqueue(documents: readonly PrecomputeJobData[]): Promise<{ readonly added: number; readonly known: number }> {
    this.#ensureOpen();
    const fresh: PrecomputeJobData[] = [];
    const seen = new Set<string>();
    for (const doc of documents) {
      if (typeof doc?.key !== "string" || !/^[0-9a-f]{64}$/.test(doc.key)) throw new InvalidInputError(`not a document key: ${JSON.stringify(doc?.key)}`);
      if (seen.has(doc.key)) continue;
      seen.add(doc.key);
      fresh.push(doc);
    }
    const known = await Promise.all(fresh.map(async (doc) => (await this.#queue.getJob(jobIdOf(doc.key))) !== undefined));
    const toAdd = fresh.filter((_, i) => !known[i]);
    for (let i = 0; i < toAdd.length; i += 500) {
      await this.#queue.addBulk(toAdd.slice(i, i + 500).map((doc) => ({ name: "precompute", data: doc, opts: { ...this.#jobOptions, jobId: jobIdOf(doc.key) } })));
    }
    return { added: toAdd.length, known: documents.length - toAdd.length };
  }

  async counts(): Promise<QueueCounts> {
    this.#ensureOpen();
    const c = await this.#queue.getJobCounts("waiting", "active", "delayed", "completed", "failed", "prioritized", "waiting-children");
    return {
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c["waiting-children"] ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      completed: c.completed ?? 0,
      failed: c.failed ?? 0,
    };
  }

  /** The state of each document's job ("completed", "failed", "active", "waiting", "delayed", ... or "unknown"). */
  async states(keys: readonly string[]): Promise<string[]> {
    this.#ensureOpen();
    return Promise.all(keys.map(async (key) => String(await this.#queue.getJobState(jobIdOf(key)))));
  }

  /** Return values of completed jobs, by document key (for reports and tests). */
  async results(keys: readonly string[]): Promise<Map<string, PrecomputeJobResult>> {
    this.#ensureOpen();
    const out = new Map<string, PrecomputeJobResult>();
    await Promise.all(keys.map(async (key) => {
      const job = await this.#queue.getJob(jobIdOf(key));
      if (job?.returnvalue !== undefined && job.returnvalue !== null) out.set(key, job.returnvalue);
    }));
    return out;
  }

  /** Removes every job of this queue (completed ones too, so documents can be enqueued again). */
  async obliterate(): Promise<void> {
    this.#ensureOpen();
    await this.#queue.obliterate({ force: true });
  }

  dispose(): Promise<void> {
    this.#closed ??= this.#queue.close();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  #ensureOpen(): void {
    if (this.#closed !== undefined) throw new DisposedError(`the precompute queue ${this.name} is closed`);
  }
}
