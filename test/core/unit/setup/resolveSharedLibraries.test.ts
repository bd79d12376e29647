import assert from "node:assert/strict";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseLoaderCache, resolveSharedLibraries } from "../../../../packages/core/src/setup/resolveSharedLibraries.js";
import { gpuFixture } from "./gpuFixtures.js";

describe("resolveSharedLibraries", () => {
  const none = { loaderCache: new Map<string, string>(), systemDirs: [] as string[] };

  it("reports a needed library that is nowhere as missing, naming who needs it", () => {
    const lib = gpuFixture("libneeds-missing.so");
    const resolved = resolveSharedLibraries([lib], { ...none, libraryPath: [] });
    assert.deepEqual(resolved, [{ name: "libkvlink-missing.so.7", neededBy: [lib] }]);
  });

  it("finds it on LD_LIBRARY_PATH, in the loader cache, or through RUNPATH's $ORIGIN", async () => {
    const lib = gpuFixture("libneeds-missing.so");
    const onPath = resolveSharedLibraries([lib], { ...none, libraryPath: [gpuFixture("found")] });
    assert.equal(onPath[0]?.path, gpuFixture("found", "libkvlink-missing.so.7"));
    const cached = resolveSharedLibraries([lib], { libraryPath: [], systemDirs: [], loaderCache: new Map([["libkvlink-missing.so.7", gpuFixture("found", "libkvlink-missing.so.7")]]) });
    assert.equal(cached[0]?.path, gpuFixture("found", "libkvlink-missing.so.7"));
    const dir = await mkdtemp(join(tmpdir(), "kvlink-runpath-"));
    try {
      await cp(lib, join(dir, "libneeds-missing.so"));
      await cp(gpuFixture("found", "libkvlink-missing.so.7"), join(dir, "runpath", "libkvlink-missing.so.7"), { recursive: true });
      const viaRunpath = resolveSharedLibraries([join(dir, "libneeds-missing.so")], { ...none, libraryPath: [] });
      assert.equal(viaRunpath[0]?.path, join(dir, "runpath", "libkvlink-missing.so.7"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("parses ldconfig -p, keeping x86-64 entries on x64", () => {
    const text = [
      "1234 libs found in cache `/etc/ld.so.cache'",
      "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1",
      "\tlibz.so.1 (libc6) => /usr/lib32/libz.so.1",
      "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1",
    ].join("\n");
    const cache = parseLoaderCache(text);
    assert.equal(cache.get("libcuda.so.1"), "/usr/lib/x86_64-linux-gnu/libcuda.so.1");
    if (process.arch === "x64") assert.equal(cache.get("libz.so.1"), "/lib/x86_64-linux-gnu/libz.so.1");
  });
});
