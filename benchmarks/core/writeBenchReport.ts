/**
 * The readable form of one `npm run bench` run: `<outDir>/results.json` (every recorded line, with the host),
 * `summary.md` (tables) and SVG plots (eval/harness/renderLinePlot.ts, the project's small SVG writer):
 * TTFT vs number of documents and vs document length per mode, decode and prefill tokens/s vs context per
 * implementation.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release, totalmem } from "node:os";
import { join } from "node:path";
import { renderLinePlot, type PlotSeries } from "../../eval/harness/renderLinePlot.js";
import type { RecordedLine } from "../support/harness.js";

export interface BenchHost {
  readonly cpu: string;
  readonly numCores: number;
  readonly memoryBytes: number;
  readonly os: string;
  readonly node: string;
  readonly loadAverageStart: readonly number[];
  readonly loadAverageEnd: readonly number[];
}

export function describeHost(loadAverageStart: readonly number[]): BenchHost {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? "unknown",
    numCores: c.length,
    memoryBytes: totalmem(),
    os: `${platform()} ${release()}`,
    node: process.version,
    loadAverageStart,
    loadAverageEnd: loadavg(),
  };
}

type Line = RecordedLine & { params?: Record<string, unknown> };
const p = (l: Line, k: string): unknown => l.params?.[k];
const num = (x: unknown): number => (typeof x === "number" ? x : NaN);
/** Median (mean of the middle two for an even count); NaN for none. */
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : "–");

const MODES = [
  ["full", "full_ms"],
  ["rerotate", "rerotate_ms"],
  ["kvlink", "kvlink_ms"],
  ["floor", "floor_ms"],
] as const;

export function writeBenchReport(outDir: string, lines: readonly RecordedLine[], host: BenchHost, command: string): void {
  mkdirSync(outDir, { recursive: true });
  const all = lines as readonly Line[];
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify({ command, host, lines: all }, null, 2)}\n`);
  const md: string[] = [
    "# Benchmark run",
    "",
    `- Command: \`${command}\``,
    `- Host: ${host.cpu}, ${host.numCores} logical cores, ${(host.memoryBytes / 1024 ** 3).toFixed(1)} GiB, ${host.os}, Node ${host.node}`,
    `- Load average at start ${host.loadAverageStart.map((x) => x.toFixed(2)).join(" / ")}, at end ${host.loadAverageEnd.map((x) => x.toFixed(2)).join(" / ")} (a shared host: compare ratios within this run)`,
    `- Commit ${String(all[0]?.["commit"] ?? "unknown")}, ${String(all[0]?.["time"] ?? "")}`,
    "",
  ];

  // TTFT.
  const ttft = all.filter((l) => l.name === "ttft" && l["skipped"] === undefined);
  if (ttft.length > 0) {
    md.push("## Time to first token (ms, medians)", "", "| sweep | docs × tokens | full | rerotate | kvlink | floor | kvlink/floor | kvlink/full | kvlink phases (link · prefill) |", "|---|---|---:|---:|---:|---:|---:|---:|---|");
    for (const l of ttft) {
      const phases = (l["phases"] as Record<string, Record<string, number>> | undefined)?.["kvlink"] ?? {};
      md.push(
        `| ${String(p(l, "sweep"))} | ${String(p(l, "numDocs"))} × ${String(p(l, "docTokens"))} | ${MODES.map(([, k]) => fmt(num(l[k]), 0)).join(" | ")} | ${fmt(num(l["ratio_kvlink_floor"]), 3)} | ${fmt(100 * num(l["ratio_kvlink_full"]), 1)} % | ${fmt(num(phases["link_ms"]), 1)} · ${fmt(num(phases["prefill_ms"]), 1)} |`,
      );
    }
    for (const s of all.filter((l) => l.name === "ttft" && l["skipped"] !== undefined)) {
      md.push(`| ${String(p(s, "sweep"))} | ${String(p(s, "numDocs"))} × ${String(p(s, "docTokens"))} | skipped: ${String(s["skipped"]).replaceAll("|", "\\|")} | | | | | | |`);
    }
    md.push("");
    for (const [sweep, x, file, xLabel] of [
      ["numDocs", "numDocs", "ttft-vs-documents.svg", "documents (128 tokens each)"],
      ["docTokens", "docTokens", "ttft-vs-document-length.svg", "tokens per document (2 documents)"],
    ] as const) {
      const rows = ttft.filter((l) => p(l, "sweep") === sweep);
      if (rows.length === 0) continue;
      const series: PlotSeries[] = MODES.map(([mode, key]) => ({ name: mode, points: rows.map((l) => ({ x: num(p(l, x)), y: num(l[key]) })) }));
      writeFileSync(join(outDir, file), plot(`TTFT vs ${xLabel}`, xLabel, "TTFT (ms)", series));
      md.push(`![${file}](${file})`, "");
    }
  }

  // Peers: decode and prefill vs context, medians of the per-repetition samples.
  const samples = all.filter((l) => l.name === "peers.sample");
  for (const [key, file, title] of [
    ["decodeTokensPerSecond", "decode-vs-context.svg", "decode tokens/s vs context"],
    ["prefillTokensPerSecond", "prefill-vs-context.svg", "prefill tokens/s vs context"],
  ] as const) {
    const rows = samples.filter((l) => typeof l[key] === "number");
    if (rows.length === 0) continue;
    const impls = [...new Set(rows.map((l) => String(p(l, "implementation"))))];
    const contexts = [...new Set(rows.map((l) => num(p(l, "context"))))].sort((a, b) => a - b);
    const llama = impls.find((i) => i.startsWith("llama.cpp"));
    const value = (impl: string, ctx: number): number =>
      median(rows.filter((l) => p(l, "implementation") === impl && p(l, "context") === ctx).map((l) => num(l[key])));
    const count = (impl: string, ctx: number): number => rows.filter((l) => p(l, "implementation") === impl && p(l, "context") === ctx).length;
    const reps = Math.max(...impls.flatMap((i) => contexts.map((c) => count(i, c))));
    md.push(`## ${title} (median of up to ${reps} repetitions)`, "", `| implementation | ${contexts.map((c) => `ctx ${c}`).join(" | ")} |`, `|---|${contexts.map(() => "---:").join("|")}|`);
    for (const impl of impls) {
      md.push(
        `| ${impl} | ${contexts
          .map((c) => {
            const v = value(impl, c);
            const ratio = llama !== undefined && impl !== llama ? ` (${fmt(v / value(llama, c), 2)}×)` : "";
            return `${fmt(v)}${ratio}`;
          })
          .join(" | ")} |`,
      );
    }
    md.push("", "(×: ratio to llama.cpp at the same context, same run.)", "");
    const series: PlotSeries[] = impls.map((impl) => ({ name: impl.split(" (")[0]!.slice(0, 30), points: contexts.map((c) => ({ x: c, y: value(impl, c) })).filter((q) => Number.isFinite(q.y)) }));
    writeFileSync(join(outDir, file), plot(title, "context tokens", "tokens/s", series));
    md.push(`![${file}](${file})`, "");
  }

  const agreement = all.find((l) => l.name === "peers.agreement");
  if (agreement !== undefined) {
    md.push(
      "## Numerics: int8 activations (default) vs fp32 activations",
      "",
      `Greedy tokens identical up to the first divergence: **${String(agreement["agreedTokens"])}/${String(agreement["totalTokens"])}** over the five acceptance prompts (per prompt: ${(agreement["perPrompt"] as number[]).join(", ")}); largest first-step logit difference ${fmt(num(agreement["maxFirstStepLogitDelta"]), 3)}.`,
      "",
    );
  }

  const memory = all.filter((l) => l.name === "memory.peakRss");
  const perToken = all.filter((l) => l.name === "store.bytesPerToken");
  if (memory.length > 0 || perToken.length > 0) {
    md.push("## Memory", "");
    if (memory.length > 0) {
      md.push("| after suite | peak RSS of the bench process (MiB) |", "|---|---:|");
      for (const l of memory) md.push(`| ${String(p(l, "suite"))} | ${fmt(num(l["peakRssBytes"]) / 1024 ** 2, 0)} |`);
      md.push("", "(Peak RSS is the process's high-water mark so far, so it only grows from one suite to the next.)", "");
    }
    if (perToken.length > 0) {
      md.push("| stored dtype | bytes per cached token (encoded entry) |", "|---|---:|");
      for (const l of perToken) md.push(`| ${String(p(l, "dtype"))} | ${fmt(num(l["bytesPerToken"]), 0)} |`);
      md.push("");
    }
  }
  writeFileSync(join(outDir, "summary.md"), `${md.join("\n")}\n`);
}

function plot(title: string, xLabel: string, yLabel: string, series: readonly PlotSeries[]): string {
  const ys = series.flatMap((s) => s.points.map((q) => q.y)).filter(Number.isFinite);
  const top = ys.length === 0 ? 1 : Math.max(...ys) * 1.1;
  return renderLinePlot({ title, xLabel, yLabel, series, yRange: [0, top], formatY: (y) => (top >= 100 ? String(Math.round(y)) : y.toFixed(1)) });
}
