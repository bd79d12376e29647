/**
 * A plain performance.now() harness with warm-up. Each measurement becomes one JSON line
 * {name, params, p50Ms, p95Ms, meanMs, n, ...extra, node, commit, time} printed to stdout and appended to
 * benchmarks/results/<suite>.jsonl (gitignored). Hosts are noisy: compare ratios measured in one run.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Measurement {
  name: string;
  params: Record<string, unknown>;
  p50Ms: number;
  p95Ms: number;
  meanMs: number;
  n: number;
  [extra: string]: unknown;
}

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "results");
let commit = "unknown";
try {
  commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
} catch {
  /* not a git checkout */
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i]!;
}

export async function measure(
  name: string,
  params: Record<string, unknown>,
  fn: () => Promise<unknown> | unknown,
  options: { warmup?: number; iterations?: number } = {},
): Promise<Measurement> {
  const { warmup = 1, iterations = 5 } = options;
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { name, params, p50Ms: quantile(times, 0.5), p95Ms: quantile(times, 0.95), meanMs: times.reduce((a, b) => a + b, 0) / times.length, n: times.length };
}

/** One recorded line with its suite. */
export type RecordedLine = Record<string, unknown> & { readonly suite: string };

const recordedLines: RecordedLine[] = [];

/** Every line record() wrote in this process, in order (for the run's report). */
export function recorded(): readonly RecordedLine[] {
  return recordedLines;
}

/** Prints a measurement (or any result object) as one JSON line and appends it to the suite's results file. */
export function record(suite: string, result: Measurement | Record<string, unknown>): void {
  const full = { ...result, node: process.version, commit, time: new Date().toISOString() };
  recordedLines.push({ suite, ...full });
  const line = JSON.stringify(full);
  process.stdout.write(`${line}\n`);
  mkdirSync(resultsDir, { recursive: true });
  appendFileSync(join(resultsDir, `${suite}.jsonl`), `${line}\n`);
}
