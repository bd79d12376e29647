import type {
  DocumentInput,
  GenerateRequest,
  KvLinkChatMessage as CoreChatMessage,
  KvLinkGenerationResult as CoreGenerationResult,
  LinkMode,
  PrecomputeResult,
  SamplingInput,
} from "@kvlink/core";

/**
 * The part of KvLinkEngine (@kvlink/core) the adapter calls, stated structurally so that any object with these
 * members works: the real engine, or a fake one in unit tests. Data flows from LangChain into `generate` and
 * `precompute` (text and documents) and back out as streamed text plus per-call KV-reuse statistics.
 */
export interface KvLinkEngineLike {
  /** Streams one answer; `result()` resolves with the text, finish reason and statistics. */
  generate(request: KvLinkGenerateRequest): KvLinkGenerationStream;
  /** Computes (or finds) the KV caches of documents so that a later `generate` reuses them. */
  precompute(documents: readonly (string | KvLinkDocumentInput)[], options?: { signal?: AbortSignal }): Promise<readonly KvLinkPrecomputeResult[]>;
  /** The cache key a document text maps to (deterministic, position-free). */
  documentKey(text: string): string;
}

/** Text pieces as they are generated; `result()` resolves once generation has finished. */
export interface KvLinkGenerationStream extends AsyncIterable<string> {
  result(): Promise<KvLinkGenerationResult>;
}

export type KvLinkGenerateRequest = GenerateRequest;
export type KvLinkGenerationResult = CoreGenerationResult;
export type KvLinkChatMessage = CoreChatMessage;
export type KvLinkChatRole = CoreChatMessage["role"];
export type KvLinkDocumentInput = DocumentInput;
export type KvLinkPrecomputeResult = PrecomputeResult;
/** How a prompt is assembled from cached documents: "kvlink", "rerotate", "naive" or "full" (no reuse). */
export type KvLinkMode = LinkMode;
/** Sampling knobs; absent fields take the engine's defaults (stop sequences are handled separately). */
export type KvLinkSamplingOptions = Omit<SamplingInput, "stop">;
