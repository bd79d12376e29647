import { Keyv } from "keyv";
import { isCacheKeyString, type CacheKeyString } from "../cacheKey.js";
import { KeyvMetaIndex } from "./KeyvMetaIndex.js";
import type { StoreBackend, StoredEntryMeta } from "./StoreBackend.js";

interface StoredBlob {
  readonly value: Buffer;
  readonly expiresAtMs: number | undefined;
}

/** One `memory://name` space: shared by every store of this process opened on the same URL, freed with the last. */
interface MemorySpace {
  readonly blobs: Map<string, StoredBlob>;
  readonly namespaceToMetaMap: Map<string, Map<string, unknown>>;
  refs: number;
}

const urlToSpace = new Map<string, MemorySpace>();

/**
 * `memory://[name]`: a keyv in-memory store for the index plus a Map of entry bytes, private to this process.
 * Stores opened on the same URL in one process share it (as they would a redis server), so namespaces matter here
 * too; the data is dropped when the last of them is disposed.
 */
export class MemoryBackend implements StoreBackend {
  readonly kind = "memory";
  readonly description: string;
  readonly #space: MemorySpace;
  readonly #url: string;
  readonly #namespace: string;
  readonly #meta: KeyvMetaIndex;
  #closed = false;

  constructor(url: string, namespace: string) {
    this.#url = url;
    this.description = url;
    this.#namespace = namespace;
    let space = urlToSpace.get(url);
    if (space === undefined) {
      space = { blobs: new Map(), namespaceToMetaMap: new Map(), refs: 0 };
      urlToSpace.set(url, space);
    }
    space.refs++;
    this.#space = space;
    let metaMap = space.namespaceToMetaMap.get(namespace);
    if (metaMap === undefined) {
      metaMap = new Map();
      space.namespaceToMetaMap.set(namespace, metaMap);
    }
    // A Map per namespace: keyv's Map iterator filters by substring, which would let "t1" see "t10".
    const keyv = new Keyv<string>(metaMap as never, { namespace: `kvlink-meta.${namespace}`, throwOnErrors: true });
    this.#meta = new KeyvMetaIndex(keyv, namespace);
  }

  #blobId(key: CacheKeyString): string {
    return `${this.#namespace}:${key}`;
  }

  async getBlob(key: CacheKeyString): Promise<Buffer | undefined> {
    const blob = this.#space.blobs.get(this.#blobId(key));
    if (blob === undefined) return undefined;
    if (blob.expiresAtMs !== undefined && Date.now() >= blob.expiresAtMs) {
      this.#space.blobs.delete(this.#blobId(key));
      return undefined;
    }
    return blob.value;
  }

  async setBlob(key: CacheKeyString, value: Buffer, ttlMs?: number): Promise<void> {
    this.#space.blobs.set(this.#blobId(key), { value, expiresAtMs: ttlMs === undefined ? undefined : Date.now() + ttlMs });
  }

  async deleteBlob(key: CacheKeyString): Promise<void> {
    this.#space.blobs.delete(this.#blobId(key));
  }

  async listBlobKeys(): Promise<CacheKeyString[]> {
    const prefix = `${this.#namespace}:`;
    const out: CacheKeyString[] = [];
    for (const id of this.#space.blobs.keys()) {
      const key = id.slice(prefix.length);
      if (id.startsWith(prefix) && isCacheKeyString(key)) out.push(key);
    }
    return out;
  }

  async purgeExpiredBlobs(nowMs: number): Promise<number> {
    let purged = 0;
    for (const key of await this.listBlobKeys()) {
      const blob = this.#space.blobs.get(this.#blobId(key));
      if (blob?.expiresAtMs !== undefined && nowMs >= blob.expiresAtMs) {
        this.#space.blobs.delete(this.#blobId(key));
        purged++;
      }
    }
    return purged;
  }

  getMeta(key: CacheKeyString): Promise<StoredEntryMeta | undefined> {
    return this.#meta.get(key);
  }

  setMeta(meta: StoredEntryMeta, ttlMs?: number): Promise<void> {
    return this.#meta.set(meta, ttlMs);
  }

  deleteMeta(key: CacheKeyString): Promise<void> {
    return this.#meta.delete(key);
  }

  listMeta(): Promise<StoredEntryMeta[]> {
    return this.#meta.list();
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (--this.#space.refs === 0) urlToSpace.delete(this.#url);
  }
}
