import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat, writeFile } from "node:fs/promises";
import { basename } from "node:path";

interface CacheEntry {
  readonly files: readonly { readonly name: string; readonly sizeBytes: number; readonly mtimeMs: number }[];
  readonly sha256: string;
}

/**
 * Hex sha256 of the concatenation of `paths` (in order), streamed in 8 MiB chunks so files over 2 GiB work,
 * and cached in the JSON file `cachePath` under the files' names, sizes and mtimes: a later call with
 * unchanged files reads the cache instead of the bytes. A cache that cannot be read or written is ignored.
 */
export async function sha256FilesCached(paths: readonly string[], cachePath: string): Promise<string> {
  const files = await Promise.all(
    paths.map(async (p) => {
      const s = await stat(p);
      return { name: basename(p), sizeBytes: s.size, mtimeMs: s.mtimeMs };
    }),
  );
  const key = files.map((f) => f.name).join("+");
  let cache: Record<string, CacheEntry> = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(cachePath, "utf8"));
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) cache = parsed as Record<string, CacheEntry>;
  } catch {
    // no cache yet
  }
  const hit = cache[key];
  if (hit && hit.files.length === files.length && hit.files.every((f, i) => f.sizeBytes === files[i]!.sizeBytes && f.mtimeMs === files[i]!.mtimeMs)) {
    return hit.sha256;
  }
  const hash = createHash("sha256");
  for (const p of paths) for await (const chunk of createReadStream(p, { highWaterMark: 8 << 20 })) hash.update(chunk as Buffer);
  const sha256 = hash.digest("hex");
  try {
    await writeFile(cachePath, `${JSON.stringify({ ...cache, [key]: { files, sha256 } }, null, 2)}\n`);
  } catch {
    // read-only model folder: hash again next time
  }
  return sha256;
}
