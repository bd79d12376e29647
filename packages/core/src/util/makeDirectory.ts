import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/**
 * `mkdir -p` that fails fast: Node's recursive mkdir spins forever at 100 % CPU under procfs (`/proc/nope/x`),
 * so the nearest existing ancestor is found first (it must be a directory), then the missing parts are created
 * one at a time without `recursive`. Rejects with the first error (ENOTDIR, EACCES, ENOENT, …).
 */
export async function makeDirectory(path: string): Promise<void> {
  const missing: string[] = [];
  let current = resolve(path);
  for (;;) {
    const info = await stat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (info !== undefined) {
      if (!info.isDirectory()) throw Object.assign(new Error(`${current} exists and is not a directory`), { code: "ENOTDIR" });
      break;
    }
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const dir of missing.reverse()) {
    await mkdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
  }
}
