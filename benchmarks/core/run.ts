/**
 * `npm run bench` (packages/core: `tsx ../../benchmarks/core/run.ts`): runs the suites in order and prints one JSON
 * line per figure (also appended to benchmarks/results/<suite>.jsonl). Arguments select suites (default: all):
 *
 *   tsx benchmarks/core/run.ts [peers] [ttft] [store] [decode] [constrain] [--quick] [--out <dir>]
 *
 * Default suites: peers, ttft, store (decode, the older per-step variant comparison, and constrain, the per-token cost of schema-constrained decoding, run when named). After the
 * suites it writes the run's report (writeBenchReport.ts: results.json, summary.md, SVG plots) to
 * benchmarks/results/report/ (or --out).
 *
 *   tsx benchmarks/core/run.ts --report-from <ISO time> [--out <dir>]
 *
 * writes the report from the lines in benchmarks/results/*.jsonl recorded at or after that time instead of running
 * suites (e.g. suites run in separate processes, or a run cut short).
 *
 * Environment: KVLINK_MODEL_DIR (else the default model under KVLINK_HOME), KVLINK_THREADS (default 2, the
 * reference host), KVLINK_GGUF (the default model's GGUF, for the converted decode variants), KVLINK_BENCH_FP32=0
 * (skip the fp32 variant). Progress goes to stderr.
 */
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { record, recorded, type RecordedLine } from "../support/harness.js";
import { runConstrainSuite } from "./constrain.bench.js";
import { runDecodeSuite, type SuiteOptions } from "./decode.bench.js";
import { runPeersSuite } from "./peers.bench.js";
import { runStoreSuite } from "./store.bench.js";
import { runTtftSuite } from "./ttft.bench.js";
import { describeHost, writeBenchReport } from "./writeBenchReport.js";

const SUITES: Record<string, (options: SuiteOptions) => Promise<void>> = {
  peers: runPeersSuite,
  ttft: runTtftSuite,
  store: runStoreSuite,
  decode: runDecodeSuite,
  constrain: runConstrainSuite,
};
const DEFAULT_SUITES = ["peers", "ttft", "store"];
const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

async function main(argv: readonly string[]): Promise<number> {
  const quick = argv.includes("--quick");
  const valueOf = (flag: string): string | undefined | null => {
    const at = argv.indexOf(flag);
    if (at < 0) return undefined;
    const value = argv[at + 1];
    return value === undefined || value.startsWith("--") ? null : value;
  };
  const outDir = valueOf("--out");
  const reportFrom = valueOf("--report-from");
  if (outDir === null || reportFrom === null || (reportFrom !== undefined && Number.isNaN(Date.parse(reportFrom)))) {
    process.stderr.write("--out needs a directory and --report-from an ISO time\n");
    return 2;
  }
  const report = resolve(outDir ?? join(resultsDir, "report"));
  if (reportFrom !== undefined) {
    const since = Date.parse(reportFrom);
    const lines = readdirSync(resultsDir)
      .filter((f) => f.endsWith(".jsonl"))
      .flatMap((f) =>
        readFileSync(join(resultsDir, f), "utf8")
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l): RecordedLine => ({ ...(JSON.parse(l) as Record<string, unknown>), suite: f.replace(/\.jsonl$/, "") })),
      )
      .filter((l) => Date.parse(String(l["time"])) >= since)
      .sort((a, b) => Date.parse(String(a["time"])) - Date.parse(String(b["time"])));
    writeBenchReport(report, lines, describeHost(loadavg()), `npm run bench -- ${argv.join(" ")}`);
    process.stderr.write(`report of ${lines.length} lines since ${reportFrom} in ${report}\n`);
    return 0;
  }
  const flagValues = new Set([outDir, reportFrom].filter((v) => v !== undefined));
  const names = argv.filter((a) => !a.startsWith("--") && !flagValues.has(a));
  const unknown = names.filter((n) => !(n in SUITES));
  if (unknown.length > 0) {
    process.stderr.write(`unknown suite(s) ${unknown.join(", ")}; expected any of ${Object.keys(SUITES).join(", ")}\n`);
    return 2;
  }
  const threadsEnv = process.env["KVLINK_THREADS"];
  const numThreads = threadsEnv !== undefined && threadsEnv !== "" ? Number(threadsEnv) : 2;
  if (!Number.isInteger(numThreads) || numThreads < 1) {
    process.stderr.write(`KVLINK_THREADS must be a positive integer, got ${JSON.stringify(threadsEnv)}\n`);
    return 2;
  }
  const started = performance.now();
  const log = (message: string): void => {
    process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
  };
  const loadAtStart = loadavg();
  for (const name of names.length > 0 ? names : DEFAULT_SUITES) {
    log(`suite ${name}${quick ? " (quick)" : ""}`);
    await SUITES[name]!({ quick, numThreads, log });
    record("memory", { name: "memory.peakRss", params: { suite: name }, peakRssBytes: process.resourceUsage().maxRSS * 1024 });
  }
  writeBenchReport(report, recorded(), describeHost(loadAtStart), `npm run bench -- ${argv.join(" ")}`.trim());
  log(`done; report in ${report}`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
