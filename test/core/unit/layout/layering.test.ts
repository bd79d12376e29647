import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * packages/core/src folders in layer order: a folder may import only from folders before it (index.ts, the
 * public entry, excepted). rope/ comes before model/ because RoPE parameters are part of a model's spec and
 * the more primitive concept; kv/ holds only the cache types that both model/ (fingerprints) and store/ use.
 */
const LAYERS = [
  "errors",
  "util",
  "kv",
  "rope",
  "model",
  "tokenizer",
  "gguf",
  "graph",
  "link",
  "store",
  "runtime",
  "generate",
  "decoder",
  "convert",
  "setup",
  "precompute",
  "engine",
  "queue",
  "cli",
];

const srcRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../packages/core/src");

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : name.endsWith(".ts") ? [p] : [];
  });
}

describe("packages/core layering", () => {
  it("every folder is in the layer list", () => {
    const folders = readdirSync(srcRoot).filter((n) => statSync(join(srcRoot, n)).isDirectory());
    for (const f of folders) assert.ok(LAYERS.includes(f), `packages/core/src/${f} is not in the layer order of this test`);
  });

  it("a folder imports only from folders above it", () => {
    const violations: string[] = [];
    for (const file of tsFiles(srcRoot)) {
      const rel = relative(srcRoot, file);
      if (!rel.includes("/")) continue; // index.ts
      const from = rel.split("/")[0]!;
      for (const m of readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)) {
        const to = relative(srcRoot, resolve(dirname(file), m[1]!)).split("/")[0]!;
        if (to === from) continue;
        if (LAYERS.indexOf(to) > LAYERS.indexOf(from)) violations.push(`${rel} imports ${m[1]} (${from} -> ${to})`);
      }
    }
    assert.deepEqual(violations, []);
  });
});
