import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseStoreUrlWith } from "./storeBackends.js";
import type { ParsedStoreUrl } from "./StoreBackend.js";

export type { ParsedStoreUrl } from "./StoreBackend.js";

/** `sqlite://$KVLINK_HOME/cache.sqlite`, KVLINK_HOME defaulting to ~/.cache/kvlink (as the model set-up). */
export function defaultStoreUrl(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.KVLINK_HOME !== undefined && env.KVLINK_HOME !== "" ? env.KVLINK_HOME : join(homedir(), ".cache", "kvlink");
  return `sqlite://${resolve(home, "cache.sqlite")}`;
}

/**
 * Parses `memory://[name]`, `sqlite://<path>` (absolute, or relative to `cwd`), `redis://[user:pass@]host[:port][/db]`
 * (also `rediss://`), or any other scheme a backend registers (storeBackends.ts). Throws ConfigError for an unknown
 * scheme or a malformed URL.
 */
export function parseStoreUrl(url: string, cwd: string = process.cwd()): ParsedStoreUrl {
  return parseStoreUrlWith(url, cwd);
}
