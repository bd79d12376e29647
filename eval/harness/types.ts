/** Data shapes shared by the runner, the aggregation, the report writers and results.json. */
import type { AdapterPolicy } from "../../packages/core/src/engine/adapterPolicy.js";

/** A linking mode as the harness names it: the engine's four plus `epic` (kvlink + recomputed document prefixes). */
export type EvalMode = "full" | "naive" | "rerotate" | "kvlink" | "epic";
export const EVAL_MODES: readonly EvalMode[] = ["full", "naive", "rerotate", "kvlink", "epic"];

export interface ModelSpecArg {
  readonly label: string;
  readonly dir: string;
}

/** One record answered by one model in one mode. */
export interface RecordOutcome {
  readonly model: string;
  readonly mode: EvalMode;
  readonly recordId: string;
  readonly dataset: string;
  readonly split: string;
  readonly kind: string;
  readonly gold: readonly number[];
  readonly numDocuments: number;
  readonly question: string;
  readonly answer: readonly string[];
  /** The greedy answer ("" on error). */
  readonly output: string;
  readonly correct: boolean;
  /** The alias that matched, if any. */
  readonly matched?: string;
  /** "ErrorName: message" when generation failed (the record counts as wrong). */
  readonly error?: string;
  readonly ttftMs?: number;
  /** Decode tokens per second (after the first token). */
  readonly tokensPerSecond?: number;
  readonly numGeneratedTokens?: number;
  readonly docTokensReused?: number;
  readonly docTokensComputed?: number;
  readonly freshTokens?: number;
  /** Set when this outcome was not run but copied from an identical mode (kvlink without link tokens). */
  readonly sameAs?: EvalMode;
}

export interface ModelInfo {
  readonly label: string;
  readonly dir: string;
  readonly numLinkTokens: number;
  /** Modes whose outcomes were copied from another mode, because the model makes them identical. */
  readonly identicalModes: Readonly<Partial<Record<EvalMode, EvalMode>>>;
}

export interface ChatAgreement {
  readonly model: string;
  readonly reference: string;
  readonly numPrompts: number;
  /** Prompts whose first `comparedTokens` generated tokens (or whole answers, if shorter) equal the reference's. */
  readonly numAgreeing: number;
  readonly agreement: number;
  /** Mean length, in tokens, of the common prefix with the reference's answer. */
  readonly meanCommonPrefixTokens: number;
  readonly comparedTokens: number;
}

export interface PerplexityResult {
  readonly model: string;
  readonly numTexts: number;
  readonly numScoredTokens: number;
  readonly meanNll: number;
  readonly perplexity: number;
  readonly chunkTokens: number;
}

export interface ChatAnswer {
  readonly model: string;
  readonly promptId: string;
  readonly text: string;
  readonly tokenIds: readonly number[];
}

/** Accuracy of one model×mode over one group of records. */
export interface AccuracyCell {
  readonly numRecords: number;
  readonly numCorrect: number;
  readonly numErrors: number;
  readonly accuracy: number;
}

/** Rows (a group key such as "wiki · test") × columns (a model×mode key "label/mode"). */
export interface AccuracyTable {
  readonly title: string;
  readonly rowLabel: string;
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  readonly cells: Readonly<Record<string, Readonly<Record<string, AccuracyCell>>>>;
}

export interface TimingRow {
  readonly model: string;
  readonly mode: EvalMode;
  readonly numRecords: number;
  readonly meanTtftMs: number;
  readonly medianTtftMs: number;
  readonly meanTokensPerSecond: number;
  readonly meanDocTokensReused: number;
  readonly meanDocTokensComputed: number;
  readonly numErrors: number;
  readonly sameAs?: EvalMode;
}

export interface Aggregates {
  readonly byDatasetSplit: AccuracyTable;
  readonly byKind: AccuracyTable;
  readonly bySlot: AccuracyTable;
  /** Over every selected record: slot → accuracy per column (for the plot). */
  readonly slotSeries: readonly { readonly column: string; readonly points: readonly { readonly slot: number; readonly accuracy: number; readonly numRecords: number }[] }[];
  readonly timing: readonly TimingRow[];
}

export interface EvalReport {
  readonly meta: {
    readonly startedAt: string;
    readonly finishedAt: string;
    readonly durationMs: number;
    readonly interrupted: boolean;
    readonly commit: string | undefined;
    readonly node: string;
    readonly data: readonly string[];
    readonly modes: readonly EvalMode[];
    readonly split: string | undefined;
    readonly limit: number | undefined;
    readonly stride: number;
    readonly maxTokens: number;
    readonly epicTokens: number;
    readonly shard?: { readonly index: number; readonly count: number };
    /** Absent in reports written before these options existed. */
    readonly documentPrefix?: "none" | "template";
    readonly adapter?: AdapterPolicy;
    readonly system: string | undefined;
    readonly numThreads: number;
    readonly numRecords: number;
    readonly models: readonly ModelInfo[];
  };
  readonly aggregates: Aggregates;
  readonly checks: {
    readonly chat?: readonly ChatAgreement[];
    readonly chatAnswers?: readonly ChatAnswer[];
    readonly perplexity?: readonly PerplexityResult[];
  };
  readonly records: readonly RecordOutcome[];
}
