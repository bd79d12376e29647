import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeTinyModel } from "../../../../packages/core/src/graph/writeTinyModel.js";
import { probeExecutionProvider } from "../../../../packages/core/src/runtime/probeExecutionProvider.js";
import { parseJsonLine, runKvlink } from "./runKvlink.js";

describe("cli: doctor, setup --gpu, --execution-provider", function () {
  this.timeout(180_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kvlink-gpu-cli-"));
    await writeTinyModel(join(dir, "model"), { layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 384, seed: 3, signature: "kvlink", quant: "fp32" });
    await writeFile(join(dir, "doc.md"), "The Harrow Point lighthouse was built by Agnes Morrow.");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("doctor --json reports the provider libraries, the GPU and a probe per provider; cpu starts", async () => {
    const run = await runKvlink(["doctor", "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const report = parseJsonLine(run) as { cuda: { providerLibraries: { name: string }[]; gpu: { visible: boolean } }; providers: Record<string, { ok: boolean }> };
    assert.deepEqual(report.cuda.providerLibraries.map((l) => l.name), ["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"]);
    assert.equal(typeof report.cuda.gpu.visible, "boolean");
    assert.equal(report.providers["cpu"]?.ok, true);
    assert.deepEqual(Object.keys(report.providers).sort(), ["cpu", "cuda", "webgpu"]);
  });

  it("doctor --require exits 1 for a provider that does not start, 0 for cpu", async () => {
    assert.equal((await runKvlink(["doctor", "--no-probe", "--require", "cpu"])).code, 0);
    assert.equal((await runKvlink(["doctor", "--no-probe", "--require", "no-such-ep"])).code, 1);
  });

  it("setup --gpu with a provider other than cuda exits 2; a wheel of another version is a CONFIG error", async () => {
    assert.equal((await runKvlink(["setup", "--gpu", "rocm"])).code, 2);
    const wrong = join(dir, "onnxruntime_gpu-0.0.1-cp312-cp312-manylinux_2_28_x86_64.whl");
    await writeFile(wrong, "not a wheel");
    const run = await runKvlink(["setup", "--gpu", "cuda", "--wheel", wrong]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /\(CONFIG\)/);
  });

  it("ask --execution-provider cuda either answers or exits 1 with an EXECUTION_PROVIDER error (no native crash)", async () => {
    const probe = await probeExecutionProvider("cuda");
    const run = await runKvlink(["ask", "--model", join(dir, "model"), "--no-store", "--docs", join(dir, "doc.md"), "--question", "Who?", "--max-tokens", "2", "--execution-provider", "cuda", "--json"]);
    if (probe.ok) {
      assert.equal(run.code, 0, run.stderr);
      return;
    }
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^error: execution provider "cuda" could not start .*\(EXECUTION_PROVIDER\)$/m);
  });
});
