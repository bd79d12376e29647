import { type Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { extname, join, relative, resolve, sep } from "node:path";
import { InvalidInputError } from "../errors/KvLinkError.js";
import { GLOB_CHARS, globToRegExp } from "./globToRegExp.js";

/** Extensions of the files a folder argument contributes (a file named directly is always taken). */
export const TEXT_FILE_EXTENSIONS: ReadonlySet<string> = new Set([
  ".txt", ".text", ".md", ".markdown", ".mdx", ".rst", ".adoc", ".org", ".tex", ".log",
  ".html", ".htm", ".xml", ".svg", ".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".yaml", ".yml", ".toml", ".ini", ".cfg",
  ".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs", ".py", ".java", ".kt", ".scala", ".go", ".rs", ".c", ".h",
  ".cc", ".cpp", ".hpp", ".cs", ".rb", ".php", ".swift", ".sh", ".bash", ".sql", ".css", ".scss", ".vue", ".svelte",
]);

/** Folders never walked into (besides hidden ones). */
const SKIPPED_DIRS = new Set(["node_modules"]);

export interface ExpandDocumentPathsOptions {
  /** Relative paths and patterns are resolved here. Default process.cwd(). */
  readonly cwd?: string;
}

/**
 * Absolute paths of the files named by `inputs`, each of which is a file (taken as is), a folder (walked
 * recursively for TEXT_FILE_EXTENSIONS files) or a glob (see globToRegExp; every matching file is taken). Hidden
 * entries and node_modules are skipped while walking. Each input's files come sorted; duplicates are dropped.
 * InvalidInputError for a path that does not exist or a pattern that matches no file.
 */
export async function expandDocumentPaths(inputs: readonly string[], options: ExpandDocumentPathsOptions = {}): Promise<string[]> {
  const cwd = options.cwd ?? process.cwd();
  const seen = new Set<string>();
  const out: string[] = [];
  const add = (paths: readonly string[]): void => {
    for (const path of [...paths].sort()) {
      if (seen.has(path)) continue;
      seen.add(path);
      out.push(path);
    }
  };
  for (const input of inputs) {
    const portable = input.split(sep).join("/");
    if (GLOB_CHARS.test(portable)) {
      const matches = await expandGlob(portable, cwd);
      if (matches.length === 0) throw new InvalidInputError(`no file matches ${JSON.stringify(input)} (in ${cwd})`, { details: { pattern: input } });
      add(matches);
      continue;
    }
    const path = resolve(cwd, input);
    const info = await stat(path).catch((cause: unknown) => {
      throw new InvalidInputError(`no such file or folder: ${path}`, { cause, details: { path } });
    });
    if (info.isDirectory()) add(await walk(path, (file) => TEXT_FILE_EXTENSIONS.has(extname(file).toLowerCase())));
    else add([path]);
  }
  return out;
}

async function expandGlob(pattern: string, cwd: string): Promise<string[]> {
  const segments = pattern.split("/");
  const firstGlob = segments.findIndex((s) => GLOB_CHARS.test(s));
  const baseSegments = segments.slice(0, firstGlob);
  const base = baseSegments.length === 0 ? cwd : resolve(cwd, baseSegments.join("/") || "/");
  const matcher = globToRegExp(segments.slice(firstGlob).join("/"));
  const exists = await stat(base).then((s) => s.isDirectory(), () => false);
  if (!exists) return [];
  return walk(base, (file) => matcher.test(relative(base, file).split(sep).join("/")));
}

/** Files under `dir` (recursively, no hidden entries, no node_modules, symlinked folders not followed) that `accept`. */
async function walk(dir: string, accept: (file: string) => boolean): Promise<string[]> {
  const files: string[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop()!;
    let entries: Dirent[];
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (cause) {
      throw new InvalidInputError(`cannot read folder ${current}: ${(cause as Error).message}`, { cause, details: { path: current } });
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) pending.push(path);
      } else if (entry.isFile() || (entry.isSymbolicLink() && (await stat(path).then((s) => s.isFile(), () => false)))) {
        if (accept(path)) files.push(path);
      }
    }
  }
  return files;
}
