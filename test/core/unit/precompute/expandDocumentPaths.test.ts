import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInputError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { expandDocumentPaths } from "../../../../packages/core/src/precompute/expandDocumentPaths.js";
import { globToRegExp } from "../../../../packages/core/src/precompute/globToRegExp.js";

describe("globToRegExp", () => {
  const cases: [string, string[], string[]][] = [
    ["*.md", ["a.md", "b.c.md"], ["a.txt", "d/a.md", ".hidden.md"]],
    ["**/*.md", ["a.md", "x/a.md", "x/y/z.md"], ["a.txt", ".git/a.md", "x/.h/a.md"]],
    ["docs/**", ["docs/a", "docs/x/y.txt"], ["other/a"]],
    ["a?c.txt", ["abc.txt"], ["ac.txt", "abbc.txt", "a/c.txt"]],
    ["file[0-2].{md,txt}", ["file0.md", "file2.txt"], ["file3.md", "file1.rst"]],
    ["[!a]*.js", ["b.js"], ["a.js"]],
    ["x/**/y/*.json", ["x/y/a.json", "x/1/2/y/b.json"], ["x/y/z/a.json"]],
    ["a+b(1).txt", ["a+b(1).txt"], ["aab1.txt"]],
  ];
  for (const [pattern, yes, no] of cases) {
    it(`${pattern} matches ${yes.join(", ")} and not ${no.join(", ")}`, () => {
      const re = globToRegExp(pattern);
      for (const p of yes) assert.ok(re.test(p), `${pattern} should match ${p}`);
      for (const p of no) assert.ok(!re.test(p), `${pattern} should not match ${p}`);
    });
  }

  it("rejects unclosed classes and alternatives", () => {
    assert.throws(() => globToRegExp("a[bc"), InvalidInputError);
    assert.throws(() => globToRegExp("a{b,c"), InvalidInputError);
  });
});

describe("expandDocumentPaths", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "kvlink-expand-"));
    for (const [path, text] of Object.entries({
      "docs/a.md": "a",
      "docs/b.txt": "b",
      "docs/image.png": "png",
      "docs/deep/c.md": "c",
      "docs/deep/d.rst": "d",
      "docs/.hidden/e.md": "e",
      "docs/node_modules/f.md": "f",
      "notes.custom": "g",
    })) {
      await mkdir(join(root, path, ".."), { recursive: true });
      await writeFile(join(root, path), text);
    }
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("walks folders recursively for text-like files, skipping hidden folders and node_modules", async () => {
    const files = await expandDocumentPaths(["docs"], { cwd: root });
    assert.deepEqual(files, ["docs/a.md", "docs/b.txt", "docs/deep/c.md", "docs/deep/d.rst"].map((p) => join(root, p)));
  });

  it("expands globs relative to cwd or absolute, takes named files of any extension, and drops duplicates", async () => {
    const files = await expandDocumentPaths(["docs/**/*.md", `${root}/docs/*.{txt,md}`, "notes.custom"], { cwd: root });
    assert.deepEqual(files, ["docs/a.md", "docs/deep/c.md", "docs/b.txt", "notes.custom"].map((p) => join(root, p)));
  });

  it("rejects a missing path and a glob that matches nothing", async () => {
    await assert.rejects(expandDocumentPaths(["missing.md"], { cwd: root }), InvalidInputError);
    await assert.rejects(expandDocumentPaths(["docs/**/*.pdf"], { cwd: root }), InvalidInputError);
  });
});
