import { CacheCorruptError, ConfigError, DisposedError, InvalidInputError, StoreUnavailableError } from "../errors/KvLinkError.js";
import { assertKvConsistent, type DocumentKvCache, type KvLayout, kvSizeBytes, type ModelFingerprint } from "../kv/DocumentKvCache.js";
import { type Logger, silentLogger } from "../util/Logger.js";
import { KeyvMetaIndex } from "./backend/KeyvMetaIndex.js";
import { defaultStoreUrl, parseStoreUrl } from "./backend/parseStoreUrl.js";
import { openStoreBackend } from "./backend/storeBackends.js";
import type { BlobStore, ComputeLeases, StoredEntryMeta } from "./backend/StoreBackend.js";
import { ByteLruCache } from "./ByteLruCache.js";
import { assertValidFingerprint, assertValidNamespace, type CacheKeyString, computeCacheKey, isCacheKeyString, toTokenIdArray } from "./cacheKey.js";
import { decodeKvCache, readHeader } from "./codec/decodeKvCache.js";
import { encodeKvCache } from "./codec/encodeKvCache.js";
import { KV_CACHE_DTYPES, type KvCacheDtype } from "./codec/kvFormat.js";
import type { CacheEntryInfo, CacheLookup, CacheStoreStats, GcReport, KvCacheStore, VerifyEntryReport } from "./KvCacheStore.js";
import { SingleFlight } from "./SingleFlight.js";

export interface KeyvKvCacheStoreOptions {
  /** The model every cache of this store belongs to; entries of any other model are never returned. */
  readonly fingerprint: ModelFingerprint;
  /** Tenant namespace (NAMESPACE_PATTERN): calls never read, list or clear another namespace's entries. */
  readonly namespace: string;
  /** `memory://[name]`, `sqlite://<path>` or `redis://host:port[/db]`; default `sqlite://$KVLINK_HOME/cache.sqlite`. */
  readonly url?: string;
  /** Entries expire this long after they are written (store and LRU). Default: never. */
  readonly ttlMs?: number;
  /** Byte quota of this namespace in the store; the oldest entries go first. Default: none. */
  readonly quotaBytes?: number;
  /** Bound of the in-process LRU of decoded caches, in bytes (fp32 size); 0 disables it. Default 256 MiB. */
  readonly lruBytes?: number;
  /** Storage precision. Default fp16. */
  readonly dtype?: KvCacheDtype;
  /** The model's cache geometry, when known: entries claiming another one are rejected. */
  readonly geometry?: Omit<KvLayout, "numTokens">;
  readonly logger?: Logger;
  /** Each store operation gives up (and counts as an outage) after this long. Default 5000 ms. */
  readonly opTimeoutMs?: number;
  /** While the store is down, calls skip it and retry it at most this often. Default 1000 ms. */
  readonly retryIntervalMs?: number;
  /** Environment for the default URL (KVLINK_HOME). Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * A store secret (≥ 16 characters): entries are written with an HMAC-SHA256 tag under it, and entries without a
   * valid tag are misses (recomputed), so whoever can write to a shared store but lacks the secret cannot plant KV
   * that is served. Without it, entries carry a plain sha256, which detects corruption, not forgery.
   */
  readonly secret?: string;
  /**
   * Cross-process single flight: before computing a missing document the store takes a lease on its key in the
   * backend (redis, sqlite, memory), renewed while computing; other processes wait for the entry instead of
   * computing it too. A holder that dies stops renewing and its lease expires after this long. Default 10000 ms.
   */
  readonly leaseTtlMs?: number;
  /** How often a waiter checks whether the lease is still held. Default 50 ms. */
  readonly leasePollMs?: number;
  /** The longest a caller waits for another process's computation before computing itself. Default 600000 ms. */
  readonly leaseWaitMs?: number;
}

const DEFAULT_LRU_BYTES = 256 * 1024 * 1024;

type Guarded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false };

/** What waiting for a document's lease ended with: its entry (another process computed it), our lease, or neither. */
type LeaseOutcome =
  | { readonly kind: "entry"; readonly cache: DocumentKvCache }
  | { readonly kind: "lease"; readonly leases: ComputeLeases; readonly token: string }
  | { readonly kind: "none" };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The document-cache store: an in-process LRU (bounded in bytes) in front of one keyv-indexed store chosen by URL.
 * Store failures (redis stopped, timeouts) never reach callers of get/set/getOrCompute: they read as misses, are
 * counted, and log one warning per outage; the store is retried and used again once it answers. Maintenance
 * calls (list, verify, gc, clear) throw StoreUnavailableError instead, since an empty answer would be a lie.
 */
export class KeyvKvCacheStore implements KvCacheStore {
  readonly namespace: string;
  readonly fingerprint: ModelFingerprint;
  readonly dtype: KvCacheDtype;
  readonly url: string;
  readonly #blobs: BlobStore;
  readonly #index: KeyvMetaIndex;
  readonly #lru: ByteLruCache<CacheKeyString, DocumentKvCache>;
  readonly #flights = new SingleFlight<CacheKeyString, CacheLookup>();
  readonly #pendingWrites = new Set<Promise<void>>();
  readonly #logger: Logger;
  readonly #ttlMs: number | undefined;
  readonly #quotaBytes: number | undefined;
  readonly #geometry: Omit<KvLayout, "numTokens"> | undefined;
  readonly #opTimeoutMs: number;
  readonly #retryIntervalMs: number;
  readonly #lease: { readonly ttlMs: number; readonly pollMs: number; readonly waitMs: number };
  /** `{ secret }` for the codec when the store has one, else `{}`. */
  readonly #secret: { readonly secret?: string };
  #down = false;
  #retryAtMs = 0;
  #disposePromise: Promise<void> | undefined;
  readonly #counters = {
    lruHits: 0, storeHits: 0, misses: 0, computed: 0, corrupt: 0, outages: 0, failedOps: 0, writes: 0,
    storeEvictions: 0, bytesRead: 0, bytesWritten: 0, leaseWaits: 0,
  };

  private constructor(blobs: BlobStore, index: KeyvMetaIndex, options: Required<Pick<KeyvKvCacheStoreOptions, "fingerprint" | "namespace" | "dtype">> &
    KeyvKvCacheStoreOptions & { readonly lruBytes: number; readonly opTimeoutMs: number; readonly retryIntervalMs: number }) {
    this.#blobs = blobs;
    this.#index = index;
    this.namespace = options.namespace;
    this.fingerprint = options.fingerprint;
    this.dtype = options.dtype;
    this.url = blobs.description;
    this.#lru = new ByteLruCache(options.lruBytes);
    this.#ttlMs = options.ttlMs;
    this.#quotaBytes = options.quotaBytes;
    this.#geometry = options.geometry;
    this.#opTimeoutMs = options.opTimeoutMs;
    this.#retryIntervalMs = options.retryIntervalMs;
    this.#lease = { ttlMs: options.leaseTtlMs ?? 10_000, pollMs: options.leasePollMs ?? 50, waitMs: options.leaseWaitMs ?? 600_000 };
    this.#secret = options.secret !== undefined ? { secret: options.secret } : {};
    this.#logger = (options.logger ?? silentLogger).child({ component: "kv-cache-store", store: blobs.description, namespace: options.namespace });
  }

  /**
   * Checks the options (ConfigError / InvalidInputError) and opens the store. A redis server that is down is not an
   * error: the store starts degraded and connects when redis comes up. An sqlite file that cannot be opened is.
   */
  static async create(options: KeyvKvCacheStoreOptions): Promise<KeyvKvCacheStore> {
    assertValidFingerprint(options.fingerprint);
    assertValidNamespace(options.namespace);
    if (options.secret !== undefined && (typeof options.secret !== "string" || options.secret.length < 16)) {
      throw new ConfigError("a store secret must be a string of at least 16 characters");
    }
    const dtype = options.dtype ?? "fp16";
    if (!KV_CACHE_DTYPES.includes(dtype)) throw new ConfigError(`cache dtype must be one of ${KV_CACHE_DTYPES.join(", ")}, got ${String(dtype)}`);
    const positive = (name: string, v: number | undefined, allowZero = false): void => {
      if (v !== undefined && !(Number.isFinite(v) && (allowZero ? v >= 0 : v > 0))) {
        throw new ConfigError(`cache store option ${name} must be a ${allowZero ? "non-negative" : "positive"} number, got ${v}`);
      }
    };
    positive("ttlMs", options.ttlMs);
    positive("quotaBytes", options.quotaBytes);
    positive("lruBytes", options.lruBytes, true);
    positive("opTimeoutMs", options.opTimeoutMs);
    positive("retryIntervalMs", options.retryIntervalMs, true);
    positive("leaseTtlMs", options.leaseTtlMs);
    positive("leasePollMs", options.leasePollMs);
    positive("leaseWaitMs", options.leaseWaitMs, true);
    const url = parseStoreUrl(options.url ?? defaultStoreUrl(options.env));
    const opTimeoutMs = options.opTimeoutMs ?? 5000;
    const { blobs, indexKeyv } = await openStoreBackend(url, options.namespace, { connectTimeoutMs: opTimeoutMs, maxReconnectDelayMs: 1000 });
    return new KeyvKvCacheStore(blobs, new KeyvMetaIndex(indexKeyv, options.namespace), {
      ...options, dtype, lruBytes: options.lruBytes ?? DEFAULT_LRU_BYTES, opTimeoutMs, retryIntervalMs: options.retryIntervalMs ?? 1000,
    });
  }

  get disposed(): boolean {
    return this.#disposePromise !== undefined;
  }

  keyFor(tokenIds: Int32Array | readonly number[]): CacheKeyString {
    return computeCacheKey({ fingerprint: this.fingerprint, tokenIds, dtype: this.dtype, namespace: this.namespace });
  }

  /** The cache of `tokenIds` from the LRU or the store; undefined on a miss, a corrupt entry or an outage. */
  async get(tokenIds: Int32Array | readonly number[]): Promise<DocumentKvCache | undefined> {
    this.#ensureNotDisposed();
    const key = this.keyFor(tokenIds);
    const cached = this.#lru.get(key);
    if (cached !== undefined) {
      this.#counters.lruHits++;
      return cached;
    }
    const stored = await this.#load(key);
    if (stored === undefined) this.#counters.misses++;
    return stored;
  }

  /** Stores `cache` (encoded in this store's dtype) and keeps its decoded form in the LRU. Outages are absorbed. */
  async set(cache: DocumentKvCache): Promise<void> {
    this.#ensureNotDisposed();
    this.#checkOwnCache(cache, undefined);
    const key = this.keyFor(cache.tokenIds);
    await this.#storeAndDecode(key, cache);
  }

  /**
   * The cache of `tokenIds`: from the LRU, else the store, else `compute()` (then stored). Concurrent calls for one
   * uncached document in this process run `compute` once and share its result; across processes sharing the store
   * a lease makes one of them compute while the others wait for its entry (source "store"). Errors of `compute`
   * reach every waiting caller of this process; store errors never do (a store that cannot hold leases, or is down,
   * means computing without one). Every source returns the same values: a computed cache is handed out as it
   * decodes from its stored encoding.
   */
  async getOrCompute(tokenIds: Int32Array | readonly number[], compute: () => Promise<DocumentKvCache>): Promise<CacheLookup> {
    this.#ensureNotDisposed();
    const ids = toTokenIdArray(tokenIds);
    const key = this.keyFor(ids);
    const cached = this.#lru.get(key);
    if (cached !== undefined) {
      this.#counters.lruHits++;
      return { key, cache: cached, source: "lru" };
    }
    return this.#flights.run(key, async () => {
      const stored = await this.#load(key);
      if (stored !== undefined) return { key, cache: stored, source: "store" };
      this.#counters.misses++;
      const outcome = await this.#leaseOrEntry(key);
      if (outcome.kind === "entry") return { key, cache: outcome.cache, source: "store" };
      const stopRenewing = outcome.kind === "lease" ? this.#keepRenewing(key, outcome.leases, outcome.token) : () => {};
      try {
        const computed = await compute();
        this.#checkOwnCache(computed, ids);
        this.#counters.computed++;
        return { key, cache: await this.#storeAndDecode(key, computed), source: "computed" };
      } finally {
        stopRenewing();
        if (outcome.kind === "lease") await this.#guard("releaseLease", () => outcome.leases.release(key, outcome.token));
      }
    });
  }

  /**
   * Takes the compute lease of `key`, or waits while another process holds it and returns the entry it wrote.
   * When the holder goes away without an entry (it died or failed), takes over. "none" when the backend has no
   * leases, the store is down, or the wait exceeded leaseWaitMs: the caller computes without a lease.
   */
  async #leaseOrEntry(key: CacheKeyString): Promise<LeaseOutcome> {
    const leases = this.#blobs.leases;
    if (leases === undefined) return { kind: "none" };
    const deadline = Date.now() + this.#lease.waitMs;
    let waited = false; // counted once per call
    for (;;) {
      const acquired = await this.#guard("acquireLease", () => leases.acquire(key, this.#lease.ttlMs));
      if (!acquired.ok) return { kind: "none" };
      if (acquired.value !== undefined) {
        // Another process may have written the entry and released its lease since our miss (or while we waited).
        const stored = await this.#load(key);
        if (stored === undefined) return { kind: "lease", leases, token: acquired.value };
        await this.#guard("releaseLease", () => leases.release(key, acquired.value!));
        return { kind: "entry", cache: stored };
      }
      if (!waited) {
        waited = true;
        this.#counters.leaseWaits++;
        this.#logger.debug({ key }, "another process is computing this document: waiting for its entry");
      }
      for (;;) {
        await sleep(this.#lease.pollMs);
        const held = await this.#guard("leaseHeld", () => leases.isHeld(key));
        if (!held.ok) return { kind: "none" };
        if (!held.value) break;
        if (Date.now() >= deadline) {
          this.#logger.warn({ key, waitMs: this.#lease.waitMs }, "gave up waiting for another process's computation: computing it here");
          return { kind: "none" };
        }
      }
      const stored = await this.#load(key);
      if (stored !== undefined) return { kind: "entry", cache: stored };
    }
  }

  /** Renews the lease every third of its TTL until the returned function is called. */
  #keepRenewing(key: CacheKeyString, leases: ComputeLeases, token: string): () => void {
    const timer = setInterval(() => {
      void this.#guard("renewLease", () => leases.renew(key, token, this.#lease.ttlMs)).then((renewed) => {
        if (renewed.ok && !renewed.value) this.#logger.warn({ key }, "compute lease lost (expired): another process may compute this document too");
      });
    }, Math.max(1, Math.floor(this.#lease.ttlMs / 3)));
    timer.unref();
    return () => clearInterval(timer);
  }

  async delete(keyOrTokenIds: CacheKeyString | Int32Array | readonly number[]): Promise<void> {
    this.#ensureNotDisposed();
    const key = typeof keyOrTokenIds === "string" ? this.#checkKey(keyOrTokenIds) : this.keyFor(keyOrTokenIds);
    this.#lru.delete(key);
    await this.#guard("deleteBlob", () => this.#blobs.deleteBlob(key));
    await this.#guard("deleteMeta", () => this.#index.delete(key));
  }

  async has(keyOrTokenIds: CacheKeyString | Int32Array | readonly number[]): Promise<boolean> {
    this.#ensureNotDisposed();
    const key = typeof keyOrTokenIds === "string" ? this.#checkKey(keyOrTokenIds) : this.keyFor(keyOrTokenIds);
    const meta = await this.#guard("getMeta", () => this.#index.get(key));
    return meta.ok && meta.value !== undefined && (meta.value.expiresAtMs === undefined || meta.value.expiresAtMs > Date.now());
  }

  /** Index records of this namespace's live entries, oldest first. StoreUnavailableError when the store is down. */
  async list(): Promise<CacheEntryInfo[]> {
    this.#ensureNotDisposed();
    const now = Date.now();
    const metas = await this.#require("list", () => this.#index.list());
    return metas.filter((m) => m.expiresAtMs === undefined || m.expiresAtMs > now).sort((a, b) => a.createdAtMs - b.createdAtMs);
  }

  async *entries(): AsyncIterableIterator<CacheEntryInfo> {
    yield* await this.list();
  }

  /**
   * Reads and checks every entry of the namespace (indexed or not): ok, corrupt (with the failed check) or missing
   * (index record without bytes). With `remove`, corrupt and missing entries are deleted.
   */
  async verify(options: { readonly remove?: boolean } = {}): Promise<VerifyEntryReport[]> {
    this.#ensureNotDisposed();
    const metas = await this.#require("verify", () => this.#index.list());
    const blobKeys = await this.#require("verify", () => this.#blobs.listBlobKeys());
    const keyToMeta = new Map(metas.map((m) => [m.key, m]));
    const reports: VerifyEntryReport[] = [];
    for (const key of new Set([...keyToMeta.keys(), ...blobKeys])) {
      const meta = keyToMeta.get(key);
      const bytes = await this.#require("verify", () => this.#blobs.getBlob(key));
      let report: VerifyEntryReport;
      if (bytes === undefined) {
        report = { key, status: "missing" };
      } else {
        try {
          const expectedFingerprint = meta?.fingerprint ?? readHeader(bytes).fingerprint;
          decodeKvCache(bytes, {
            expectedFingerprint,
            expectedKey: key,
            expectedGeometry: meta?.fingerprint === this.fingerprint ? this.#geometry : undefined,
            ...this.#secret,
          });
          report = { key, status: "ok", indexed: meta !== undefined };
        } catch (error) {
          if (!(error instanceof CacheCorruptError)) throw error;
          report = { key, status: "corrupt", check: error.details.check as never, message: error.message };
        }
      }
      if (options.remove === true && report.status !== "ok") {
        this.#lru.delete(key);
        await this.#require("verify", () => this.#blobs.deleteBlob(key));
        await this.#require("verify", () => this.#index.delete(key));
      }
      reports.push(report);
    }
    return reports;
  }

  /** Deletes expired entries, orphans (index without bytes and the reverse), then the oldest entries over quota. */
  async gc(): Promise<GcReport> {
    this.#ensureNotDisposed();
    const expired = await this.#require("gc", () => this.#blobs.purgeExpiredBlobs(Date.now()));
    const metas = await this.#require("gc", () => this.#index.list());
    const blobKeys = new Set(await this.#require("gc", () => this.#blobs.listBlobKeys()));
    let orphans = 0;
    const live: StoredEntryMeta[] = [];
    for (const meta of metas) {
      if (blobKeys.has(meta.key)) {
        live.push(meta);
      } else {
        await this.#require("gc", () => this.#index.delete(meta.key));
        orphans++;
      }
    }
    const indexed = new Set(metas.map((m) => m.key));
    for (const key of blobKeys) {
      // Bytes without a record: a writer that died between its two writes (or one still between them, elsewhere).
      if (indexed.has(key) || this.#flights.has(key)) continue;
      await this.#require("gc", () => this.#blobs.deleteBlob(key));
      orphans++;
    }
    const evicted = await this.#evictOverQuota(live, undefined, true);
    const remaining = live.filter((m) => !evicted.has(m.key));
    return {
      expired,
      orphans,
      evicted: evicted.size,
      remainingEntries: remaining.length,
      remainingBytes: remaining.reduce((sum, m) => sum + m.sizeBytes, 0),
    };
  }

  /** Deletes every entry of this namespace (no other); returns how many. */
  async clear(): Promise<number> {
    this.#ensureNotDisposed();
    this.#lru.clear();
    const metas = await this.#require("clear", () => this.#index.list());
    const keys = new Set([...metas.map((m) => m.key), ...(await this.#require("clear", () => this.#blobs.listBlobKeys()))]);
    for (const key of keys) {
      await this.#require("clear", () => this.#blobs.deleteBlob(key));
      await this.#require("clear", () => this.#index.delete(key));
    }
    return keys.size;
  }

  stats(): CacheStoreStats {
    const c = this.#counters;
    return {
      hits: { lru: c.lruHits, store: c.storeHits },
      misses: c.misses,
      computed: c.computed,
      corrupt: c.corrupt,
      outages: c.outages,
      failedOps: c.failedOps,
      writes: c.writes,
      evictions: { lru: this.#lru.numEvictions, store: c.storeEvictions },
      bytes: { lru: this.#lru.sizeBytes, read: c.bytesRead, written: c.bytesWritten },
      leaseWaits: c.leaseWaits,
      available: !this.#down,
    };
  }

  /** Waits for running computations and writes, then closes the store. Idempotent. */
  dispose(): Promise<void> {
    this.#disposePromise ??= (async () => {
      await this.#flights.drain();
      await Promise.allSettled([...this.#pendingWrites]);
      this.#lru.clear();
      await this.#blobs.close();
    })();
    return this.#disposePromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  #ensureNotDisposed(): void {
    if (this.disposed) throw new DisposedError(`KeyvKvCacheStore (${this.url}, namespace ${this.namespace}) is disposed`);
  }

  #checkKey(key: string): CacheKeyString {
    if (!isCacheKeyString(key)) throw new InvalidInputError(`not a cache key: ${JSON.stringify(key.slice(0, 80))}`);
    return key;
  }

  /** InvalidInputError for a cache of another model or other tokens; KvLayoutError for an inconsistent one. */
  #checkOwnCache(cache: DocumentKvCache, expectedIds: Int32Array | undefined): void {
    assertKvConsistent(cache);
    if (cache.fingerprint !== this.fingerprint) {
      throw new InvalidInputError("cache belongs to another model than this store", { details: { expected: this.fingerprint, actual: cache.fingerprint } });
    }
    if (expectedIds !== undefined) {
      const ids = cache.tokenIds;
      const mismatch = ids.length !== expectedIds.length ? 0 : expectedIds.findIndex((id, i) => ids[i] !== id);
      if (ids.length !== expectedIds.length || mismatch !== -1) {
        throw new InvalidInputError(`computed cache is for other tokens than requested (first difference at index ${mismatch})`, {
          details: { expectedTokens: expectedIds.length, actualTokens: ids.length, index: mismatch },
        });
      }
    }
    if (this.#geometry !== undefined) {
      const { numLayers, numKvHeads, headDim } = cache.layout;
      const g = this.#geometry;
      if (numLayers !== g.numLayers || numKvHeads !== g.numKvHeads || headDim !== g.headDim) {
        throw new InvalidInputError("cache geometry differs from the store's", { details: { expected: g, actual: cache.layout } });
      }
    }
  }

  /** Reads, checks and decodes an entry from the store (LRU filled on success). Corrupt entries are removed. */
  async #load(key: CacheKeyString): Promise<DocumentKvCache | undefined> {
    const read = await this.#guard("getBlob", () => this.#blobs.getBlob(key));
    if (!read.ok || read.value === undefined) return undefined;
    const bytes = read.value;
    this.#counters.bytesRead += bytes.length;
    let cache: DocumentKvCache;
    try {
      cache = decodeKvCache(bytes, {
        expectedFingerprint: this.fingerprint,
        expectedKey: key,
        expectedGeometry: this.#geometry,
        ...this.#secret,
      });
    } catch (error) {
      if (!(error instanceof CacheCorruptError)) throw error;
      this.#counters.corrupt++;
      this.#logger.warn({ key, check: error.details.check, bytes: bytes.length }, "corrupt cache entry removed; it will be recomputed");
      await this.#guard("deleteBlob", () => this.#blobs.deleteBlob(key));
      await this.#guard("deleteMeta", () => this.#index.delete(key));
      return undefined;
    }
    this.#counters.storeHits++;
    this.#lru.set(key, cache, this.#lruSize(cache), this.#ttlMs === undefined ? undefined : Date.now() + this.#ttlMs);
    return cache;
  }

  /** Encodes, writes to the store (awaited, outages absorbed) and returns the decoded form, also put in the LRU. */
  async #storeAndDecode(key: CacheKeyString, cache: DocumentKvCache): Promise<DocumentKvCache> {
    const bytes = encodeKvCache(cache, { dtype: this.dtype, namespace: this.namespace, ...this.#secret });
    const decoded = decodeKvCache(bytes, { expectedFingerprint: this.fingerprint, expectedKey: key, ...this.#secret });
    const nowMs = Date.now();
    this.#lru.set(key, decoded, this.#lruSize(decoded), this.#ttlMs === undefined ? undefined : nowMs + this.#ttlMs);
    const write = this.#write(key, bytes, decoded, nowMs);
    this.#pendingWrites.add(write);
    try {
      await write;
    } finally {
      this.#pendingWrites.delete(write);
    }
    return decoded;
  }

  async #write(key: CacheKeyString, bytes: Buffer, cache: DocumentKvCache, nowMs: number): Promise<void> {
    if (this.#quotaBytes !== undefined && bytes.length > this.#quotaBytes) {
      this.#logger.debug({ key, bytes: bytes.length, quotaBytes: this.#quotaBytes }, "entry larger than the store quota: kept in the LRU only");
      return;
    }
    // Bytes first, then the index record: a reader only needs the bytes (self-validating); a record without bytes
    // is a miss and gc() removes it.
    const wrote = await this.#guard("setBlob", () => this.#blobs.setBlob(key, bytes, this.#ttlMs));
    if (!wrote.ok) return;
    const meta: StoredEntryMeta = {
      key, namespace: this.namespace, fingerprint: this.fingerprint, dtype: this.dtype, numTokens: cache.layout.numTokens,
      sizeBytes: bytes.length, createdAtMs: nowMs, ...(this.#ttlMs === undefined ? {} : { expiresAtMs: nowMs + this.#ttlMs }),
    };
    const indexed = await this.#guard("setMeta", () => this.#index.set(meta, this.#ttlMs));
    if (!indexed.ok) return;
    this.#counters.writes++;
    this.#counters.bytesWritten += bytes.length;
    if (this.#quotaBytes !== undefined) {
      const metas = await this.#guard("listMeta", () => this.#index.list());
      if (metas.ok) await this.#evictOverQuota(metas.value, key, false);
    }
  }

  /** Deletes the oldest entries (never `keep`) until the namespace fits its quota; returns the deleted keys. */
  async #evictOverQuota(metas: readonly StoredEntryMeta[], keep: CacheKeyString | undefined, strict: boolean): Promise<Set<CacheKeyString>> {
    const evicted = new Set<CacheKeyString>();
    if (this.#quotaBytes === undefined) return evicted;
    let total = metas.reduce((sum, m) => sum + m.sizeBytes, 0);
    for (const meta of [...metas].sort((a, b) => a.createdAtMs - b.createdAtMs)) {
      if (total <= this.#quotaBytes) break;
      if (meta.key === keep) continue;
      const remove = async (): Promise<void> => {
        await this.#blobs.deleteBlob(meta.key);
        await this.#index.delete(meta.key);
      };
      if (strict) await this.#require("gc", remove);
      else if (!(await this.#guard("evict", remove)).ok) break;
      this.#lru.delete(meta.key);
      total -= meta.sizeBytes;
      evicted.add(meta.key);
      this.#counters.storeEvictions++;
    }
    return evicted;
  }

  #lruSize(cache: DocumentKvCache): number {
    return kvSizeBytes(cache.layout) + 4 * cache.tokenIds.length;
  }

  /** Runs a store operation with a timeout; a failure is an outage (counted, warned once), never thrown. */
  async #guard<T>(op: string, fn: () => Promise<T>): Promise<Guarded<T>> {
    if (this.#down && Date.now() < this.#retryAtMs) {
      this.#counters.failedOps++;
      return { ok: false };
    }
    try {
      const value = await this.#withTimeout(op, fn);
      this.#markUp();
      return { ok: true, value };
    } catch (error) {
      this.#markDown(op, error);
      return { ok: false };
    }
  }

  /** Like #guard, but throws StoreUnavailableError (for calls whose empty answer would mislead). */
  async #require<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      const value = await this.#withTimeout(op, fn);
      this.#markUp();
      return value;
    } catch (error) {
      this.#markDown(op, error);
      throw new StoreUnavailableError(`cache store ${this.url} failed during ${op}: ${(error as Error).message}`, {
        cause: error, details: { store: this.url, op },
      });
    }
  }

  async #withTimeout<T>(op: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(`cache store ${op} took longer than ${this.#opTimeoutMs} ms`)), this.#opTimeoutMs);
    });
    try {
      return await Promise.race([fn(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #markDown(op: string, error: unknown): void {
    this.#counters.failedOps++;
    this.#retryAtMs = Date.now() + this.#retryIntervalMs;
    if (this.#down) return;
    this.#down = true;
    this.#counters.outages++;
    this.#logger.warn({ op, err: error }, "cache store unreachable: computing without it until it answers again");
  }

  #markUp(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#logger.info({}, "cache store reachable again");
  }
}
