import type { DocumentKvCache, ModelFingerprint } from "../kv/DocumentKvCache.js";
import type { StoredEntryMeta } from "./backend/StoreBackend.js";
import type { CacheKeyString } from "./cacheKey.js";
import type { CacheCheck } from "./codec/decodeKvCache.js";

/** Where a cache came from: this process's LRU, the shared store, or the caller's compute function. */
export type CacheSource = "lru" | "store" | "computed";

export interface CacheLookup {
  readonly key: CacheKeyString;
  readonly cache: DocumentKvCache;
  readonly source: CacheSource;
}

/** What list()/entries() report for one stored entry of the namespace. */
export type CacheEntryInfo = StoredEntryMeta;

export type VerifyEntryReport =
  | { readonly key: CacheKeyString; readonly status: "ok"; readonly indexed: boolean }
  | { readonly key: CacheKeyString; readonly status: "corrupt"; readonly check: CacheCheck; readonly message: string }
  | { readonly key: CacheKeyString; readonly status: "missing" };

export interface GcReport {
  /** Entry bytes past their TTL, deleted (redis expires its own and reports 0). */
  readonly expired: number;
  /** Index records without bytes and bytes without an index record, deleted. */
  readonly orphans: number;
  /** Oldest entries deleted to bring the namespace under its byte quota. */
  readonly evicted: number;
  readonly remainingEntries: number;
  readonly remainingBytes: number;
}

export interface CacheStoreStats {
  readonly hits: { readonly lru: number; readonly store: number };
  readonly misses: number;
  readonly computed: number;
  /** Entries that failed a check: counted, deleted, never returned. */
  readonly corrupt: number;
  /** Times the store became unreachable (one warning each); failedOps counts every operation that failed. */
  readonly outages: number;
  readonly failedOps: number;
  readonly writes: number;
  readonly evictions: { readonly lru: number; readonly store: number };
  readonly bytes: { readonly lru: number; readonly read: number; readonly written: number };
  /** Misses that waited for another process's computation of the document (cross-process single flight). */
  readonly leaseWaits: number;
  /** Whether the last store operation succeeded. */
  readonly available: boolean;
}

/**
 * Document KV caches flow in from the precomputer (`set`, or the `compute` of `getOrCompute`) and out to the
 * linker (`get`/`getOrCompute`), keyed by (model fingerprint, token ids, dtype, namespace); an unreachable store or a
 * corrupt entry reads as a miss, never as an error. Returned caches are shared (LRU, concurrent callers): read-only.
 */
export interface KvCacheStore extends AsyncDisposable {
  readonly namespace: string;
  readonly fingerprint: ModelFingerprint;
  readonly disposed: boolean;
  keyFor(tokenIds: Int32Array | readonly number[]): CacheKeyString;
  get(tokenIds: Int32Array | readonly number[]): Promise<DocumentKvCache | undefined>;
  set(cache: DocumentKvCache): Promise<void>;
  getOrCompute(tokenIds: Int32Array | readonly number[], compute: () => Promise<DocumentKvCache>): Promise<CacheLookup>;
  delete(keyOrTokenIds: CacheKeyString | Int32Array | readonly number[]): Promise<void>;
  /** Whether the store holds a live index record for the entry (false on an outage). Reads no entry bytes. */
  has(keyOrTokenIds: CacheKeyString | Int32Array | readonly number[]): Promise<boolean>;
  list(): Promise<CacheEntryInfo[]>;
  entries(): AsyncIterableIterator<CacheEntryInfo>;
  verify(options?: { readonly remove?: boolean }): Promise<VerifyEntryReport[]>;
  gc(): Promise<GcReport>;
  clear(): Promise<number>;
  stats(): CacheStoreStats;
  dispose(): Promise<void>;
}
