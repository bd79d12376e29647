import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { availableParallelism, tmpdir } from "node:os";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeTinyModel } from "../../../../packages/core/src/graph/writeTinyModel.js";
import { InProcessRuntime } from "../../../../packages/core/src/runtime/InProcessRuntime.js";
import { workerExecArgv } from "../../../../packages/core/src/runtime/spawnWorker.js";
import { readModelFolder } from "../../../../packages/core/src/model/modelFolder.js";
import { repoRoot } from "./runKvlink.js";

describe("the host's Node options and thread counts (issue 13 B2, B5)", function () {
  this.timeout(120_000);
  let root: string;
  let modelDir: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "kvlink-execargv-"));
    modelDir = join(root, "tiny");
    await writeTinyModel(modelDir, { layers: 1, hidden: 32, heads: 4, kvHeads: 2, vocab: 320, seed: 3, signature: "kvlink", quant: "fp32" });
  });
  after(async () => rm(root, { recursive: true, force: true }));

  it("node --max-old-space-size --expose-gc --stack-size --title … kvlink generate works (the worker gets only loader options)", () => {
    const main = join(repoRoot, "packages/core/src/cli/main.ts");
    const run = spawnSync(
      process.execPath,
      ["--max-old-space-size=4096", "--expose-gc", "--stack-size=2000", "--title=kvlink-test", "--import", "tsx", main, "generate", "--model", modelDir, "--prompt", "Hi", "--max-tokens", "2", "--greedy", "--json", "--threads", "1"],
      { cwd: repoRoot, encoding: "utf8" },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.ok(JSON.parse(run.stdout.trim().split("\n").at(-1)!).text !== undefined);
  });

  it("workerExecArgv keeps loader options with their values and drops V8/process options", () => {
    assert.deepEqual(
      workerExecArgv(["--max-old-space-size=4096", "--import", "tsx", "--expose-gc", "--require=./x.cjs", "--title", "t", "--enable-source-maps", "--conditions", "dev"]),
      ["--import", "tsx", "--require=./x.cjs", "--enable-source-maps", "--conditions", "dev"],
    );
  });

  it("an intra-op thread count above the cores is bounded by them", async () => {
    const folder = await readModelFolder(modelDir);
    await using runtime = await InProcessRuntime.create({ modelPath: folder.paths.onnxModel, spec: folder.spec, numThreads: 100_000 });
    assert.ok(runtime.info.numThreads <= availableParallelism(), `numThreads ${runtime.info.numThreads}`);
  });
});
