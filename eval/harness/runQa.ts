import type { AdapterPolicy } from "../../packages/core/src/engine/adapterPolicy.js";
import { KvLinkEngine } from "../../packages/core/src/engine/KvLinkEngine.js";
import type { GenerateRequest } from "../../packages/core/src/engine/types.js";
import type { QaRecord } from "./loadJsonl.js";
import { matchAnswer } from "./scoreAnswer.js";
import type { EvalMode, ModelInfo, ModelSpecArg, RecordOutcome } from "./types.js";

/** What the runner reports after each answer (the CLI draws it; the runner never prints). */
export interface QaProgress {
  readonly model: string;
  readonly mode: EvalMode;
  /** Answers of this model×mode so far, and how many were correct. */
  readonly numAnswered: number;
  readonly numCorrect: number;
}

export interface QaRunOptions {
  readonly models: readonly ModelSpecArg[];
  readonly modes: readonly EvalMode[];
  readonly records: readonly QaRecord[];
  readonly maxTokens: number;
  /** Document tokens recomputed fresh in `epic` mode. */
  readonly epicTokens: number;
  /** KvLinkEngine documentPrefix (default "none"). */
  readonly documentPrefix?: "none" | "template";
  /** KvLinkEngine adapter policy (default "documents"). */
  readonly adapter?: AdapterPolicy;
  readonly system?: string;
  readonly numThreads: number;
  readonly signal: AbortSignal;
  /** Outcomes are appended here as they come, so an interrupted run keeps what it did. */
  readonly outcomes: RecordOutcome[];
  /** Models are appended here once their engine is ready. */
  readonly modelInfos: ModelInfo[];
  readonly onProgress?: (p: QaProgress) => void;
  /** Answers skipped because a mode is identical to another for this model (the progress total shrinks). */
  readonly onSkipped?: (numAnswers: number) => void;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The engine request of one record in one harness mode (epic = kvlink with recomputed document prefixes). */
export function requestFor(record: QaRecord, mode: EvalMode, options: Pick<QaRunOptions, "maxTokens" | "epicTokens" | "system" | "signal">): GenerateRequest {
  return {
    ...(options.system !== undefined ? { system: options.system } : {}),
    documents: record.documents,
    question: record.question,
    mode: mode === "epic" ? "kvlink" : mode,
    recomputePrefixTokens: mode === "epic" ? options.epicTokens : 0,
    greedy: true,
    maxTokens: options.maxTokens,
    signal: options.signal,
  };
}

function baseOutcome(model: string, mode: EvalMode, record: QaRecord): Omit<RecordOutcome, "output" | "correct"> {
  return {
    model,
    mode,
    recordId: record.id,
    dataset: record.dataset,
    split: record.split,
    kind: record.kind,
    gold: record.gold,
    numDocuments: record.documents.length,
    question: record.question,
    answer: record.answer,
  };
}

/**
 * Answers every record with every model in every mode, record by record (so each record's documents are computed
 * once per model, before its modes run, and reused by all of them: TTFT measures linking, not the first encode).
 * One engine per model, no store. A failing record is an outcome with `error`, counted wrong; an abort stops the
 * run and returns (the outcomes so far stay in `options.outcomes`).
 */
export async function runQa(options: QaRunOptions): Promise<void> {
  for (const model of options.models) {
    if (options.signal.aborted) return;
    await using engine = await KvLinkEngine.create({ model: model.dir, numThreads: options.numThreads, documentPrefix: options.documentPrefix ?? "none",
      adapter: options.adapter ?? "documents",
    });
    const identicalModes: Partial<Record<EvalMode, EvalMode>> =
      engine.links.numLinkTokens === 0 && options.modes.includes("kvlink") && options.modes.includes("rerotate") ? { kvlink: "rerotate" } : {};
    options.modelInfos.push({ label: model.label, dir: model.dir, numLinkTokens: engine.links.numLinkTokens, identicalModes });
    const modesToRun = options.modes.filter((m) => identicalModes[m] === undefined);
    const skipped = options.modes.length - modesToRun.length;
    if (skipped > 0) options.onSkipped?.(skipped * options.records.length);
    const counts = new Map<EvalMode, { numAnswered: number; numCorrect: number }>(options.modes.map((m) => [m, { numAnswered: 0, numCorrect: 0 }]));
    const usesCache = modesToRun.some((m) => m !== "full");
    // Warm-up (not recorded), so the first record's TTFT does not include ONNX Runtime's first-run setup.
    try {
      await engine.generate({ question: "Hello", greedy: true, maxTokens: 2, signal: options.signal }).result();
    } catch {
      if (options.signal.aborted) return;
    }
    for (const record of options.records) {
      if (options.signal.aborted) return;
      if (usesCache && record.documents.length > 0) {
        try {
          await engine.precompute(record.documents, { signal: options.signal });
        } catch {
          if (options.signal.aborted) return;
          // A document that cannot be encoded fails again, and is recorded, in each mode below.
        }
      }
      const byMode = new Map<EvalMode, RecordOutcome>();
      for (const mode of modesToRun) {
        let outcome: RecordOutcome;
        try {
          const { text, stats } = await engine.generate(requestFor(record, mode, options)).result();
          const matched = matchAnswer(text, record.answer);
          outcome = {
            ...baseOutcome(model.label, mode, record),
            output: text,
            correct: matched !== undefined,
            ...(matched !== undefined ? { matched } : {}),
            ttftMs: stats.ttftMs,
            tokensPerSecond: stats.tokensPerSecond,
            numGeneratedTokens: stats.numGeneratedTokens,
            docTokensReused: stats.docTokensReused,
            docTokensComputed: stats.docTokensComputed,
            freshTokens: stats.freshTokens,
          };
        } catch (error) {
          if (options.signal.aborted) return;
          outcome = { ...baseOutcome(model.label, mode, record), output: "", correct: false, error: describeError(error) };
        }
        options.outcomes.push(outcome);
        byMode.set(mode, outcome);
        const c = counts.get(mode)!;
        c.numAnswered++;
        if (outcome.correct) c.numCorrect++;
        options.onProgress?.({ model: model.label, mode, ...c });
      }
      for (const [mode, same] of Object.entries(identicalModes) as [EvalMode, EvalMode][]) {
        const original = byMode.get(same);
        if (original !== undefined) options.outcomes.push({ ...original, mode, sameAs: same });
      }
    }
  }
}
