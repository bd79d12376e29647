/** Plain-text passages from Debian's linux-doc-6.1 (kernel documentation, GPL-2.0). */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import { defaultCacheDir } from "./wiki.js";

export const LINUX_DOC_PACKAGE = "linux-doc-6.1";

/** Files (relative to Documentation/) used for the committed held-out perplexity passages; excluded from training. */
export const HELDOUT_LINUX_DOC_FILES: readonly string[] = [
  "admin-guide/README.rst",
  "process/howto.rst",
  "filesystems/ext4/about.rst",
  "scheduler/sched-design-CFS.rst",
  "admin-guide/sysrq.rst",
];

function docRoot(cacheDir: string): string {
  const dir = join(cacheDir, "linux-doc");
  const root = join(dir, "x", "usr", "share", "doc", LINUX_DOC_PACKAGE, "Documentation");
  if (!existsSync(root)) {
    mkdirSync(dir, { recursive: true });
    let deb = readdirSync(dir).find((f) => f.endsWith(".deb"));
    if (!deb) {
      execFileSync("apt-get", ["download", LINUX_DOC_PACKAGE], { cwd: dir, stdio: "inherit" });
      deb = readdirSync(dir).find((f) => f.endsWith(".deb"));
    }
    if (!deb) throw new Error(`loadLinuxDocTexts: apt-get download ${LINUX_DOC_PACKAGE} left no .deb in ${dir}`);
    execFileSync("dpkg", ["-x", join(dir, deb), join(dir, "x")], { stdio: "inherit" });
  }
  return root;
}

/** reStructuredText → plain prose: drops directives, labels, underline rules and markup characters. */
export function rstToText(rst: string): string {
  const lines = rst.split("\n").filter((l) => !/^\s*\.\. /.test(l) && !/^\s*[=\-~^"'`#*+]{3,}\s*$/.test(l) && !/^\s*:\w+:/.test(l));
  return lines.join("\n").replace(/``([^`]+)``/g, "$1").replace(/:\w+:`([^`<]+?)(?: <[^>]+>)?`/g, "$1").replace(/`([^`<]+?)(?: <[^>]+>)?`_*/g, "$1").replace(/\*\*([^*]+)\*\*/g, "$1").replace(/[ \t]+/g, " ").replace(/\n{3,}/g, "\n\n").trim();
}

/** Passages of at most maxWords, built from whole paragraphs. */
export function paragraphsToPassages(text: string, maxWords = 300): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let words = 0;
  for (const p of text.split(/\n\s*\n/).map((x) => x.trim()).filter(Boolean)) {
    const w = p.split(/\s+/).length;
    if (words + w > maxWords && cur.length > 0) { out.push(cur.join("\n\n")); cur = []; words = 0; }
    cur.push(p);
    words += w;
  }
  if (cur.length > 0) out.push(cur.join("\n\n"));
  return out;
}

function walk(dir: string, out: string[]): void {
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (f.endsWith(".rst.gz") || f.endsWith(".txt.gz")) out.push(p);
  }
}

/** Reads one Documentation/ file as plain text (path relative to Documentation/, without .gz). */
export function readLinuxDoc(cacheDir: string, relPath: string): string {
  return rstToText(gunzipSync(readFileSync(join(docRoot(cacheDir), `${relPath}.gz`))).toString("utf8"));
}

/** Passages (≤300 words) of every .rst/.txt file except the held-out ones; downloads the package when missing. */
export async function loadLinuxDocTexts(cacheDir: string = defaultCacheDir()): Promise<Array<{ path: string; text: string }>> {
  const root = docRoot(cacheDir);
  const files: string[] = [];
  walk(root, files);
  const held = new Set(HELDOUT_LINUX_DOC_FILES);
  const out: Array<{ path: string; text: string }> = [];
  for (const f of files) {
    const rel = relative(root, f).replace(/\.gz$/, "");
    if (held.has(rel)) continue;
    const text = rstToText(gunzipSync(readFileSync(f)).toString("utf8"));
    for (const p of paragraphsToPassages(text)) if (p.split(/\s+/).length >= 40) out.push({ path: rel, text: p });
  }
  return out;
}
