import type { AccuracyCell, AccuracyTable, Aggregates, EvalMode, RecordOutcome, TimingRow } from "./types.js";

/** The column key of a model×mode: "label/mode". */
export function columnKey(model: string, mode: EvalMode): string {
  return `${model}/${mode}`;
}

interface Counter {
  numRecords: number;
  numCorrect: number;
  numErrors: number;
}

function toCell(c: Counter): AccuracyCell {
  return { ...c, accuracy: c.numRecords === 0 ? 0 : c.numCorrect / c.numRecords };
}

/** Columns in model order, then mode order, keeping only those with outcomes. */
function orderedColumns(outcomes: readonly RecordOutcome[], models: readonly string[], modes: readonly EvalMode[]): string[] {
  const present = new Set(outcomes.map((o) => columnKey(o.model, o.mode)));
  return models.flatMap((m) => modes.map((mode) => columnKey(m, mode))).filter((c) => present.has(c));
}

/**
 * Accuracy table whose rows are the keys `rowKeys(outcome)` returns (an outcome may count in several rows, e.g. one
 * per gold slot). Rows are ordered by `compareRows`, or by first appearance.
 */
export function accuracyTable(
  outcomes: readonly RecordOutcome[],
  options: {
    title: string;
    rowLabel: string;
    models: readonly string[];
    modes: readonly EvalMode[];
    rowKeys: (o: RecordOutcome) => readonly string[];
    compareRows?: (a: string, b: string) => number;
  },
): AccuracyTable {
  const counters = new Map<string, Map<string, Counter>>();
  for (const o of outcomes) {
    const column = columnKey(o.model, o.mode);
    for (const row of options.rowKeys(o)) {
      let byColumn = counters.get(row);
      if (byColumn === undefined) counters.set(row, (byColumn = new Map()));
      let c = byColumn.get(column);
      if (c === undefined) byColumn.set(column, (c = { numRecords: 0, numCorrect: 0, numErrors: 0 }));
      c.numRecords++;
      if (o.correct) c.numCorrect++;
      if (o.error !== undefined) c.numErrors++;
    }
  }
  const rows = [...counters.keys()];
  if (options.compareRows) rows.sort(options.compareRows);
  const cells: Record<string, Record<string, AccuracyCell>> = {};
  for (const row of rows) {
    cells[row] = Object.fromEntries([...counters.get(row)!].map(([column, c]) => [column, toCell(c)]));
  }
  return { title: options.title, rowLabel: options.rowLabel, rows, columns: orderedColumns(outcomes, options.models, options.modes), cells };
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Mean/median TTFT, decode tokens/s and document-token counts per model×mode, over records that did not fail. */
export function timingRows(outcomes: readonly RecordOutcome[], models: readonly string[], modes: readonly EvalMode[]): TimingRow[] {
  const rows: TimingRow[] = [];
  for (const model of models) {
    for (const mode of modes) {
      const mine = outcomes.filter((o) => o.model === model && o.mode === mode);
      if (mine.length === 0) continue;
      const ok = mine.filter((o) => o.error === undefined);
      const nums = (pick: (o: RecordOutcome) => number | undefined): number[] =>
        ok.map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v));
      const sameAs = mine[0]!.sameAs;
      rows.push({
        model,
        mode,
        numRecords: mine.length,
        meanTtftMs: mean(nums((o) => o.ttftMs)),
        medianTtftMs: median(nums((o) => o.ttftMs)),
        // Answers of one token have no decode rate (reported as 0 by the engine): leave them out of the mean.
        meanTokensPerSecond: mean(nums((o) => ((o.numGeneratedTokens ?? 0) > 1 ? o.tokensPerSecond : undefined))),
        meanDocTokensReused: mean(nums((o) => o.docTokensReused)),
        meanDocTokensComputed: mean(nums((o) => o.docTokensComputed)),
        numErrors: mine.length - ok.length,
        ...(sameAs !== undefined ? { sameAs } : {}),
      });
    }
  }
  return rows;
}

const SEP = " · ";

/** "dataset · split" rows in first-seen order of datasets, splits sorted (dev before test). */
function compareGroupKeys(a: string, b: string, order: ReadonlyMap<string, number>): number {
  const [da = "", sa = ""] = a.split(SEP);
  const [db = "", sb = ""] = b.split(SEP);
  return (order.get(da) ?? 0) - (order.get(db) ?? 0) || sa.localeCompare(sb);
}

/** Every aggregate of results.json and summary.md. */
export function computeAggregates(outcomes: readonly RecordOutcome[], models: readonly string[], modes: readonly EvalMode[]): Aggregates {
  const datasetOrder = new Map<string, number>();
  for (const o of outcomes) if (!datasetOrder.has(o.dataset)) datasetOrder.set(o.dataset, datasetOrder.size);
  const group = (o: RecordOutcome): string => `${o.dataset}${SEP}${o.split}`;
  const byGroupThen = (a: string, b: string): number => {
    const prefix = (k: string): string => k.split(SEP).slice(0, 2).join(SEP);
    return compareGroupKeys(prefix(a), prefix(b), datasetOrder);
  };
  const common = { models, modes };
  const byDatasetSplit = accuracyTable(outcomes, {
    ...common,
    title: "Accuracy by dataset and split",
    rowLabel: "dataset · split",
    rowKeys: (o) => [group(o)],
    compareRows: (a, b) => compareGroupKeys(a, b, datasetOrder),
  });
  const byKind = accuracyTable(outcomes, {
    ...common,
    title: "Accuracy by kind",
    rowLabel: "dataset · split · kind",
    rowKeys: (o) => [`${group(o)}${SEP}${o.kind}`],
    compareRows: (a, b) => byGroupThen(a, b) || a.localeCompare(b),
  });
  const slotOf = (k: string): number => Number(k.split("slot ")[1] ?? "-1");
  const bySlot = accuracyTable(outcomes, {
    ...common,
    title: "Accuracy by gold-document slot (0 = first document; a record counts once per gold document)",
    rowLabel: "dataset · split · gold slot",
    rowKeys: (o) => o.gold.map((g) => `${group(o)}${SEP}slot ${g}`),
    compareRows: (a, b) => byGroupThen(a, b) || slotOf(a) - slotOf(b),
  });
  const overall = accuracyTable(outcomes, { ...common, title: "", rowLabel: "", rowKeys: (o) => o.gold.map((g) => String(g)) });
  const slots = overall.rows.map(Number).sort((a, b) => a - b);
  const slotSeries = overall.columns.map((column) => ({
    column,
    points: slots.flatMap((slot) => {
      const cell = overall.cells[String(slot)]?.[column];
      return cell === undefined ? [] : [{ slot, accuracy: cell.accuracy, numRecords: cell.numRecords }];
    }),
  }));
  return { byDatasetSplit, byKind, bySlot, slotSeries, timing: timingRows(outcomes, models, modes) };
}
