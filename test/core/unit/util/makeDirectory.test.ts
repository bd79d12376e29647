import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeTinyModel } from "../../../../packages/core/src/graph/writeTinyModel.js";
import { KvLinkError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { makeDirectory } from "../../../../packages/core/src/util/makeDirectory.js";

describe("makeDirectory (issue 13 B6: recursive mkdir spun forever under /proc)", function () {
  this.timeout(20_000);
  it("creates missing parents, accepts an existing directory, refuses a file on the way", async () => {
    const root = await mkdtemp(join(tmpdir(), "kvlink-mkdir-"));
    try {
      await makeDirectory(join(root, "a", "b", "c"));
      assert.ok((await stat(join(root, "a", "b", "c"))).isDirectory());
      await makeDirectory(join(root, "a", "b"));
      await writeFile(join(root, "file"), "x");
      await assert.rejects(makeDirectory(join(root, "file", "sub")), { code: "ENOTDIR" });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("fails at once under procfs, and tiny-model /proc/x gives a typed error", async function () {
    if (process.platform !== "linux") this.skip();
    const t0 = Date.now();
    await assert.rejects(makeDirectory("/proc/nope/x"));
    await assert.rejects(
      writeTinyModel("/proc/kvlink-nope/x", { layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 300, seed: 1, signature: "kvlink", quant: "fp32" }),
      KvLinkError,
    );
    assert.ok(Date.now() - t0 < 10_000);
  });
});
