import { ConfigError } from "../../errors/KvLinkError.js";
import { memoryBackend } from "./MemoryBackend.js";
import { redact, redisBackend } from "./RedisBackend.js";
import { sqliteBackend } from "./SqliteBackend.js";
import type { OpenedStoreBackend, OpenStoreBackendOptions, ParsedStoreUrl, StoreBackendFactory } from "./StoreBackend.js";

/** URL scheme → the backend that parses and opens it. Adding a backend: one file with a StoreBackendFactory, one entry here. */
const SCHEME_TO_BACKEND: ReadonlyMap<string, StoreBackendFactory> = new Map(
  [memoryBackend, sqliteBackend, redisBackend].flatMap((factory) => factory.schemes.map((scheme) => [scheme, factory] as const)),
);

/** Parses a store URL with the backend of its scheme; ConfigError for an unknown scheme or a malformed URL. */
export function parseStoreUrlWith(url: string, cwd: string): ParsedStoreUrl {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  const factory = scheme === undefined ? undefined : SCHEME_TO_BACKEND.get(scheme);
  if (scheme === undefined || factory === undefined) {
    const expected = [...new Set(SCHEME_TO_BACKEND.values())].map((f) => f.example).join(", ");
    throw new ConfigError(`unknown cache store URL ${JSON.stringify(redact(url))}: expected one of ${expected}`, {
      details: { scheme: scheme ?? null },
    });
  }
  return factory.parse(url, scheme, url.slice(scheme.length + 3), cwd);
}

/** Opens the backend a parsed store URL names, scoped to one tenant namespace. */
export function openStoreBackend(url: ParsedStoreUrl, namespace: string, options: OpenStoreBackendOptions): Promise<OpenedStoreBackend> {
  const factory = SCHEME_TO_BACKEND.get(url.scheme);
  if (factory === undefined) throw new ConfigError(`no store backend for scheme ${JSON.stringify(url.scheme)}`);
  return factory.open(url, namespace, options);
}
