import KeyvRedis, { createClient } from "@keyv/redis";
import { Keyv } from "keyv";
import { isCacheKeyString, type CacheKeyString } from "../cacheKey.js";
import { KeyvMetaIndex } from "./KeyvMetaIndex.js";
import type { StoreBackend, StoredEntryMeta } from "./StoreBackend.js";

function createRedisClient(url: string, options: RedisBackendOptions) {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, options.maxReconnectDelayMs),
    },
  });
}
type RedisClient = ReturnType<typeof createRedisClient>;

/** RESP_TYPES.BLOB_STRING of @redis/client: map bulk strings to Buffers so entry bytes are never decoded as text. */
const RESP_BLOB_STRING = 36;

export interface RedisBackendOptions {
  /** How long create() waits for the first connection before carrying on degraded (the client keeps retrying). */
  readonly connectTimeoutMs: number;
  /** The longest pause between reconnection attempts while redis is down. */
  readonly maxReconnectDelayMs: number;
}

/**
 * `redis://host:port[/db]`: the keyv index through @keyv/redis and the entry bytes as raw binary strings
 * (`kvlink-blob.<namespace>::<key>`, SET with PX for the TTL), both over one node-redis client shared across
 * processes and machines. The client runs without an offline queue: while redis is down every command fails at
 * once instead of waiting, and it reconnects in the background with capped backoff, so the store degrades to
 * computing and recovers by itself.
 */
export class RedisBackend implements StoreBackend {
  readonly kind = "redis";
  readonly description: string;
  readonly #client: RedisClient;
  readonly #blobPrefix: string;
  readonly #meta: KeyvMetaIndex;
  #closed = false;

  private constructor(description: string, client: RedisClient, namespace: string) {
    this.description = description;
    this.#client = client;
    this.#blobPrefix = `kvlink-blob.${namespace}::`;
    const metaNamespace = `kvlink-meta.${namespace}`;
    const adapter = new KeyvRedis<string>(client as never, { namespace: metaNamespace, throwOnErrors: true, throwOnConnectError: true });
    adapter.on("error", () => {}); // failures arrive as rejections
    const keyv = new Keyv<string>(adapter, { namespace: metaNamespace, useKeyPrefix: false, throwOnErrors: true });
    this.#meta = new KeyvMetaIndex(keyv, namespace);
  }

  /** Starts connecting; returns once connected or after `connectTimeoutMs` (then still reconnecting). Never throws for a down server. */
  static async open(url: string, description: string, namespace: string, options: RedisBackendOptions): Promise<RedisBackend> {
    const client = createRedisClient(url, options);
    client.on("error", () => {}); // socket errors surface as failed commands; without a listener they would crash
    const connected = client.connect().then(() => true, () => false);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), options.connectTimeoutMs);
    });
    await Promise.race([connected, timedOut]);
    clearTimeout(timer);
    return new RedisBackend(description, client, namespace);
  }

  #blobKey(key: CacheKeyString): string {
    return this.#blobPrefix + key;
  }

  async getBlob(key: CacheKeyString): Promise<Buffer | undefined> {
    const bytes: unknown = await this.#client.withTypeMapping({ [RESP_BLOB_STRING]: Buffer }).get(this.#blobKey(key));
    if (bytes === null || bytes === undefined) return undefined;
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(String(bytes), "utf8");
  }

  async setBlob(key: CacheKeyString, value: Buffer, ttlMs?: number): Promise<void> {
    if (ttlMs === undefined) await this.#client.set(this.#blobKey(key), value);
    else await this.#client.set(this.#blobKey(key), value, { PX: Math.max(1, Math.ceil(ttlMs)) });
  }

  async deleteBlob(key: CacheKeyString): Promise<void> {
    await this.#client.del(this.#blobKey(key));
  }

  async listBlobKeys(): Promise<CacheKeyString[]> {
    const out: CacheKeyString[] = [];
    let cursor = "0";
    do {
      const reply = await this.#client.scan(cursor, { MATCH: `${this.#blobPrefix}*`, COUNT: 1000 });
      cursor = String(reply.cursor);
      for (const full of reply.keys) {
        const key = String(full).slice(this.#blobPrefix.length);
        if (String(full).startsWith(this.#blobPrefix) && isCacheKeyString(key)) out.push(key);
      }
    } while (cursor !== "0");
    return out;
  }

  async purgeExpiredBlobs(): Promise<number> {
    return 0; // redis expires keys by itself (PX)
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

  async ping(): Promise<void> {
    await this.#client.ping();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#client.isOpen) this.#client.destroy();
  }
}
