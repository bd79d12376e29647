import { randomUUID } from "node:crypto";
import KeyvRedis, { createClient } from "@keyv/redis";
import { Keyv } from "keyv";
import { ConfigError } from "../../errors/KvLinkError.js";
import { isCacheKeyString, type CacheKeyString } from "../cacheKey.js";
import type { BlobStore, ComputeLeases, OpenStoreBackendOptions, StoreBackendFactory } from "./StoreBackend.js";

function createRedisClient(url: string, options: OpenStoreBackendOptions) {
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

/** Extends the lease in KEYS[1] to ARGV[2] ms if it still holds token ARGV[1]. */
const RENEW_LEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
/** Deletes the lease in KEYS[1] if it still holds token ARGV[1] (never another holder's). */
const RELEASE_LEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/**
 * `redis://host:port[/db]`: the keyv index through @keyv/redis and the entry bytes as raw binary strings
 * (`kvlink-blob.<namespace>::<key>`, SET with PX for the TTL), both over one node-redis client shared across
 * processes and machines. The client runs without an offline queue: while redis is down every command fails at
 * once instead of waiting, and it reconnects in the background with capped backoff, so the store degrades to
 * computing and recovers by itself. Compute leases are `kvlink-lease.<namespace>::<key>` keys (SET NX PX, renewed and
 * released by token in Lua).
 */
export class RedisBackend implements BlobStore {
  readonly kind = "redis";
  readonly description: string;
  readonly leases: ComputeLeases;
  /** The index's keyv, over the same client. */
  readonly indexKeyv: Keyv<string>;
  readonly #client: RedisClient;
  readonly #blobPrefix: string;
  #closed = false;

  private constructor(description: string, client: RedisClient, namespace: string) {
    this.description = description;
    this.#client = client;
    this.#blobPrefix = `kvlink-blob.${namespace}::`;
    const metaNamespace = `kvlink-meta.${namespace}`;
    const adapter = new KeyvRedis<string>(client as never, { namespace: metaNamespace, throwOnErrors: true, throwOnConnectError: true });
    adapter.on("error", () => {}); // failures arrive as rejections
    this.indexKeyv = new Keyv<string>(adapter, { namespace: metaNamespace, useKeyPrefix: false, throwOnErrors: true });
    this.leases = redisLeases(client, `kvlink-lease.${namespace}::`);
  }

  /** Starts connecting; returns once connected or after `connectTimeoutMs` (then still reconnecting). Never throws for a down server. */
  static async open(url: string, description: string, namespace: string, options: OpenStoreBackendOptions): Promise<RedisBackend> {
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

  async ping(): Promise<void> {
    await this.#client.ping();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#client.isOpen) this.#client.destroy();
  }
}

function redisLeases(client: RedisClient, prefix: string): ComputeLeases {
  const ms = (ttlMs: number): number => Math.max(1, Math.ceil(ttlMs));
  return {
    async acquire(key, ttlMs) {
      const token = randomUUID();
      const reply = await client.set(prefix + key, token, { condition: "NX", expiration: { type: "PX", value: ms(ttlMs) } });
      return reply === "OK" ? token : undefined;
    },
    async renew(key, token, ttlMs) {
      return Number(await client.eval(RENEW_LEASE, { keys: [prefix + key], arguments: [token, String(ms(ttlMs))] })) === 1;
    },
    async release(key, token) {
      await client.eval(RELEASE_LEASE, { keys: [prefix + key], arguments: [token] });
    },
    async isHeld(key) {
      return (await client.exists(prefix + key)) === 1;
    },
  };
}

/** The URL with its password replaced by `***`, for logs and errors. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

export const redisBackend: StoreBackendFactory = {
  schemes: ["redis", "rediss"],
  example: "redis://host:port",
  parse(url) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (cause) {
      throw new ConfigError(`malformed redis URL ${redact(url)}`, { cause });
    }
    if (parsed.hostname === "") throw new ConfigError(`redis URL needs a host: redis://host:port[/db], got ${redact(url)}`);
    const db = parsed.pathname.replace(/^\//, "");
    if (db !== "" && !/^\d{1,5}$/.test(db)) throw new ConfigError(`redis database must be a number, got ${JSON.stringify(db)} in ${redact(url)}`);
    if (parsed.search !== "" || parsed.hash !== "") throw new ConfigError(`redis URL takes no query or fragment: ${redact(url)}`);
    return { scheme: "redis", url, description: redact(url) };
  },
  async open(url, namespace, options) {
    const blobs = await RedisBackend.open(url.url, url.description, namespace, options);
    return { blobs, indexKeyv: blobs.indexKeyv };
  },
};
