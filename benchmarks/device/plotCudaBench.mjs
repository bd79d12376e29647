// Draws the 1B-shaped rows of a cuda-bench.json as an SVG of grouped bars (cpu vs cuda): kvlink TTFT and decode tokens/s.
//   node benchmarks/device/plotCudaBench.mjs benchmarks/published/gpu/<run>/cuda-bench.json  (writes cuda-bench.svg beside it)
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const file = process.argv[2];
const { results } = JSON.parse(readFileSync(file, "utf8"));
const rows = results.filter((r) => r.params?.model === "llama1b" && r.error === undefined);
const value = (name, ep, match, field) => rows.find((r) => r.name === name && r.params.ep === ep && match(r.params))?.[field];
const panels = [
  {
    title: "kvlink TTFT, ms (lower is better)",
    groups: [
      ["10 × 512 docs", (p) => p.numDocs === 10],
      ["32 × 1024 docs", (p) => p.numDocs === 32],
    ].map(([label, m]) => ({ label, cpu: value("ttft", "cpu", m, "kvlink_ms"), cuda: value("ttft", "cuda", m, "kvlink_ms") })),
  },
  {
    title: "decode, tokens/s (higher is better)",
    groups: [1024, 8192, 32768].map((c) => ({ label: `${c / 1024}k context`, cpu: value("decode", "cpu", (p) => p.context === c, "tokens_per_s"), cuda: value("decode", "cuda", (p) => p.context === c, "tokens_per_s") })),
  },
];
const W = 360;
const H = 220;
const colors = { cpu: "#7a869a", cuda: "#76b900" };
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W * 2 + 40}" height="${H + 40}" font-family="sans-serif" font-size="11">`;
panels.forEach((panel, i) => {
  const x0 = 20 + i * (W + 20);
  const max = Math.max(...panel.groups.flatMap((g) => [g.cpu ?? 0, g.cuda ?? 0]));
  svg += `<text x="${x0}" y="16" font-size="13">${panel.title}</text>`;
  const gw = W / panel.groups.length;
  panel.groups.forEach((g, j) => {
    ["cpu", "cuda"].forEach((ep, k) => {
      const v = g[ep];
      if (v === undefined) return;
      const h = (v / max) * (H - 60);
      const x = x0 + j * gw + 10 + k * (gw / 2 - 10);
      svg += `<rect x="${x}" y="${H - 20 - h}" width="${gw / 2 - 14}" height="${h}" fill="${colors[ep]}"/>`;
      svg += `<text x="${x}" y="${H - 24 - h}">${v >= 100 ? Math.round(v).toLocaleString("en") : v.toFixed(1)}</text>`;
    });
    svg += `<text x="${x0 + j * gw + 10}" y="${H - 4}">${g.label}</text>`;
  });
});
svg += `<rect x="20" y="${H + 14}" width="10" height="10" fill="${colors.cpu}"/><text x="34" y="${H + 23}">cpu, 16 threads</text>`;
svg += `<rect x="140" y="${H + 14}" width="10" height="10" fill="${colors.cuda}"/><text x="154" y="${H + 23}">cuda (H200), KV in host memory</text></svg>\n`;
writeFileSync(join(dirname(file), "cuda-bench.svg"), svg);
