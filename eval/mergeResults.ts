/**
 * Joins the reports of sharded eval runs (`npm run eval -- --shard i/n …`, one per process or machine) into one
 * report, as if one process had answered every record: records concatenated, aggregates recomputed, meta merged.
 *
 *   npx tsx eval/mergeResults.ts --out <dir> <shard-dir-or-results.json>...
 *
 * The shards must come from the same command apart from --shard (same data, split, stride, limit, models, modes,
 * adapter and document prefix): anything else is refused, so a merged table never mixes two configurations.
 */
import { readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { computeAggregates } from "./harness/computeAggregates.js";
import { renderAccuracyTable } from "./harness/renderSummary.js";
import type { EvalReport } from "./harness/types.js";
import { writeReport } from "./harness/writeReport.js";

/** The meta fields every shard must agree on. */
const SAME = ["data", "modes", "split", "limit", "stride", "maxTokens", "epicTokens", "documentPrefix", "adapter", "system"] as const;

export function mergeReports(reports: readonly EvalReport[]): EvalReport {
  if (reports.length === 0) throw new Error("mergeResults: no reports given");
  const first = reports[0]!;
  const count = first.meta.shard?.count;
  for (const r of reports) {
    for (const field of SAME) {
      if (JSON.stringify(r.meta[field]) !== JSON.stringify(first.meta[field])) {
        throw new Error(`mergeResults: shards differ in ${field}: ${JSON.stringify(first.meta[field])} vs ${JSON.stringify(r.meta[field])}`);
      }
    }
    const labels = (x: EvalReport): string => JSON.stringify(x.meta.models.map((m) => m.label));
    if (labels(r) !== labels(first)) throw new Error(`mergeResults: shards differ in models: ${labels(first)} vs ${labels(r)}`);
    if (r.meta.shard?.count !== count) throw new Error("mergeResults: shards of different --shard counts");
  }
  const indices = reports.map((r) => r.meta.shard?.index);
  if (count !== undefined && new Set(indices).size !== reports.length) throw new Error(`mergeResults: a shard is given twice (${indices.join(", ")})`);
  const missing = count === undefined ? [] : Array.from({ length: count }, (_, i) => i).filter((i) => !indices.includes(i));
  if (missing.length > 0) throw new Error(`mergeResults: shards ${missing.join(", ")} of ${count} are missing`);

  const records = reports.flatMap((r) => r.records);
  const labels = first.meta.models.map((m) => m.label);
  const started = Math.min(...reports.map((r) => Date.parse(r.meta.startedAt)));
  const finished = Math.max(...reports.map((r) => Date.parse(r.meta.finishedAt)));
  const { shard: _shard, ...meta } = first.meta;
  return {
    meta: {
      ...meta,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      durationMs: finished - started,
      interrupted: reports.some((r) => r.meta.interrupted),
      numRecords: reports.reduce((n, r) => n + r.meta.numRecords, 0),
    },
    aggregates: computeAggregates(records, labels, first.meta.modes),
    checks: first.checks,
    records,
  };
}

async function main(argv: readonly string[]): Promise<void> {
  const outAt = argv.indexOf("--out");
  if (outAt < 0 || outAt + 1 >= argv.length) throw new Error("usage: npx tsx eval/mergeResults.ts --out <dir> <shard-dir-or-results.json>...");
  const out = resolve(argv[outAt + 1]!);
  const inputs = argv.filter((_, i) => i !== outAt && i !== outAt + 1);
  const reports: EvalReport[] = [];
  for (const p of inputs) {
    const file = p.endsWith(".json") ? p : join(p, "results.json");
    reports.push(JSON.parse(await readFile(file, "utf8")) as EvalReport);
  }
  const merged = mergeReports(reports);
  const files = await writeReport(merged, out);
  process.stdout.write(`${renderAccuracyTable(merged.aggregates.byDatasetSplit, merged.meta.models)}\n\n${merged.records.length} answers from ${reports.length} shards; wrote ${files.map((f) => relative(process.cwd(), f)).join(", ")}\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]).endsWith("mergeResults.ts")) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`mergeResults: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
