import type { Keyv } from "keyv";
import type { ModelFingerprint } from "../../kv/DocumentKvCache.js";
import type { CacheKeyString } from "../cacheKey.js";
import type { KvCacheDtype } from "../codec/kvFormat.js";

/** Index record of one stored entry, kept in keyv beside the entry's bytes (what list, quota and gc read). */
export interface StoredEntryMeta {
  readonly key: CacheKeyString;
  readonly namespace: string;
  readonly fingerprint: ModelFingerprint;
  readonly dtype: KvCacheDtype;
  readonly numTokens: number;
  readonly sizeBytes: number;
  readonly createdAtMs: number;
  readonly expiresAtMs?: number;
}

/**
 * Entry bytes of one store URL and one tenant namespace: the KvCacheStore writes them through it and reads them
 * back. Every key is scoped to the namespace the backend was opened with. Errors propagate unchanged; the store
 * turns them into outages. Entry bytes are self-validating, so a blob store only has to make each single write
 * atomic (one SET, one upsert), never a group of writes.
 */
export interface BlobStore {
  /** The URL scheme it was opened for ("memory", "sqlite", "redis", ...). */
  readonly kind: string;
  /** The URL with any password removed, for logs. */
  readonly description: string;
  /** Cross-process compute leases on this store, when it can hold them. */
  readonly leases: ComputeLeases | undefined;
  getBlob(key: CacheKeyString): Promise<Buffer | undefined>;
  setBlob(key: CacheKeyString, value: Buffer, ttlMs?: number): Promise<void>;
  deleteBlob(key: CacheKeyString): Promise<void>;
  /** Keys of every entry's bytes in this namespace (expired ones may still be listed until purged). */
  listBlobKeys(): Promise<CacheKeyString[]>;
  /** Deletes expired bytes; returns how many. Redis expires keys itself and returns 0. */
  purgeExpiredBlobs(nowMs: number): Promise<number>;
  /** Throws when the backing service cannot be reached. */
  ping(): Promise<void>;
  /** Closes the connection (the index's keyv shares it). Idempotent. */
  close(): Promise<void>;
}

/**
 * Short-lived, token-checked leases that make "compute this document" happen once across processes and machines
 * sharing a store: the holder renews its lease while it computes and releases it when the entry is written; a
 * holder that dies stops renewing, and the lease expires so that another process takes over.
 */
export interface ComputeLeases {
  /** Takes the lease of `key` for `ttlMs` when nobody holds a live one; returns its token, else undefined. */
  acquire(key: CacheKeyString, ttlMs: number): Promise<string | undefined>;
  /** Extends a lease this token holds; false when it has been lost (expired, and maybe taken by another). */
  renew(key: CacheKeyString, token: string, ttlMs: number): Promise<boolean>;
  /** Releases the lease if this token still holds it (never another holder's). */
  release(key: CacheKeyString, token: string): Promise<void>;
  /** Whether anyone holds a live lease on `key`. */
  isHeld(key: CacheKeyString): Promise<boolean>;
}

/** A backend opened for one namespace: entry bytes, and the keyv the shared KeyvMetaIndex keeps its records in. */
export interface OpenedStoreBackend {
  readonly blobs: BlobStore;
  /** A keyv scoped to the namespace's index (built with `throwOnErrors: true`), over the blob store's connection. */
  readonly indexKeyv: Keyv<string>;
}

/** A store URL taken apart by the backend that owns its scheme. */
export interface ParsedStoreUrl {
  readonly scheme: string;
  /** The URL to open (normalised: absolute sqlite paths). */
  readonly url: string;
  /** The URL with any password removed, for logs. */
  readonly description: string;
  /** The file of a file-backed store (sqlite). */
  readonly path?: string;
}

export interface OpenStoreBackendOptions {
  /** SQLite busy timeout and redis connect timeout. */
  readonly connectTimeoutMs: number;
  readonly maxReconnectDelayMs: number;
}

/**
 * One kind of store, registered under its URL schemes in storeBackends.ts: parsing its URLs (ConfigError when
 * malformed) and opening them. A new backend is one file exporting one of these, plus a line in the map.
 */
export interface StoreBackendFactory {
  readonly schemes: readonly string[];
  /** Example URL shown in errors, e.g. `redis://host:port`. */
  readonly example: string;
  /** `rest` is what follows `scheme://`; relative paths resolve against `cwd`. */
  parse(url: string, scheme: string, rest: string, cwd: string): ParsedStoreUrl;
  open(url: ParsedStoreUrl, namespace: string, options: OpenStoreBackendOptions): Promise<OpenedStoreBackend>;
}
