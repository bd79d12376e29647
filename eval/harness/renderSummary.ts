import type { AccuracyTable, EvalReport, ModelInfo, TimingRow } from "./types.js";

function pct(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "–";
}

function num(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "–";
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(" | ")} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

/** Column header "label/mode", marked when the mode was copied from an identical one. */
function columnHeader(column: string, models: readonly ModelInfo[]): string {
  const slash = column.lastIndexOf("/");
  const model = models.find((m) => m.label === column.slice(0, slash));
  const mode = column.slice(slash + 1) as keyof ModelInfo["identicalModes"];
  const same = model?.identicalModes[mode];
  return same === undefined ? column : `${column} (= ${same})`;
}

/** An accuracy table as Markdown: one row per group, `n` (records per column), one column per model×mode. */
export function renderAccuracyTable(table: AccuracyTable, models: readonly ModelInfo[]): string {
  if (table.rows.length === 0) return "_no records_";
  const header = [table.rowLabel, "n", ...table.columns.map((c) => columnHeader(c, models))];
  const rows = table.rows.map((row) => {
    const cells = table.cells[row] ?? {};
    const n = Math.max(0, ...Object.values(cells).map((c) => c.numRecords));
    return [
      row,
      String(n),
      ...table.columns.map((c) => {
        const cell = cells[c];
        if (cell === undefined) return "–";
        return `${pct(cell.accuracy)}${cell.numErrors > 0 ? ` (${cell.numErrors} err)` : ""}`;
      }),
    ];
  });
  return markdownTable(header, rows);
}

function renderTiming(rows: readonly TimingRow[]): string {
  if (rows.length === 0) return "_no records_";
  return markdownTable(
    ["model", "mode", "n", "mean TTFT ms", "median TTFT ms", "decode tok/s", "doc tokens reused", "doc tokens computed", "errors"],
    rows.map((r) =>
      r.sameAs !== undefined
        ? [r.model, r.mode, String(r.numRecords), `= ${r.sameAs} (not run again)`, "", "", "", "", ""]
        : [
            r.model,
            r.mode,
            String(r.numRecords),
            num(r.meanTtftMs, 1),
            num(r.medianTtftMs, 1),
            num(r.meanTokensPerSecond, 1),
            num(r.meanDocTokensReused, 0),
            num(r.meanDocTokensComputed, 0),
            String(r.numErrors),
          ],
    ),
  );
}

function renderChecks(report: EvalReport): string {
  const chat = report.checks.chat;
  const ppl = report.checks.perplexity;
  if (chat === undefined && ppl === undefined) return "_not run (use `--checks chat,ppl`)_";
  const models = report.meta.models.map((m) => m.label);
  const labels = [...new Set([...models, ...(chat ?? []).map((c) => c.model), ...(ppl ?? []).map((p) => p.model)])];
  const header = ["model"];
  if (chat !== undefined) {
    const c0 = chat[0];
    header.push(
      `chat agreement with ${c0?.reference ?? "reference"} (first ${c0?.comparedTokens ?? 24} tokens)`,
      "mean common prefix of the whole answers (tokens)",
    );
  }
  if (ppl !== undefined) header.push(`perplexity (full attention, ${ppl[0]?.chunkTokens ?? 1024}-token chunks)`, "tokens scored");
  const rows = labels.map((label) => {
    const cells = [label];
    if (chat !== undefined) {
      const c = chat.find((x) => x.model === label);
      cells.push(c ? `${pct(c.agreement)} (${c.numAgreeing}/${c.numPrompts})` : "–", c ? num(c.meanCommonPrefixTokens, 1) : "–");
    }
    if (ppl !== undefined) {
      const p = ppl.find((x) => x.model === label);
      cells.push(p ? num(p.perplexity, 2) : "–", p ? String(p.numScoredTokens) : "–");
    }
    return cells;
  });
  return markdownTable(header, rows);
}

/** summary.md: the run's settings, then every table. */
export function renderSummary(report: EvalReport): string {
  const m = report.meta;
  const models = m.models.map((x) => `\`${x.label}\` (${x.dir}; ${x.numLinkTokens} link tokens)`).join(", ");
  const a = report.aggregates;
  return [
    `# KVLink accuracy${m.interrupted ? " (interrupted: partial results)" : ""}`,
    "",
    `- models: ${models || "–"}`,
    `- data: ${m.data.join(", ")} (${m.numRecords} records${m.split !== undefined ? `, split ${m.split}` : ""}${m.stride > 1 ? `, every ${m.stride}th` : ""}${m.limit !== undefined ? `, at most ${m.limit} per file` : ""})`,
    `- modes: ${m.modes.join(", ")}; epic recomputes ${m.epicTokens} tokens per document; greedy, at most ${m.maxTokens} tokens`,
    ...(m.adapter !== undefined
      ? [
          `- adapter: ${m.adapter}${m.adapter === "documents" ? " (LoRA runs in prompts with documents; the no-document checks run the base weights)" : " (LoRA forced on in every prompt, the no-document checks included)"}; document prefix: ${m.documentPrefix ?? "none"}`,
        ]
      : []),
    `- system prompt: ${m.system === undefined ? "none" : JSON.stringify(m.system)}; ${m.numThreads} threads; commit ${m.commit ?? "?"}; Node ${m.node}`,
    `- ${m.startedAt} → ${m.finishedAt} (${(m.durationMs / 1000).toFixed(0)} s)`,
    "",
    "Correct = some gold alias, SQuAD-normalized, is a substring of the normalized answer (KVLink's `best_subspan_em`).",
    "",
    `## ${a.byDatasetSplit.title}`,
    "",
    renderAccuracyTable(a.byDatasetSplit, m.models),
    "",
    `## ${a.byKind.title}`,
    "",
    renderAccuracyTable(a.byKind, m.models),
    "",
    `## ${a.bySlot.title}`,
    "",
    renderAccuracyTable(a.bySlot, m.models),
    "",
    "![accuracy by gold slot](accuracy-by-slot.svg)",
    "",
    "## Speed (records that did not fail)",
    "",
    "TTFT includes tokenizing, linking the cached documents and the prefill; documents were encoded before the first mode ran.",
    "",
    renderTiming(a.timing),
    "",
    "## No-document checks",
    "",
    renderChecks(report),
    "",
  ].join("\n");
}
