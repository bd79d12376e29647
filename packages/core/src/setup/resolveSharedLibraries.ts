import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { readElfDynamic } from "./readElfDynamic.js";

/** One library the loader must find, and where it was found (undefined: missing). */
export interface ResolvedLibrary {
  readonly name: string;
  /** The library (or libraries) that link it. */
  readonly neededBy: readonly string[];
  readonly path?: string;
}

export interface ResolveSharedLibrariesOptions {
  /** Folders of LD_LIBRARY_PATH, searched first (the process's own at start: a later change does not reach dlopen). */
  readonly libraryPath?: readonly string[];
  /** soname → path from the loader cache; default `ldconfig -p` (empty where it is missing). */
  readonly loaderCache?: ReadonlyMap<string, string>;
  /** Searched last; default the usual x86-64 Linux system folders. */
  readonly systemDirs?: readonly string[];
}

const DEFAULT_SYSTEM_DIRS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];

/**
 * ldd without running the loader: reads DT_NEEDED of each library, finds every needed soname the way ld.so does
 * (LD_LIBRARY_PATH, the library's RUNPATH with $ORIGIN, the loader cache, system folders), and follows the found
 * ones to their own needs. Returns each soname once, found or missing, in discovery order.
 */
export function resolveSharedLibraries(libraries: readonly string[], options: ResolveSharedLibrariesOptions = {}): ResolvedLibrary[] {
  const libraryPath = options.libraryPath ?? splitPath(process.env["LD_LIBRARY_PATH"]);
  const cache = options.loaderCache ?? readLoaderCache();
  const systemDirs = options.systemDirs ?? DEFAULT_SYSTEM_DIRS;
  const byName = new Map<string, { neededBy: string[]; path?: string }>();
  const queue = [...libraries];
  const visited = new Set<string>();
  while (queue.length > 0) {
    const library = queue.shift()!;
    if (visited.has(library)) continue;
    visited.add(library);
    const info = readElfDynamic(library);
    const origin = dirname(library);
    const runpath = info.runpath.map((d) => d.replaceAll("$ORIGIN", origin).replaceAll("${ORIGIN}", origin));
    for (const name of info.needed) {
      const entry = byName.get(name) ?? { neededBy: [] };
      entry.neededBy.push(library);
      if (!byName.has(name)) {
        const path = findLibrary(name, [...libraryPath, ...runpath], cache, systemDirs);
        if (path !== undefined) {
          entry.path = path;
          queue.push(path);
        }
        byName.set(name, entry);
      }
    }
  }
  return [...byName].map(([name, e]) => ({ name, neededBy: e.neededBy, ...(e.path !== undefined ? { path: e.path } : {}) }));
}

function findLibrary(name: string, dirs: readonly string[], cache: ReadonlyMap<string, string>, systemDirs: readonly string[]): string | undefined {
  for (const dir of dirs) if (existsSync(join(dir, name))) return join(dir, name);
  const cached = cache.get(name);
  if (cached !== undefined && existsSync(cached)) return cached;
  for (const dir of systemDirs) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/** soname → path from `ldconfig -p` (x86-64 entries first); empty when ldconfig is missing. */
export function readLoaderCache(): Map<string, string> {
  const result = spawnSync("ldconfig", ["-p"], { encoding: "utf8" });
  const cache = new Map<string, string>();
  if (result.status !== 0 || typeof result.stdout !== "string") return cache;
  return parseLoaderCache(result.stdout);
}

/** Parses `ldconfig -p` lines such as "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1". */
export function parseLoaderCache(text: string): Map<string, string> {
  const cache = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/.exec(line);
    if (!m) continue;
    const [, name, flags, path] = m;
    if (process.arch === "x64" && !flags!.includes("x86-64")) continue;
    if (!cache.has(name!)) cache.set(name!, path!);
  }
  return cache;
}

export function splitPath(value: string | undefined): string[] {
  return (value ?? "").split(":").filter((d) => d !== "");
}
