import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunAgentsResult } from "../../../packages/agents-demo/src/runAgents.js";
import type { AgentTurn } from "../../../packages/agents-demo/src/workflow/buildWorkflow.js";
import { repoRoot, runKvlink, type CliRun } from "../../core/integration/cli/runKvlink.js";
import { RedisTestServer, skipWithoutRedis } from "../../support/redisServer.js";
import { writeFixtureCorpus } from "../support/fixtureCorpus.js";

const AGENTS_MAIN = join(repoRoot, "packages/agents-demo/src/main.ts");
const QUESTIONS = ["Who built the Harrow Point lighthouse?", "How long does the ferry to Vellan Island take?"];

function runAgentsCli(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", AGENTS_MAIN, ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const ok = (run: CliRun): CliRun => {
  assert.equal(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
};

/** Every call's figures add up: reused + computed = the document tokens it read. */
function assertConsistent(turns: readonly AgentTurn[]): void {
  for (const t of turns) assert.equal(t.kvlink.docTokensReused + t.kvlink.docTokensComputed, t.docTokens, `${t.agent}: ${JSON.stringify(t.kvlink)}`);
}

describe("kvlink-agents: the workflow end to end on a tiny model (sharing caches across agents and processes)", function () {
  this.timeout(300_000);
  let root: string;
  let corpus: string;
  let model: string;
  let server: RedisTestServer;

  before(async function () {
    await skipWithoutRedis(this, "the agents workflow tests");
    root = await mkdtemp(join(tmpdir(), "kvlink-agents-"));
    corpus = join(root, "corpus");
    await writeFixtureCorpus(corpus);
    model = join(root, "tiny");
    ok(await runKvlink(["tiny-model", model, "--vocab", "320", "--seed", "5", "--signature", "kvlink", "--slots", "24"]));
    server = await RedisTestServer.start();
  });
  after(async () => {
    await server?.dispose();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  const run = async (name: string, extra: readonly string[]): Promise<RunAgentsResult> => {
    const out = join(root, `${name}.json`);
    const cli = ok(await runAgentsCli(["--corpus", corpus, "--model", model, "--threads", "1", "--json", out, ...extra, ...QUESTIONS]));
    assert.match(cli.stdout, /researcher[\s\S]*reviewer[\s\S]*writer/, "each agent's turn is printed");
    assert.match(cli.stdout, /hit rate/);
    return JSON.parse(await readFile(out, "utf8")) as RunAgentsResult;
  };

  it("later agents reuse the documents earlier agents computed; a second process on the same redis computes nothing", async () => {
    const first = await run("first", ["--store", server.url, "--namespace", "e2e", "--precompute", "none"]);
    const turns = first.answers.flatMap((a) => a.turns);
    for (const a of first.answers) assert.deepEqual(a.turns.map((t) => t.agent).slice(0, 2), ["researcher", "reviewer"]);
    assert.deepEqual(first.answers.map((a) => a.turns.at(-1)!.agent), ["writer", "writer"]);
    assertConsistent(turns);
    assert.ok(turns[0]!.agent === "researcher" && turns[0]!.kvlink.docTokensComputed > 0, "the first call computes its documents");
    const seen = new Set<string>();
    for (const t of turns) {
      if (t.documentIds.every((id) => seen.has(id))) assert.equal(t.kvlink.docTokensComputed, 0, `${t.agent} re-read only known documents yet computed some`);
      for (const id of t.documentIds) seen.add(id);
    }
    const writer = first.agents.find((a) => a.agent === "writer")!;
    assert.ok(writer.hitRate === 1 && writer.docTokensComputed === 0, "the writer reads only documents the researcher and reviewer computed");
    const total = first.agents.find((a) => a.agent === "total")!;
    assert.ok(total.hitRate > 0 && total.docTokensReused > 0);
    assert.equal(first.store?.entriesComputed, new Set(turns.flatMap((t) => t.kvlink.documentKeys)).size, "each document computed once");

    const second = await run("second", ["--store", server.url, "--namespace", "e2e", "--precompute", "none"]);
    const again = second.answers.flatMap((a) => a.turns);
    assertConsistent(again);
    for (const t of again) assert.equal(t.kvlink.docTokensComputed, 0, `${t.agent} in the second process computed document tokens`);
    assert.equal(second.store?.entriesComputed, 0);
    assert.ok((second.store?.entriesLoaded ?? 0) > 0, "the second process loads the first one's entries from redis");
    assert.deepEqual(again.map((t) => t.output), turns.map((t) => t.output), "greedy answers are the same from reused caches");
  });

  it("--no-cache runs the same workflow with full prefill: every document token computed, none reused", async () => {
    const full = await run("full", ["--no-cache"]);
    assert.equal(full.mode, "full");
    const turns = full.answers.flatMap((a) => a.turns);
    assertConsistent(turns);
    for (const t of turns) assert.ok(t.kvlink.docTokensReused === 0 && t.kvlink.docTokensComputed === t.docTokens && t.kvlink.mode === "full");
    assert.equal(full.store, undefined);
  });

  it("--workers 2 on one redis store: precomputing the same corpus in both processes computes each document once", async () => {
    const out = join(root, "workers.json");
    const cli = ok(await runAgentsCli(["--corpus", corpus, "--model", model, "--threads", "1", "--store", server.url, "--namespace", "e2e-workers", "--workers", "2", "--precompute", "all", "--json", out, ...QUESTIONS]));
    assert.match(cli.stdout, /documents computed over all processes/);
    const report = JSON.parse(await readFile(out, "utf8")) as { workers: RunAgentsResult[]; documentsComputed: number };
    assert.equal(report.workers.length, 2);
    const corpusDocs = report.workers[0]!.corpus.documents;
    assert.equal(report.documentsComputed, corpusDocs, "a document computed by one process is not computed again by the other");
    for (const w of report.workers) {
      assertConsistent(w.answers.flatMap((a) => a.turns));
      assert.equal(w.answers.length, 1);
    }
    const loaded = report.workers.reduce((s, w) => s + (w.store?.entriesLoaded ?? 0), 0);
    assert.ok(loaded > 0, "each process reuses entries the other computed");
  });
});
