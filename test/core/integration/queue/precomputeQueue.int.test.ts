import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { PrecomputeQueue } from "../../../../packages/core/src/queue/PrecomputeQueue.js";
import { RedisTestServer, skipWithoutRedis } from "../../../support/redisServer.js";
import { parseJsonLine, repoRoot, runKvlink, type CliRun } from "../cli/runKvlink.js";

const MAIN_TS = join(repoRoot, "packages/core/src/cli/main.ts");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WORDS = ["alpha", "beta", "gamma", "delta", "river", "stone", "lamp", "tide", "north", "salt"];

const ok = (run: CliRun): CliRun => {
  assert.equal(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
};

/** `n` files of `words` words, every one of their documents distinct (deterministic). */
async function writeDocs(dir: string, n: number, words: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const text = Array.from({ length: words }, (_, w) => `${WORDS[(i * 7 + w * w + w * i) % WORDS.length]}${i}-${w}`).join(" ");
    await writeFile(join(dir, `doc-${String(i).padStart(3, "0")}.md`), `Document ${i}. ${text}`);
  }
}

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly done: Promise<CliRun>;
}

function startWorker(args: readonly string[]): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN_TS, "worker", ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code: code ?? (signal === "SIGKILL" ? 137 : 128), stdout, stderr }));
  });
  return { child, done };
}

interface WorkerSummary {
  worker: string;
  jobs: number;
  computed: number;
  reused: number;
  failed: number;
}

describe("distributed precompute: kvlink precompute --queue + kvlink worker (BullMQ on loopback redis)", function () {
  this.timeout(300_000);
  let root: string;
  let smallModel: string;
  let slowModel: string;

  before(async function () {
    await skipWithoutRedis(this, "the queue tests");
    root = await mkdtemp(join(tmpdir(), "kvlink-queue-"));
    smallModel = join(root, "tiny");
    slowModel = join(root, "slow");
    ok(await runKvlink(["tiny-model", smallModel, "--vocab", "320", "--seed", "5", "--signature", "kvlink", "--slots", "24"]));
    // Big enough that one document takes ~0.2 s: a worker is killed while a job runs.
    ok(await runKvlink(["tiny-model", slowModel, "--vocab", "320", "--seed", "3", "--signature", "kvlink", "--layers", "6", "--hidden", "256", "--heads", "4", "--kv-heads", "2", "--slots", "24"]));
  });
  after(async () => {
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  const common = (model: string, url: string, name: string): string[] => ["--model", model, "--threads", "1", "--store", url, "--namespace", name];
  const enqueue = async (model: string, url: string, name: string, dir: string): Promise<Record<string, unknown>> =>
    parseJsonLine(ok(await runKvlink(["precompute", join(dir, "*.md"), ...common(model, url, name), "--queue", url, "--queue-name", name, "--json"])));
  const worker = (model: string, url: string, name: string, extra: string[] = []): WorkerProcess =>
    startWorker([...common(model, url, name), "--queue", url, "--queue-name", name, "--exit-when-empty", "--json", ...extra]);
  const summary = (run: CliRun): WorkerSummary => parseJsonLine(ok(run)) as unknown as WorkerSummary;
  /** Every entry of the namespace, checked by `kvlink cache verify` (exit 0: none corrupt or missing); their keys from `cache ls`. */
  const verifiedKeys = async (model: string, url: string, name: string): Promise<string[]> => {
    const flags = ["--model", model, "--store", url, "--namespace", name, "--json"];
    const report = parseJsonLine(ok(await runKvlink(["cache", "verify", ...flags])));
    assert.equal(report["ok"], report["entries"], `cache verify: ${JSON.stringify(report)}`);
    const listed = parseJsonLine(ok(await runKvlink(["cache", "ls", ...flags]))) as { entries: { key: string }[] };
    assert.equal(listed.entries.length, report["entries"]);
    return listed.entries.map((e) => e.key);
  };

  it("3 workers, 200 documents: enqueued once, each computed exactly once, every entry valid", async () => {
    await using server = await RedisTestServer.start();
    const dir = join(root, "docs200");
    await writeDocs(dir, 200, 12);
    const first = await enqueue(smallModel, server.url, "q200", dir);
    assert.equal(first["documents"], 200);
    assert.equal(first["enqueued"], 200);
    const again = await enqueue(smallModel, server.url, "q200", dir);
    assert.equal(again["enqueued"], 0, "content-addressed job ids: a document is enqueued once");
    assert.equal(again["alreadyQueued"], 200);

    const workers = [0, 1, 2].map(() => worker(smallModel, server.url, "q200"));
    const sums = (await Promise.all(workers.map((w) => w.done))).map(summary);
    assert.equal(sums.reduce((s, w) => s + w.computed, 0), 200, `computed per worker: ${sums.map((w) => w.computed).join(", ")}`);
    assert.equal(sums.reduce((s, w) => s + w.jobs, 0), 200);
    assert.equal(sums.reduce((s, w) => s + w.failed, 0), 0);

    assert.equal((await verifiedKeys(smallModel, server.url, "q200")).length, 200);
  });

  it("a worker killed with kill -9 mid-job: another worker retries its job; no broken entry is ever stored", async () => {
    await using server = await RedisTestServer.start();
    const dir = join(root, "docs-kill");
    await writeDocs(dir, 10, 150);
    const queued = await enqueue(slowModel, server.url, "qkill", dir);
    const n = queued["documents"] as number; // files are cut into documents of at most 512 tokens
    assert.ok(n >= 10);
    assert.equal(queued["enqueued"], n);
    await using queue = new PrecomputeQueue({ url: server.url, name: "qkill" });

    const victim = worker(slowModel, server.url, "qkill", ["--lock-ms", "1500"]);
    let counts = await queue.counts();
    for (let i = 0; i < 600 && !(counts.completed >= 2 && counts.active === 1); i++) {
      await sleep(50);
      counts = await queue.counts();
    }
    assert.ok(counts.active === 1 && counts.completed >= 2, `the victim never got going: ${JSON.stringify(counts)}`);
    victim.child.kill("SIGKILL");
    assert.equal((await victim.done).code, 137);
    const victimName = `${hostname()}:${victim.child.pid}`;

    const rescuers = [worker(slowModel, server.url, "qkill", ["--lock-ms", "1500"]), worker(slowModel, server.url, "qkill", ["--lock-ms", "1500"])];
    const sums = (await Promise.all(rescuers.map((w) => w.done))).map(summary);

    const keys = await verifiedKeys(slowModel, server.url, "qkill");
    assert.equal(keys.length, n);
    assert.deepEqual(new Set(await queue.states(keys)), new Set(["completed"]));
    const results = await queue.results(keys);
    const byVictim = [...results.values()].filter((r) => r.worker === victimName);
    assert.ok(byVictim.length >= 2);
    // Every document computed exactly once over all workers: what the victim finished plus what the rescuers did.
    const computed = byVictim.filter((r) => r.source === "computed").length + sums.reduce((s, w) => s + w.computed, 0);
    assert.equal(computed, n, `victim ${byVictim.length}, rescuers ${sums.map((w) => `${w.computed}/${w.jobs}`).join(", ")}`);
    assert.equal(results.size, n);
    assert.ok(sums.reduce((s, w) => s + w.jobs, 0) === n - byVictim.length, "the killed job was taken over by a rescuer");
  });

  it("redis restarted mid-run: workers reconnect and the run completes", async () => {
    await using server = await RedisTestServer.start({ appendOnly: true });
    const dir = join(root, "docs-restart");
    await writeDocs(dir, 10, 150);
    const queued = await enqueue(slowModel, server.url, "qrestart", dir);
    const n = queued["documents"] as number;
    assert.equal(queued["enqueued"], n);
    const workers = [worker(slowModel, server.url, "qrestart"), worker(slowModel, server.url, "qrestart")];
    {
      await using queue = new PrecomputeQueue({ url: server.url, name: "qrestart" });
      let counts = await queue.counts();
      for (let i = 0; i < 600 && counts.completed < 4; i++) {
        await sleep(50);
        counts = await queue.counts();
      }
      assert.ok(counts.completed >= 4 && counts.completed < n, `restart not mid-run: ${JSON.stringify(counts)}`);
    }
    await server.stop();
    await sleep(1500);
    await server.restart();
    const sums = (await Promise.all(workers.map((w) => w.done))).map(summary);
    const keys = await verifiedKeys(slowModel, server.url, "qrestart");
    assert.equal(keys.length, n);
    await using queue = new PrecomputeQueue({ url: server.url, name: "qrestart" });
    assert.deepEqual(new Set(await queue.states(keys)), new Set(["completed"]));
    assert.equal(sums.reduce((s, w) => s + w.computed, 0), n, `each document computed once, across the restart: ${JSON.stringify(sums)}`);
  });
});
