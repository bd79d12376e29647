import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const mainTs = join(repoRoot, "packages/core/src/cli/main.ts");

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI from source, as `node --import tsx packages/core/src/cli/main.ts ...`. */
function kvlink(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", mainTs, ...args], { cwd: repoRoot, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("kvlink CLI", function () {
  this.timeout(120_000);
  let root: string;
  let modelDir: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "kvlink-cli-"));
    modelDir = join(root, "tiny");
    const made = await kvlink(["tiny-model", modelDir, "--vocab", "320", "--seed", "4", "--signature", "kvlink"]);
    assert.equal(made.code, 0, made.stderr);
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("generate --json prints exactly one JSON object with text, tokens, ttft_ms, tokens_per_s", async () => {
    const run = await kvlink(["generate", "--model", modelDir, "--prompt", "Hello", "--max-tokens", "6", "--greedy", "--json", "--threads", "1"]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split("\n");
    assert.equal(lines.length, 1);
    const out = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(out).sort(), ["text", "tokens", "tokens_per_s", "ttft_ms"]);
    assert.equal(typeof out["text"], "string");
    assert.ok(typeof out["tokens"] === "number" && out["tokens"] >= 1 && out["tokens"] <= 6);
    assert.ok(typeof out["ttft_ms"] === "number" && out["ttft_ms"] >= 0);
    assert.ok(typeof out["tokens_per_s"] === "number" && out["tokens_per_s"] > 0);
    assert.equal(run.stderr, "", "nothing is logged without --verbose");
  });

  it("greedy generation is reproducible, and streamed text equals the --json text", async () => {
    const args = ["generate", "--model", modelDir, "--prompt", "Hello", "--max-tokens", "6", "--greedy", "--threads", "1"];
    const json = await kvlink([...args, "--json"]);
    const streamed = await kvlink(args);
    assert.equal(streamed.code, 0, streamed.stderr);
    assert.equal(streamed.stdout, `${(JSON.parse(json.stdout) as { text: string }).text}\n`);
  });

  it("errors print `error: <message> (<code>)` to stderr, no stack, and exit 1", async () => {
    const run = await kvlink(["generate", "--model", join(root, "missing"), "--prompt", "hi"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: .*\(MODEL_LOAD\)\n$/);
    assert.equal(run.stdout, "");
    const debug = await kvlink(["generate", "--model", join(root, "missing"), "--prompt", "hi"], { KVLINK_DEBUG: "1" });
    assert.match(debug.stderr, /\n\s+at /, "KVLINK_DEBUG=1 adds the stack");
  });

  it("rejects bad option values with exit code 1", async () => {
    const run = await kvlink(["generate", "--model", modelDir, "--prompt", "hi", "--max-tokens", "many"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: /);
  });

  it("--verbose logs pino JSON lines to stderr only", async () => {
    const run = await kvlink(["--verbose", "generate", "--model", modelDir, "--prompt", "Hi", "--max-tokens", "2", "--json", "--threads", "1"]);
    assert.equal(run.code, 0, run.stderr);
    JSON.parse(run.stdout);
    const logLines = run.stderr.trim().split("\n").map((l) => JSON.parse(l) as { msg?: string });
    assert.ok(logLines.some((l) => l.msg === "runtime worker ready"));
  });
});
