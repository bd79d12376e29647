import assert from "node:assert/strict";
import { computeAggregates } from "../../../eval/harness/computeAggregates.js";
import { selectRecords, type QaRecord } from "../../../eval/harness/loadJsonl.js";
import type { EvalMode, EvalReport, RecordOutcome } from "../../../eval/harness/types.js";
import { mergeReports } from "../../../eval/mergeResults.js";

function outcome(id: string, mode: EvalMode, correct: boolean): RecordOutcome {
  return {
    model: "m", mode, recordId: id, dataset: "syn", split: "test", kind: "lookup", gold: [0], numDocuments: 3,
    question: "q", answer: ["a"], output: correct ? "a" : "b", correct, ttftMs: 100, tokensPerSecond: 20, numGeneratedTokens: 5,
  };
}

function report(index: number | undefined, count: number, records: RecordOutcome[], overrides: Partial<EvalReport["meta"]> = {}): EvalReport {
  const modes: EvalMode[] = ["full", "kvlink"];
  return {
    meta: {
      startedAt: new Date(1_000 + (index ?? 0)).toISOString(), finishedAt: new Date(5_000 + (index ?? 0) * 10).toISOString(), durationMs: 4_000,
      interrupted: false, commit: undefined, node: "20", data: ["syn.jsonl"], modes, split: "test", limit: undefined, stride: 1,
      maxTokens: 48, epicTokens: 16, ...(index !== undefined ? { shard: { index, count } } : {}), adapter: "documents", documentPrefix: "none",
      system: undefined, numThreads: 1, numRecords: records.length / modes.length, models: [{ label: "m", dir: "/m", numLinkTokens: 5 } as EvalReport["meta"]["models"][number]],
      ...overrides,
    },
    aggregates: computeAggregates(records, ["m"], modes),
    checks: {},
    records,
  };
}

describe("eval shards", () => {
  it("--shard splits the selected records round-robin into disjoint parts that cover them all", () => {
    const records = Array.from({ length: 11 }, (_, i) => ({ id: `r${i}`, split: "test" }) as unknown as QaRecord);
    const parts = [0, 1, 2].map((index) => selectRecords(records, { split: "test", shard: { index, count: 3 } }).map((r) => r.id));
    assert.deepEqual(parts.flat().sort(), records.map((r) => r.id).sort());
    assert.equal(new Set(parts.flat()).size, 11);
    assert.deepEqual(parts[1], ["r1", "r4", "r7", "r10"]);
  });

  it("merging shard reports gives the aggregates of one run over all their records", () => {
    const a = [outcome("r0", "full", true), outcome("r0", "kvlink", false), outcome("r2", "full", true), outcome("r2", "kvlink", true)];
    const b = [outcome("r1", "full", false), outcome("r1", "kvlink", true)];
    const merged = mergeReports([report(0, 2, a), report(1, 2, b)]);
    const whole = computeAggregates([...a, ...b], ["m"], ["full", "kvlink"]);
    assert.deepEqual(merged.aggregates, whole);
    assert.equal(merged.meta.numRecords, 3);
    assert.equal(merged.meta.shard, undefined);
    assert.equal(merged.meta.durationMs, 5_010 - 1_000);
  });

  it("refuses shards of different configurations, missing or repeated shards", () => {
    const a = [outcome("r0", "full", true), outcome("r0", "kvlink", true)];
    assert.throws(() => mergeReports([report(0, 2, a), report(1, 2, a, { adapter: "always" })]), /differ in adapter/);
    assert.throws(() => mergeReports([report(0, 3, a), report(1, 3, a)]), /shards 2 of 3 are missing/);
    assert.throws(() => mergeReports([report(0, 2, a), report(0, 2, a)]), /given twice/);
    assert.throws(() => mergeReports([]), /no reports/);
  });
});
