import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelFormatError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { locateOnnxRuntimeNode } from "../../../../packages/core/src/runtime/executionProvider.js";
import { readElfDynamic } from "../../../../packages/core/src/setup/readElfDynamic.js";
import { gpuFixture } from "./gpuFixtures.js";

describe("readElfDynamic", () => {
  it("reads DT_NEEDED, RUNPATH and SONAME of a shared library (fixture made by make-fixtures.sh)", () => {
    const info = readElfDynamic(gpuFixture("libneeds-missing.so"));
    assert.deepEqual(info.needed, ["libkvlink-missing.so.7"]);
    assert.deepEqual(info.runpath, ["$ORIGIN/runpath"]);
    assert.equal(info.soname, "libneeds-missing.so");
  });

  it("reads onnxruntime-node's own libonnxruntime.so.1, which links libc", () => {
    const info = readElfDynamic(join(locateOnnxRuntimeNode().nativeDir, "libonnxruntime.so.1"));
    assert.ok(info.needed.includes("libc.so.6"), `needed: ${info.needed.join(", ")}`);
    assert.equal(info.soname, "libonnxruntime.so.1");
  });

  it("a file that is not ELF, or truncated, is a ModelFormatError", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kvlink-elf-"));
    try {
      await writeFile(join(dir, "text.so"), "not an elf file at all, but long enough to hold a header ".repeat(2));
      assert.throws(() => readElfDynamic(join(dir, "text.so")), ModelFormatError);
      await writeFile(join(dir, "short.so"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1]));
      assert.throws(() => readElfDynamic(join(dir, "short.so")), ModelFormatError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
