import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KvLinkEngine } from "../../../../packages/core/src/engine/KvLinkEngine.js";
import { makeSyntheticDocuments, measureTtft } from "../../../../packages/core/src/engine/measureTtft.js";
import { InvalidInputError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { writeEngineFixture, type EngineFixture } from "./engineFixtures.js";

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const mainTs = join(repoRoot, "packages/core/src/cli/main.ts");

describe("measureTtft (tiny models)", function () {
  this.timeout(120_000);
  const K = 2;
  let kvlinkFixture: EngineFixture;
  let standardFixture: EngineFixture;
  before(async () => {
    kvlinkFixture = await writeEngineFixture({ signature: "kvlink", numLinkTokens: K, seed: 3 });
    standardFixture = await writeEngineFixture({ signature: "standard", numLinkTokens: K, seed: 3 });
  });
  after(async () => {
    await kvlinkFixture?.cleanup();
    await standardFixture?.cleanup();
  });

  it("makes deterministic, distinct documents of at most docTokens tokens (within a few of it)", async () => {
    await using engine = await KvLinkEngine.create({ model: kvlinkFixture.dir, inProcess: true, numThreads: 1 });
    const a = makeSyntheticDocuments(engine, 4, 40);
    const b = makeSyntheticDocuments(engine, 4, 40);
    assert.deepEqual(a, b);
    assert.equal(new Set(a).size, 4);
    for (const doc of a) {
      const n = engine.countTokens(doc);
      assert.ok(n <= 40 && n >= 34, `document of ${n} tokens, expected 34..40`);
    }
    assert.throws(() => makeSyntheticDocuments(engine, 0, 40), InvalidInputError);
  });

  it("reports every mode side by side, with consistent token counts and ratios", async () => {
    await using engine = await KvLinkEngine.create({ model: kvlinkFixture.dir, inProcess: true, numThreads: 1 });
    const progress: string[] = [];
    const r = await measureTtft(engine, { numDocs: 3, docTokens: 30, repetitions: 2, onProgress: (p) => progress.push(p.phase) });
    for (const v of [r.full_ms, r.kvlink_ms, r.rerotate_ms, r.floor_ms]) assert.ok(Number.isFinite(v) && v > 0);
    assert.equal(r.ratio_kvlink_full, r.kvlink_ms / r.full_ms);
    assert.equal(r.ratio_kvlink_floor, r.kvlink_ms / r.floor_ms);
    assert.equal(r.doc_tokens_each.length, 3);
    assert.equal(r.doc_tokens, r.doc_tokens_each.reduce((x, y) => x + y, 0));
    // kvlink adds K link tokens per document (fresh) over rerotate; full computes every document token fresh.
    assert.equal(r.fresh_tokens.kvlink - r.fresh_tokens.rerotate, 3 * K + 2 /* memory markers */);
    assert.equal(r.fresh_tokens.full, r.fresh_tokens.rerotate + r.doc_tokens);
    assert.equal(r.positions, r.doc_tokens + r.fresh_tokens.kvlink);
    assert.equal(r.runs.length, 4 * 2);
    for (const mode of ["full", "kvlink", "rerotate", "floor"] as const) assert.equal(r.runs.filter((x) => x.mode === mode).length, 2);
    assert.deepEqual(Object.keys(r.phases.floor).sort(), ["forward_ms", "place_ms"]);
    assert.ok(r.phases.kvlink["prefill_ms"]! > 0);
    assert.equal(r.signature, "kvlink");
    assert.deepEqual([...new Set(progress)], ["documents", "warmup", "measure"]);
    await assert.rejects(measureTtft(engine, { numDocs: 1, docTokens: 10, repetitions: 0 }), InvalidInputError);
  });

  it("measureFloor places the same caches as the linked prompt and runs its fresh tokens (both signatures)", async () => {
    for (const fixture of [kvlinkFixture, standardFixture]) {
      await using engine = await KvLinkEngine.create({ model: fixture.dir, inProcess: true, numThreads: 1 });
      const documents = makeSyntheticDocuments(engine, 2, 20);
      await engine.precompute(documents);
      const request = { documents, question: "Which record?", mode: "kvlink" as const };
      const floor = await engine.measureFloor(request);
      const linked = await engine.linkPrompt(request);
      assert.deepEqual(floor.plan, linked.plan);
      assert.equal(floor.plan.documents.length, 2);
      assert.ok(floor.forwardMs > 0 && floor.placeMs >= 0);
    }
  });

  it("`kvlink bench ttft --json` prints one JSON report", async () => {
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", mainTs, "bench", "ttft", "--model", kvlinkFixture.dir, "--docs", "2", "--doc-tokens", "16", "--repetitions", "1", "--threads", "1", "--json"],
        { cwd: repoRoot },
        (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
      );
    });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split("\n");
    assert.equal(lines.length, 1);
    const out = JSON.parse(lines[0]!) as Record<string, unknown>;
    for (const key of ["full_ms", "kvlink_ms", "rerotate_ms", "floor_ms", "ratio_kvlink_full", "ratio_kvlink_floor", "doc_tokens", "fresh_tokens", "positions", "phases", "runs"]) {
      assert.ok(key in out, `missing ${key}`);
    }
    assert.equal(out["num_docs"], 2);
  });
});
