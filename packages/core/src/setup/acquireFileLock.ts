import { open, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";

export interface FileLockOptions {
  readonly signal?: AbortSignal;
  /** How often to retry while another process holds the lock. Default 500 ms. */
  readonly pollMs?: number;
  /** A lock file older than this is taken over even if its owner looks alive. Default 30 min. */
  readonly staleMs?: number;
  /** Called once when the lock is found held by someone else. */
  readonly onWait?: (owner: string) => void;
}

/**
 * A cross-process lock: creates `lockPath` exclusively (O_EXCL) with the owner's pid and host, and waits
 * while another live process holds it. A lock whose owner pid is gone (same host) or that is older than
 * `staleMs` is removed and retried. Returns the release function (idempotent).
 */
export async function acquireFileLock(lockPath: string, options: FileLockOptions = {}): Promise<() => Promise<void>> {
  const pollMs = options.pollMs ?? 500;
  const staleMs = options.staleMs ?? 30 * 60 * 1000;
  let waited = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const handle = await open(lockPath, "wx");
      await handle.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
      await handle.close();
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await rm(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = await readOwner(lockPath);
    if (owner === undefined || (await isStale(lockPath, owner, staleMs))) {
      await rm(lockPath, { force: true });
      continue;
    }
    if (!waited) {
      waited = true;
      options.onWait?.(`pid ${owner.pid} on ${owner.host}`);
    }
    await sleep(pollMs, undefined, options.signal ? { signal: options.signal } : {});
  }
}

interface Owner {
  readonly pid: number;
  readonly host: string;
}

async function readOwner(lockPath: string): Promise<Owner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(lockPath, "utf8")) as Partial<Owner>;
    if (typeof parsed.pid === "number" && typeof parsed.host === "string") return { pid: parsed.pid, host: parsed.host };
  } catch {
    // Unreadable or half-written: judged by age below.
  }
  try {
    // A lock just being written has no content yet; treat it as held unless it is old.
    const age = Date.now() - (await stat(lockPath)).mtimeMs;
    return age > 10_000 ? undefined : { pid: -1, host: "" };
  } catch {
    return undefined;
  }
}

async function isStale(lockPath: string, owner: Owner, staleMs: number): Promise<boolean> {
  if (owner.pid > 0 && owner.host === hostname() && !pidAlive(owner.pid)) return true;
  try {
    return Date.now() - (await stat(lockPath)).mtimeMs > staleMs;
  } catch {
    return true;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
