import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMOLLM2_SOURCE } from "../../../../packages/core/src/setup/ensureDefaultModel.js";
import { COMPLETE_MARKER, CONVERTER_VERSION } from "../../../../packages/core/src/setup/ensureModel.js";
import { writeTinyLlamaGguf } from "../../../support/ggufTinyLlama.js";
import { parseJsonLine, runKvlink, type CliRun } from "./runKvlink.js";

/** Runs the CLI from source, as `node --import tsx packages/core/src/cli/main.ts ...`. */
function kvlink(args: readonly string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<CliRun> {
  return runKvlink(args, { env, ...(input !== undefined ? { input } : {}) });
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

  describe("with a KVLINK_HOME whose default model is already set up (a tiny model standing in)", () => {
    let home: string;
    let defaultDir: string;
    before(async () => {
      home = join(root, "home");
      defaultDir = join(home, "models", SMOLLM2_SOURCE.folderName);
      await mkdir(join(home, "models"), { recursive: true });
      await cp(modelDir, defaultDir, { recursive: true });
      const marker = {
        converterVersion: CONVERTER_VERSION,
        sourceSha256: SMOLLM2_SOURCE.ggufSha256,
        signature: "kvlink",
        quant: "q4",
        ...(SMOLLM2_SOURCE.adapter !== undefined && { adapterSha256: SMOLLM2_SOURCE.adapter.sha256 }),
      };
      await writeFile(join(defaultDir, COMPLETE_MARKER), JSON.stringify(marker));
    });

    it("setup --print-dir prints only the model folder; --json reports it was already prepared; nothing is downloaded", async () => {
      const printDir = await kvlink(["setup", "--print-dir"], { KVLINK_HOME: home });
      assert.equal(printDir.code, 0, printDir.stderr);
      assert.equal(printDir.stdout, `${defaultDir}\n`);
      const json = parseJsonLine(await kvlink(["setup", "--home", home, "--json"]));
      assert.equal(json["model_dir"], defaultDir);
      assert.equal(json["prepared"], false);
      assert.deepEqual((await readdir(join(home, "models"))).filter((n) => !n.startsWith(".")), [SMOLLM2_SOURCE.folderName]);
    });

    it("generate without --model runs the default model", async () => {
      const args = ["generate", "--prompt", "Hello", "--max-tokens", "5", "--greedy", "--json", "--threads", "1"];
      const viaDefault = await kvlink(args, { KVLINK_HOME: home });
      assert.equal(viaDefault.code, 0, viaDefault.stderr);
      const explicit = await kvlink([...args, "--model", modelDir]);
      assert.equal(parseJsonLine(viaDefault)["text"], parseJsonLine(explicit)["text"]);
    });
  });

  it("setup --gguf refuses a GGUF that is not the pinned default model (DOWNLOAD) and leaves no model folder", async () => {
    const home = join(root, "setup-bad");
    const gguf = join(root, "not-smollm.gguf");
    writeTinyLlamaGguf(gguf);
    const run = await kvlink(["setup", "--home", home, "--gguf", gguf, "--print-dir"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /error: .*\(DOWNLOAD\)\n$/);
    assert.equal(run.stdout, "");
    assert.deepEqual((await readdir(join(home, "models"))).filter((n) => !n.startsWith(".")), []);
  });

  it("convert turns a tiny GGUF into a model folder that generate loads", async () => {
    const gguf = join(root, "tiny-llama.gguf");
    writeTinyLlamaGguf(gguf);
    const out = join(root, "converted");
    const run = await kvlink(["convert", gguf, out, "--quant", "q4", "--signature", "kvlink", "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const json = parseJsonLine(run);
    assert.equal(json["model_dir"], out);
    assert.equal(json["signature"], "kvlink");
    assert.equal(json["quant"], "q4");
    assert.match(run.stderr, /^convert: \d+\/\d+ \(100%\)/m, "progress lines on a non-TTY stderr");
    const gen = await kvlink(["generate", "--model", out, "--prompt", "hello", "--max-tokens", "3", "--greedy", "--json", "--threads", "1"]);
    assert.equal(gen.code, 0, gen.stderr);
    assert.ok((parseJsonLine(gen)["tokens"] as number) >= 1);
    const standard = await kvlink(["convert", gguf, join(root, "converted-std"), "--signature", "standard", "--quant", "fp32"]);
    assert.equal(standard.code, 0, standard.stderr);
    assert.match(standard.stdout, /^wrote .*converted-std \(standard signature, fp32\)/);
  });

  it("chat keeps the history across turns, /reset clears it, /exit ends (stdin piped)", async () => {
    const flags = ["--model", modelDir, "--max-tokens", "4", "--greedy", "--threads", "1"];
    const firstReply = parseJsonLine(await kvlink(["generate", ...flags, "--prompt", "Hello", "--json"]))["text"] as string;
    const run = await kvlink(["--verbose", "chat", ...flags], {}, "Hello\nHello\n/reset\nHello\n/exit\nHello\n");
    assert.equal(run.code, 0, run.stderr);
    const turns = run.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { msg?: string; numPromptTokens?: number })
      .filter((l) => l.msg === "generation finished");
    assert.equal(turns.length, 3, "three user turns before /exit");
    assert.ok(turns[1]!.numPromptTokens! > turns[0]!.numPromptTokens! + 4, "the second turn re-sends the first exchange");
    assert.equal(turns[2]!.numPromptTokens, turns[0]!.numPromptTokens, "after /reset the history is empty again");
    assert.ok(run.stdout.startsWith(`${firstReply}\n\n`));
    assert.ok(run.stdout.endsWith(`\n\n${firstReply}\n\n`));
  });

  it("chat ends at end of input", async () => {
    const run = await kvlink(["chat", "--model", modelDir, "--max-tokens", "2", "--greedy", "--threads", "1"], {}, "Hi\n");
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.endsWith("\n\n"));
  });
});
