/** A small hand-written SVG line chart (axes, ticks, grid, legend): enough for accuracy vs gold slot. */

export interface PlotSeries {
  readonly name: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface LinePlotOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly PlotSeries[];
  /** Default [0, 1]. */
  readonly yRange?: readonly [number, number];
  /** Tick label of a y value; default a percentage. */
  readonly formatY?: (y: number) => string;
  readonly width?: number;
  readonly height?: number;
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const DASHES = ["", "6 3", "2 3", "8 3 2 3"];

/** Escapes text for an XML text node or attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c] ?? c);
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

/** Integer x ticks when the x values are integers and few, else 6 evenly spaced. */
function xTicks(min: number, max: number, allInteger: boolean): number[] {
  if (min === max) return [min];
  if (allInteger && max - min <= 20) return Array.from({ length: max - min + 1 }, (_, i) => min + i);
  return Array.from({ length: 6 }, (_, i) => min + ((max - min) * i) / 5);
}

/** The SVG document (UTF-8 text, a standalone <svg> root). Series with no points are listed in the legend only. */
export function renderLinePlot(options: LinePlotOptions): string {
  const width = options.width ?? 760;
  const legendWidth = 220;
  const height = options.height ?? 420;
  const margin = { top: 40, right: legendWidth + 20, bottom: 56, left: 64 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const [yMin, yMax] = options.yRange ?? [0, 1];
  const formatY = options.formatY ?? ((y: number) => `${Math.round(y * 100)}%`);
  const xs = options.series.flatMap((s) => s.points.map((p) => p.x));
  const xMin = xs.length === 0 ? 0 : Math.min(...xs);
  const xMax = xs.length === 0 ? 1 : Math.max(...xs);
  const ticksX = xTicks(xMin, xMax, xs.every(Number.isInteger));
  const sx = (x: number): number => margin.left + (xMax === xMin ? plotW / 2 : ((x - xMin) / (xMax - xMin)) * plotW);
  const sy = (y: number): number => margin.top + plotH - ((Math.min(Math.max(y, yMin), yMax) - yMin) / (yMax - yMin || 1)) * plotH;
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${margin.left + plotW / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`);
  // Grid and y ticks.
  for (let i = 0; i <= 5; i++) {
    const y = yMin + ((yMax - yMin) * i) / 5;
    const py = sy(y).toFixed(1);
    out.push(`<line x1="${margin.left}" y1="${py}" x2="${margin.left + plotW}" y2="${py}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${margin.left - 8}" y="${py}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatY(y))}</text>`);
  }
  for (const x of ticksX) {
    const px = sx(x).toFixed(1);
    out.push(`<line x1="${px}" y1="${margin.top + plotH}" x2="${px}" y2="${margin.top + plotH + 5}" stroke="#000000"/>`);
    out.push(`<text x="${px}" y="${margin.top + plotH + 18}" text-anchor="middle">${escapeXml(fmt(x))}</text>`);
  }
  // Axes.
  out.push(`<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotH}" stroke="#000000"/>`);
  out.push(`<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${margin.left + plotW}" y2="${margin.top + plotH}" stroke="#000000"/>`);
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  out.push(
    `<text x="16" y="${margin.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${margin.top + plotH / 2})">${escapeXml(options.yLabel)}</text>`,
  );
  // Series and legend.
  for (const [i, s] of options.series.entries()) {
    const color = COLORS[i % COLORS.length]!;
    const dash = DASHES[Math.floor(i / COLORS.length) % DASHES.length]!;
    const dashAttr = dash === "" ? "" : ` stroke-dasharray="${dash}"`;
    const points = [...s.points].sort((a, b) => a.x - b.x);
    if (points.length > 1) {
      const d = points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");
      out.push(`<polyline points="${d}" fill="none" stroke="${color}" stroke-width="2"${dashAttr}/>`);
    }
    for (const p of points) {
      out.push(
        `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(`${s.name}: ${fmt(p.x)} → ${formatY(p.y)}`)}</title></circle>`,
      );
    }
    const ly = margin.top + 10 + i * 18;
    const lx = width - legendWidth;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"${dashAttr}/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
