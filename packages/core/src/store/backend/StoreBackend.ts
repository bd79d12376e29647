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

export type StoreBackendKind = "memory" | "sqlite" | "redis";

/**
 * Entry bytes and their keyv index for one store URL and one tenant namespace: the KvCacheStore writes through it
 * and reads back from it. Every key is scoped to the namespace the backend was opened with. Errors propagate
 * unchanged; the store turns them into outages. Entry bytes are self-validating, so a backend only has to make
 * each single write atomic (one SET, one upsert), never a group of writes.
 */
export interface StoreBackend {
  readonly kind: StoreBackendKind;
  /** The URL with any password removed, for logs. */
  readonly description: string;
  getBlob(key: CacheKeyString): Promise<Buffer | undefined>;
  setBlob(key: CacheKeyString, value: Buffer, ttlMs?: number): Promise<void>;
  deleteBlob(key: CacheKeyString): Promise<void>;
  /** Keys of every entry's bytes in this namespace (expired ones may still be listed until purged). */
  listBlobKeys(): Promise<CacheKeyString[]>;
  /** Deletes expired bytes; returns how many. Redis expires keys itself and returns 0. */
  purgeExpiredBlobs(nowMs: number): Promise<number>;
  getMeta(key: CacheKeyString): Promise<StoredEntryMeta | undefined>;
  setMeta(meta: StoredEntryMeta, ttlMs?: number): Promise<void>;
  deleteMeta(key: CacheKeyString): Promise<void>;
  /** Every live index record of this namespace. */
  listMeta(): Promise<StoredEntryMeta[]>;
  /** Throws when the backing service cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
