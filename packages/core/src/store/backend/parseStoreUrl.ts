import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { ConfigError } from "../../errors/KvLinkError.js";

/** A store URL taken apart: which backend, and where. */
export type ParsedStoreUrl =
  | { readonly scheme: "memory"; readonly url: string; readonly description: string }
  | { readonly scheme: "sqlite"; readonly url: string; readonly description: string; readonly path: string }
  | { readonly scheme: "redis"; readonly url: string; readonly description: string };

/** `sqlite://$KVLINK_HOME/cache.sqlite`, KVLINK_HOME defaulting to ~/.cache/kvlink (as the model set-up). */
export function defaultStoreUrl(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.KVLINK_HOME !== undefined && env.KVLINK_HOME !== "" ? env.KVLINK_HOME : join(homedir(), ".cache", "kvlink");
  return `sqlite://${resolve(home, "cache.sqlite")}`;
}

/**
 * Parses `memory://[name]`, `sqlite://<path>` (absolute, or relative to `cwd`), `redis://[user:pass@]host[:port][/db]`
 * (also `rediss://`). Throws ConfigError for any other scheme or a malformed URL.
 */
export function parseStoreUrl(url: string, cwd: string = process.cwd()): ParsedStoreUrl {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  const rest = scheme === undefined ? "" : url.slice(scheme.length + 3);
  switch (scheme) {
    case "memory":
      if (!/^[A-Za-z0-9._-]*$/.test(rest)) throw new ConfigError(`memory store name must match [A-Za-z0-9._-]*, got ${JSON.stringify(rest)} in ${url}`);
      return { scheme: "memory", url: `memory://${rest}`, description: `memory://${rest}` };
    case "sqlite": {
      if (rest === "") throw new ConfigError(`sqlite store URL needs a path: sqlite://<path>, got ${url}`);
      const path = rest === ":memory:" ? rest : isAbsolute(rest) ? rest : resolve(cwd, rest);
      return { scheme: "sqlite", url: `sqlite://${path}`, description: `sqlite://${path}`, path };
    }
    case "redis":
    case "rediss": {
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
    }
    default:
      throw new ConfigError(`unknown cache store URL ${JSON.stringify(redact(url))}: expected memory://, sqlite://<path> or redis://host:port`, {
        details: { scheme: scheme ?? null },
      });
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
