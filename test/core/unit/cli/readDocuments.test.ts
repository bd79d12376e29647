import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { looksBinary, readDocuments } from "../../../../packages/core/src/cli/readDocuments.js";
import { ensureModel } from "../../../../packages/core/src/setup/ensureModel.js";
import { SMOLLM2_SOURCE } from "../../../../packages/core/src/setup/ensureDefaultModel.js";
import { KvLinkError } from "../../../../packages/core/src/errors/KvLinkError.js";

describe("bad document and model files (issue 13 B12)", function () {
  this.timeout(20_000);
  it("a binary file given as a document is skipped with a callback, text files are read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kvlink-docs-"));
    try {
      await writeFile(join(dir, "a.md"), "Vellan Island is reached by ferry.\n");
      await writeFile(join(dir, "b.bin"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0xff, 0xfe]));
      await writeFile(join(dir, "c.txt"), Buffer.from([0xc3, 0x28, 0x41])); // invalid UTF-8
      const skipped: string[] = [];
      const docs = await readDocuments([join(dir, "a.md"), join(dir, "b.bin"), join(dir, "c.txt")], {
        maxDocTokens: 512,
        countTokens: (t) => t.split(/\s+/u).length,
        onSkipBinary: (p) => skipped.push(p),
      });
      assert.deepEqual(docs.map((d) => d.path), [join(dir, "a.md")]);
      assert.deepEqual(skipped, [join(dir, "b.bin"), join(dir, "c.txt")]);
      assert.equal(looksBinary(Buffer.from("naïve café ✓", "utf8")), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("setup --gguf with a path that does not exist is a typed error", async () => {
    const home = await mkdtemp(join(tmpdir(), "kvlink-home-"));
    try {
      await assert.rejects(ensureModel(SMOLLM2_SOURCE, { home, gguf: join(home, "nope.gguf") }), KvLinkError);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
