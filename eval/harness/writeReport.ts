import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderLinePlot } from "./renderLinePlot.js";
import { renderSummary } from "./renderSummary.js";
import type { EvalReport } from "./types.js";

/** The accuracy-vs-gold-slot chart of a report: one line per model×mode (modes copied from another are left out). */
export function renderSlotPlot(report: EvalReport): string {
  const copied = new Set(
    report.meta.models.flatMap((m) => Object.keys(m.identicalModes).map((mode) => `${m.label}/${mode}`)),
  );
  return renderLinePlot({
    title: "Accuracy by gold-document slot",
    xLabel: "gold document slot (0 = first document)",
    yLabel: "accuracy",
    series: report.aggregates.slotSeries
      .filter((s) => !copied.has(s.column))
      .map((s) => ({ name: s.column, points: s.points.map((p) => ({ x: p.slot, y: p.accuracy })) })),
  });
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, "utf8");
  await rename(tmp, path);
}

/** Writes results.json, summary.md and accuracy-by-slot.svg into `outDir`; returns their paths. */
export async function writeReport(report: EvalReport, outDir: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const files: [string, string][] = [
    ["results.json", JSON.stringify(report, null, 2) + "\n"],
    ["summary.md", renderSummary(report)],
    ["accuracy-by-slot.svg", renderSlotPlot(report)],
  ];
  for (const [name, text] of files) await writeAtomic(join(outDir, name), text);
  return files.map(([name]) => join(outDir, name));
}
