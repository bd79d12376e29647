import { MemoryBackend } from "./MemoryBackend.js";
import type { ParsedStoreUrl } from "./parseStoreUrl.js";
import { RedisBackend } from "./RedisBackend.js";
import { SqliteBackend } from "./SqliteBackend.js";
import type { StoreBackend } from "./StoreBackend.js";

export interface OpenStoreBackendOptions {
  /** SQLite busy timeout and redis connect timeout. */
  readonly connectTimeoutMs: number;
  readonly maxReconnectDelayMs: number;
}

/** Opens the backend a parsed store URL names, scoped to one tenant namespace. */
export async function openStoreBackend(url: ParsedStoreUrl, namespace: string, options: OpenStoreBackendOptions): Promise<StoreBackend> {
  switch (url.scheme) {
    case "memory":
      return new MemoryBackend(url.url, namespace);
    case "sqlite":
      return SqliteBackend.open(url.description, url.path, namespace, Math.max(options.connectTimeoutMs, 5000));
    case "redis":
      return RedisBackend.open(url.url, url.description, namespace, options);
  }
}
