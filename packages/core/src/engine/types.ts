import type { ResponseFormatInput } from "../generate/constrain/responseFormat.js";
import type { LinkMode } from "../link/LinkPlan.js";

/** A document to cache: text, plus an optional caller id (used only for reporting). */
export interface DocumentInput {
  readonly id?: string;
  readonly text: string;
}

export type ChatRole = "system" | "user" | "assistant" | "tool";

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

/** Sampling knobs (see generate/SamplingOptionsSchema for defaults and bounds). */
export interface SamplingInput {
  readonly maxTokens?: number;
  readonly greedy?: boolean;
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed?: number;
  readonly repetitionPenalty?: number;
  /** Generation stops before any of these strings; they never appear in the output. */
  readonly stop?: readonly string[];
}

/**
 * One question over cached documents. Give either `question` (one user turn, with `system` optional) or
 * `messages` (a whole conversation): the documents are placed, as cached segments, at the start of the last
 * user message's content, where the chat template puts user content.
 */
export interface GenerateRequest extends SamplingInput {
  readonly system?: string;
  readonly documents?: readonly (string | DocumentInput)[];
  readonly question?: string;
  readonly messages?: readonly ChatMessage[];
  /** Default "kvlink" (which falls back to "rerotate" behaviour for a model without link tokens). */
  readonly mode?: LinkMode;
  /** Recompute the first n tokens of each document fresh (EPIC-style quality knob). Default 0. */
  readonly recomputePrefixTokens?: number;
  /** false: lay out raw text (system, documents, question) without the chat template. Default true. */
  readonly useChatTemplate?: boolean;
  /** Extra variables for the chat template (e.g. tools). */
  readonly templateVariables?: Readonly<Record<string, unknown>>;
  /**
   * Constrains the answer: `{type: "json_schema", schema}`, `{type: "json_object"}`, or tool calls
   * (`{type: "tool_calls", tools, choice}`); sampling is masked to tokens that keep the output valid. Default text.
   */
  readonly responseFormat?: ResponseFormatInput;
  readonly signal?: AbortSignal;
}

export interface PhaseTimings {
  /** Tokenizing the prompt and documents. */
  readonly tokenizeMs: number;
  /** Finding document caches (memory, store) and computing the missing ones. */
  readonly documentsMs: number;
  /** Placing caches in the sequence (copies and re-rotation). */
  readonly linkMs: number;
  /** The prefill of the fresh tokens (or the whole prompt in `full` mode) up to the first token. */
  readonly prefillMs: number;
  /** Everything after the first token. */
  readonly decodeMs: number;
}

export interface GenerationStats {
  readonly mode: LinkMode;
  readonly ttftMs: number;
  /** Document tokens whose KV came from a cache. */
  readonly docTokensReused: number;
  /** Document tokens computed for this call (cache misses, full mode, recomputed prefixes). */
  readonly docTokensComputed: number;
  /** Tokens computed fresh in the prefill: prompt, link tokens, markers, recomputed prefixes. */
  readonly freshTokens: number;
  readonly promptPositions: number;
  readonly numGeneratedTokens: number;
  readonly tokensPerSecond: number;
  readonly phases: PhaseTimings;
}

/** "stop": end of text or a stop string; "length": maxTokens or the context window. An abort rejects instead. */
export type FinishReason = "stop" | "length";

export interface GenerationResult {
  readonly text: string;
  readonly tokenIds: readonly number[];
  readonly finishReason: FinishReason;
  readonly stats: GenerationStats;
}


export interface PrecomputeResult {
  readonly key: string;
  readonly numTokens: number;
  readonly source: "memory" | "store" | "computed";
}
