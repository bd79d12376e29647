import { randomUUID } from "node:crypto";
import { Keyv } from "keyv";
import { ConfigError } from "../../errors/KvLinkError.js";
import { isCacheKeyString, type CacheKeyString } from "../cacheKey.js";
import type { BlobStore, ComputeLeases, StoreBackendFactory } from "./StoreBackend.js";

interface Expiring<T> {
  readonly value: T;
  readonly expiresAtMs: number | undefined;
}

/** One `memory://name` space: shared by every store of this process opened on the same URL, freed with the last. */
interface MemorySpace {
  readonly blobs: Map<string, Expiring<Buffer>>;
  readonly leases: Map<string, Expiring<string>>;
  readonly namespaceToMetaMap: Map<string, Map<string, unknown>>;
  refs: number;
}

const urlToSpace = new Map<string, MemorySpace>();

const live = <T>(entry: Expiring<T> | undefined, nowMs: number): entry is Expiring<T> =>
  entry !== undefined && (entry.expiresAtMs === undefined || nowMs < entry.expiresAtMs);

/**
 * `memory://[name]`: entry bytes in a Map private to this process (the index in a keyv Map store). Stores opened on
 * the same URL in one process share it (as they would a redis server), so namespaces and leases matter here too;
 * the data is dropped when the last of them is disposed.
 */
export class MemoryBackend implements BlobStore {
  readonly kind = "memory";
  readonly description: string;
  readonly leases: ComputeLeases;
  readonly #space: MemorySpace;
  readonly #url: string;
  readonly #prefix: string;
  #closed = false;

  constructor(url: string, namespace: string) {
    this.#url = url;
    this.description = url;
    this.#prefix = `${namespace}:`;
    let space = urlToSpace.get(url);
    if (space === undefined) {
      space = { blobs: new Map(), leases: new Map(), namespaceToMetaMap: new Map(), refs: 0 };
      urlToSpace.set(url, space);
    }
    space.refs++;
    this.#space = space;
    this.leases = memoryLeases(space.leases, this.#prefix);
  }

  /** The keyv of `namespace`'s index in this space. A Map per namespace: keyv's Map iterator filters by substring. */
  indexKeyv(namespace: string): Keyv<string> {
    let metaMap = this.#space.namespaceToMetaMap.get(namespace);
    if (metaMap === undefined) {
      metaMap = new Map();
      this.#space.namespaceToMetaMap.set(namespace, metaMap);
    }
    return new Keyv<string>(metaMap as never, { namespace: `kvlink-meta.${namespace}`, throwOnErrors: true });
  }

  async getBlob(key: CacheKeyString): Promise<Buffer | undefined> {
    const id = this.#prefix + key;
    const blob = this.#space.blobs.get(id);
    if (blob === undefined) return undefined;
    if (!live(blob, Date.now())) {
      this.#space.blobs.delete(id);
      return undefined;
    }
    return blob.value;
  }

  async setBlob(key: CacheKeyString, value: Buffer, ttlMs?: number): Promise<void> {
    this.#space.blobs.set(this.#prefix + key, { value, expiresAtMs: ttlMs === undefined ? undefined : Date.now() + ttlMs });
  }

  async deleteBlob(key: CacheKeyString): Promise<void> {
    this.#space.blobs.delete(this.#prefix + key);
  }

  async listBlobKeys(): Promise<CacheKeyString[]> {
    const out: CacheKeyString[] = [];
    for (const id of this.#space.blobs.keys()) {
      const key = id.slice(this.#prefix.length);
      if (id.startsWith(this.#prefix) && isCacheKeyString(key)) out.push(key);
    }
    return out;
  }

  async purgeExpiredBlobs(nowMs: number): Promise<number> {
    let purged = 0;
    for (const key of await this.listBlobKeys()) {
      if (!live(this.#space.blobs.get(this.#prefix + key), nowMs)) {
        this.#space.blobs.delete(this.#prefix + key);
        purged++;
      }
    }
    return purged;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (--this.#space.refs === 0) urlToSpace.delete(this.#url);
  }
}

function memoryLeases(leases: Map<string, Expiring<string>>, prefix: string): ComputeLeases {
  return {
    async acquire(key, ttlMs) {
      const now = Date.now();
      if (live(leases.get(prefix + key), now)) return undefined;
      const token = randomUUID();
      leases.set(prefix + key, { value: token, expiresAtMs: now + ttlMs });
      return token;
    },
    async renew(key, token, ttlMs) {
      const now = Date.now();
      const lease = leases.get(prefix + key);
      if (!live(lease, now) || lease.value !== token) return false;
      leases.set(prefix + key, { value: token, expiresAtMs: now + ttlMs });
      return true;
    },
    async release(key, token) {
      if (leases.get(prefix + key)?.value === token) leases.delete(prefix + key);
    },
    async isHeld(key) {
      return live(leases.get(prefix + key), Date.now());
    },
  };
}

export const memoryBackend: StoreBackendFactory = {
  schemes: ["memory"],
  example: "memory://[name]",
  parse(url, _scheme, rest) {
    if (!/^[A-Za-z0-9._-]*$/.test(rest)) throw new ConfigError(`memory store name must match [A-Za-z0-9._-]*, got ${JSON.stringify(rest)} in ${url}`);
    return { scheme: "memory", url: `memory://${rest}`, description: `memory://${rest}` };
  },
  async open(url, namespace) {
    const blobs = new MemoryBackend(url.url, namespace);
    return { blobs, indexKeyv: blobs.indexKeyv(namespace) };
  },
};
