import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import KeyvSqlite from "@keyv/sqlite";
import { RedisTestServer, skipWithoutRedis } from "../../../support/redisServer.js";
import { parseJsonLine, runKvlink, type CliRun } from "../cli/runKvlink.js";

const RIVERS = [
  "# Rivers",
  "The Nile runs north through eleven countries and ends in a wide delta on the Mediterranean sea.",
  "The Amazon carries more water than any other river; its basin covers much of South America.",
  "## Smaller rivers",
  "The Rhone leaves a glacier in the Alps, crosses Lake Geneva and reaches the sea near Marseille.",
].join("\n\n");
const CITIES = "Lyon sits where the Rhone meets the Saone. Paris is on the Seine. Cairo is on the Nile.";

const ok = (run: CliRun): CliRun => {
  assert.equal(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
};

describe("kvlink CLI with a document-cache store (ask, precompute, cache)", function () {
  this.timeout(300_000);
  let root: string;
  let modelDir: string;
  let docsDir: string;
  let rivers: string;
  let cities: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "kvlink-cli-store-"));
    modelDir = join(root, "tiny");
    ok(await runKvlink(["tiny-model", modelDir, "--vocab", "320", "--seed", "5", "--signature", "kvlink", "--slots", "24"]));
    docsDir = join(root, "docs");
    await mkdir(join(docsDir, "geo", "deep"), { recursive: true });
    rivers = join(docsDir, "geo", "rivers.md");
    cities = join(docsDir, "geo", "deep", "cities.txt");
    await writeFile(rivers, RIVERS);
    await writeFile(cities, CITIES);
    await writeFile(join(docsDir, "geo", "deep", "skip.bin"), "not matched by the glob");
  });
  after(() => rm(root, { recursive: true, force: true }));

  const model = (): string[] => ["--model", modelDir, "--threads", "1"];
  const ask = (store: string, extra: string[] = []): Promise<CliRun> =>
    runKvlink(["ask", ...model(), "--docs", rivers, cities, "--question", "Which river?", "--greedy", "--max-tokens", "4", "--store", store, "--json", ...extra]);

  it("ask --json prints the answer and reuse counts; a second process on the same sqlite store computes nothing", async () => {
    const store = `sqlite://${join(root, "ask.sqlite")}`;
    const cold = parseJsonLine(ok(await ask(store)));
    assert.deepEqual(Object.keys(cold).sort(), ["answer", "doc_tokens_computed", "doc_tokens_reused", "fresh_tokens", "mode", "ttft_ms"]);
    assert.equal(typeof cold["answer"], "string");
    assert.equal(cold["mode"], "kvlink");
    assert.ok((cold["doc_tokens_computed"] as number) > 0);
    assert.equal(cold["doc_tokens_reused"], 0);
    assert.ok((cold["fresh_tokens"] as number) > 0 && (cold["ttft_ms"] as number) >= 0);

    const warm = parseJsonLine(ok(await ask(store)));
    assert.equal(warm["doc_tokens_computed"], 0, "a cold process with a warm store reuses every document");
    assert.equal(warm["doc_tokens_reused"], cold["doc_tokens_computed"]);
    assert.equal(warm["fresh_tokens"], cold["fresh_tokens"]);
  });

  it("precompute expands a glob over a folder tree, cuts long files, and ask then reuses every document", async () => {
    const store = `sqlite://${join(root, "pre.sqlite")}`;
    const args = ["precompute", `${docsDir}/**/*.{md,txt}`, ...model(), "--store", store, "--max-doc-tokens", "40"];
    const first = parseJsonLine(ok(await runKvlink([...args, "--json"])));
    assert.deepEqual(Object.keys(first).sort(), ["computed", "documents", "reused", "seconds", "store", "tokens"]);
    assert.ok((first["documents"] as number) > 2, "rivers.md is longer than 40 tokens and is cut into several documents");
    assert.equal(first["computed"], first["documents"]);
    assert.equal(first["reused"], 0);
    assert.equal(first["store"], store);

    const again = parseJsonLine(ok(await runKvlink([...args, "--json"])));
    assert.equal(again["computed"], 0);
    assert.equal(again["reused"], first["documents"]);
    assert.equal(again["tokens"], first["tokens"]);

    const ls = parseJsonLine(ok(await runKvlink(["cache", "ls", "--model", modelDir, "--store", store, "--json"])));
    const entries = ls["entries"] as { tokens: number; this_model: boolean }[];
    assert.equal(entries.length, first["documents"]);
    assert.equal(entries.reduce((n, e) => n + e.tokens, 0), first["tokens"]);
    assert.ok(entries.every((e) => e.this_model));

    const answer = parseJsonLine(ok(await ask(store, ["--max-doc-tokens", "40"])));
    assert.equal(answer["doc_tokens_computed"], 0, "ask cuts the files as precompute did, so every chunk is found");
    assert.equal(answer["doc_tokens_reused"], first["tokens"]);

    const text = ok(await runKvlink(["precompute", docsDir, ...model(), "--store", store, "--max-doc-tokens", "40"]));
    assert.match(text.stdout, /^\d+ documents \(\d+ tokens\) from 2 files: 0 computed, \d+ already cached/);
    assert.match(text.stderr, /precompute: \d+\/\d+ \(100%\)/, "non-TTY stderr gets plain progress lines");
  });

  it("cache stats, ls, verify and gc describe and maintain the store", async () => {
    const store = `sqlite://${join(root, "cache.sqlite")}`;
    const pre = parseJsonLine(ok(await runKvlink(["precompute", rivers, cities, ...model(), "--store", store, "--json"])));
    const cache = (sub: string, extra: string[] = []): Promise<CliRun> => runKvlink(["cache", sub, "--model", modelDir, "--store", store, ...extra]);

    const stats = parseJsonLine(ok(await cache("stats", ["--json"])));
    assert.equal(stats["entries"], pre["documents"]);
    assert.equal(stats["tokens"], pre["tokens"]);
    assert.ok((stats["bytes"] as number) > 0);
    assert.deepEqual(stats["dtypes"], { fp16: pre["documents"] });

    const lsText = ok(await cache("ls"));
    assert.match(lsText.stdout, new RegExp(`\\n${pre["documents"] as number} entries\\n$`));

    const verify = parseJsonLine(ok(await cache("verify", ["--json"])));
    assert.equal(verify["ok"], pre["documents"]);
    assert.deepEqual(verify["bad"], []);

    const squeezed = parseJsonLine(ok(await cache("gc", ["--json", "--quota-bytes", "1"])));
    assert.equal(squeezed["evicted"], pre["documents"], "every entry is over a 1-byte quota");
    assert.equal(squeezed["remaining_entries"], 0);
    const after = ok(await cache("stats"));
    assert.match(after.stdout, / namespace default: 0 entries, 0 tokens, 0 B\n$/);
  });

  it("cache verify reports a corrupt entry and exits 1; ask recomputes it with the same answer", async () => {
    const path = join(root, "corrupt.sqlite");
    const store = `sqlite://${path}`;
    const cold = parseJsonLine(ok(await ask(store)));
    const keys = (parseJsonLine(ok(await runKvlink(["cache", "ls", "--model", modelDir, "--store", store, "--json"])))["entries"] as { key: string }[]).map((e) => e.key);
    assert.equal(keys.length, 2);

    // Flip bytes in the middle of one entry's BLOB, as a bad disk or a torn write would.
    const db = new KeyvSqlite({ uri: `sqlite://${path}` });
    try {
      const rows = (await db.query("SELECT value FROM kvlink_blobs WHERE key = ?", keys[0]!)) as { value: Buffer }[];
      const bytes = Buffer.from(rows[0]!.value);
      const mid = bytes.length >> 1;
      bytes[mid] = bytes[mid]! ^ 0xff;
      bytes[mid + 1] = bytes[mid + 1]! ^ 0x55;
      await db.query("UPDATE kvlink_blobs SET value = ? WHERE key = ?", bytes, keys[0]!);
    } finally {
      await db.disconnect();
    }

    const verifyText = await runKvlink(["cache", "verify", "--model", modelDir, "--store", store]);
    assert.equal(verifyText.code, 1, verifyText.stderr);
    assert.match(verifyText.stdout, new RegExp(`^corrupt ${keys[0]!} \\(checksum\\): `, "m"));
    assert.match(verifyText.stdout, /2 entries: 1 ok, 1 corrupt, 0 missing\n$/);
    const verifyJson = await runKvlink(["cache", "verify", "--model", modelDir, "--store", store, "--json"]);
    assert.equal(verifyJson.code, 1);
    assert.deepEqual((parseJsonLine(verifyJson)["bad"] as { key: string; status: string }[]).map((b) => [b.key, b.status]), [[keys[0], "corrupt"]]);

    const recomputed = parseJsonLine(ok(await ask(store)));
    assert.ok((recomputed["doc_tokens_computed"] as number) > 0, "the corrupt document is recomputed");
    assert.ok((recomputed["doc_tokens_computed"] as number) < (cold["doc_tokens_computed"] as number), "the intact one is reused");
    assert.equal(recomputed["answer"], cold["answer"]);
  });

  it("memory:// stores work (one process each: every run computes); without --json the answer streams", async () => {
    const a = parseJsonLine(ok(await ask("memory://")));
    const b = parseJsonLine(ok(await ask("memory://named")));
    assert.ok((a["doc_tokens_computed"] as number) > 0);
    assert.equal(b["doc_tokens_computed"], a["doc_tokens_computed"]);
    assert.equal(b["answer"], a["answer"]);
    const streamed = ok(await runKvlink(["ask", ...model(), "--docs", rivers, cities, "--question", "Which river?", "--greedy", "--max-tokens", "4", "--no-store"]));
    assert.equal(streamed.stdout, `${a["answer"] as string}\n`);
  });

  it("--placement-threads: 2 threads answer as 1 does; 0 is refused as a config error", async () => {
    const one = parseJsonLine(ok(await ask("memory://", ["--placement-threads", "1"])));
    const two = parseJsonLine(ok(await ask("memory://", ["--placement-threads", "2"])));
    assert.equal(two["answer"], one["answer"]);
    const zero = await ask("memory://", ["--placement-threads", "0"]);
    assert.equal(zero.code, 1);
    assert.match(zero.stderr, /placementThreads/);
  });

  it("rejects an unknown store URL with a ConfigError exit", async () => {
    const run = await ask("ftp://example");
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: .*\(CONFIG\)\n$/);
    assert.equal(run.stdout, "");
  });

  describe("on redis", function () {
    let server: RedisTestServer | undefined;
    before(async function () {
      await skipWithoutRedis(this, "the CLI redis tests");
      server = await RedisTestServer.start();
    });
    after(async () => {
      await server?.dispose();
    });

    it("shares caches between processes through a running redis", async () => {
      const cold = parseJsonLine(ok(await ask(server!.url, ["--namespace", "cli-redis"])));
      assert.ok((cold["doc_tokens_computed"] as number) > 0);
      const warm = parseJsonLine(ok(await ask(server!.url, ["--namespace", "cli-redis"])));
      assert.equal(warm["doc_tokens_computed"], 0);
    });

    it("still answers (computing) and exits 0 when redis is stopped", async () => {
      const reference = parseJsonLine(ok(await ask("memory://")));
      await server!.stop();
      const run = ok(await ask(server!.url, ["--namespace", "cli-redis-down"]));
      const out = parseJsonLine(run);
      assert.equal(out["doc_tokens_computed"], reference["doc_tokens_computed"]);
      assert.equal(out["answer"], reference["answer"]);
    });
  });
});
