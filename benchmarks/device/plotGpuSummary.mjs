// Draws the 2026-12-02 H200 runs side by side as an SVG of grouped bars, 1B-shaped model:
//   - decode tokens/s at 1k / 8k / 32k context: 16 CPU threads (fp32 past), CUDA with fp32 past, CUDA with fp16 past;
//   - kvlink TTFT at 32 × 1024 documents on CUDA: placement on 1 thread, on 8 threads, and 8 threads with fp16 past.
//   node benchmarks/device/plotGpuSummary.mjs <placement run>.json <fp16 decode run>.json <fp16 TTFT run>.json <out.svg>
// Each bar is the figure of one run (ratios between runs are between runs: the host was the same, the runs minutes apart).
import { readFileSync, writeFileSync } from "node:fs";

const [placementFile, fp16File, fp16TtftFile, outFile] = process.argv.slice(2);
const rowsOf = (file) => JSON.parse(readFileSync(file, "utf8")).results.filter((r) => r.error === undefined);
const placement = rowsOf(placementFile);
const fp16 = rowsOf(fp16File);
const fp16Ttft = rowsOf(fp16TtftFile);
const find = (rows, name, match, field) => rows.find((r) => r.name === name && match(r.params))?.[field];
const decode = (model, ep, ctx) => find(fp16, "decode", (p) => p.model === model && p.ep === ep && p.context === ctx, "tokens_per_s");
const ttft = (rows, model, threads) =>
  find(rows, "ttft", (p) => p.model === model && p.ep === "cuda" && p.numDocs === 32 && String(p.placementThreads) === String(threads), "kvlink_ms");

const panels = [
  {
    title: "decode, tokens/s (higher is better)",
    series: ["cpu, 16 threads", "cuda, fp32 past", "cuda, fp16 past"],
    groups: [1024, 8192, 32768].map((c) => ({
      label: `${c / 1024}k context`,
      values: [decode("llama1b", "cpu", c), decode("llama1b", "cuda", c), decode("llama1b-kv16", "cuda", c)],
    })),
  },
  {
    title: "kvlink TTFT, 32 × 1024 docs, cuda, ms (lower is better)",
    series: ["placing on 1 thread", "8 threads", "8 threads, fp16 past"],
    groups: [
      {
        label: "time to first token",
        values: [ttft(placement, "llama1b", 1), ttft(placement, "llama1b", 8), ttft(fp16Ttft, "llama1b-kv16", "default")],
      },
    ],
  },
];
const W = 380;
const H = 230;
const colors = ["#7a869a", "#76b900", "#2f6fb0"];
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W * 2 + 60}" height="${H + 70}" font-family="sans-serif" font-size="11">`;
panels.forEach((panel, i) => {
  const x0 = 20 + i * (W + 30);
  const max = Math.max(...panel.groups.flatMap((g) => g.values.map((v) => v ?? 0)));
  svg += `<text x="${x0}" y="16" font-size="13">${panel.title}</text>`;
  const gw = W / panel.groups.length;
  const bw = (gw - 20) / panel.series.length;
  panel.groups.forEach((g, j) => {
    g.values.forEach((v, k) => {
      if (v === undefined) return;
      const h = (v / max) * (H - 60);
      const x = x0 + j * gw + 10 + k * bw;
      svg += `<rect x="${x}" y="${H - 20 - h}" width="${bw - 4}" height="${h}" fill="${colors[k]}"/>`;
      svg += `<text x="${x}" y="${H - 24 - h}">${v >= 100 ? Math.round(v).toLocaleString("en") : v.toFixed(1)}</text>`;
    });
    svg += `<text x="${x0 + j * gw + 10}" y="${H - 4}">${g.label}</text>`;
  });
  panel.series.forEach((name, k) => {
    svg += `<rect x="${x0}" y="${H + 12 + k * 16}" width="10" height="10" fill="${colors[k]}"/><text x="${x0 + 14}" y="${H + 21 + k * 16}">${name}</text>`;
  });
});
svg += "</svg>\n";
writeFileSync(outFile, svg);
