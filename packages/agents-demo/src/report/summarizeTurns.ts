import type { AgentTurn } from "../workflow/buildWorkflow.js";

/** Per-agent figures of a run: what the table at the end shows, and what --json writes. */
export interface AgentSummary {
  readonly agent: string;
  readonly calls: number;
  readonly meanTtftMs: number;
  /** Document tokens of the calls (each call's documents, each once per call). */
  readonly docTokens: number;
  readonly docTokensReused: number;
  readonly docTokensComputed: number;
  /** reused / (reused + computed); 0 when the calls read no document. */
  readonly hitRate: number;
}

/** Sums the turns by agent (in first-seen order) and adds a "total" row. */
export function summarizeTurns(turns: readonly AgentTurn[]): AgentSummary[] {
  const agentToTurns = new Map<string, AgentTurn[]>();
  for (const turn of turns) {
    let list = agentToTurns.get(turn.agent);
    if (list === undefined) agentToTurns.set(turn.agent, (list = []));
    list.push(turn);
  }
  const rows = [...agentToTurns.entries()].map(([agent, list]) => summarize(agent, list));
  return turns.length === 0 ? rows : [...rows, summarize("total", turns)];
}

function summarize(agent: string, turns: readonly AgentTurn[]): AgentSummary {
  const reused = turns.reduce((s, t) => s + t.kvlink.docTokensReused, 0);
  const computed = turns.reduce((s, t) => s + t.kvlink.docTokensComputed, 0);
  return {
    agent,
    calls: turns.length,
    meanTtftMs: turns.reduce((s, t) => s + t.kvlink.ttftMs, 0) / Math.max(1, turns.length),
    docTokens: turns.reduce((s, t) => s + t.docTokens, 0),
    docTokensReused: reused,
    docTokensComputed: computed,
    hitRate: reused + computed === 0 ? 0 : reused / (reused + computed),
  };
}

/** A fixed-width text table of the summaries. */
export function formatSummaryTable(rows: readonly AgentSummary[]): string {
  const header = ["agent", "calls", "mean TTFT", "doc tokens", "reused", "computed", "hit rate"];
  const body = rows.map((r) => [
    r.agent,
    String(r.calls),
    `${Math.round(r.meanTtftMs).toLocaleString("en-US")} ms`,
    r.docTokens.toLocaleString("en-US"),
    r.docTokensReused.toLocaleString("en-US"),
    r.docTokensComputed.toLocaleString("en-US"),
    `${(r.hitRate * 100).toFixed(1)} %`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}
