import type { UsageMetadata } from "@langchain/core/messages";
import type { KvLinkGenerationResult, KvLinkMode } from "./engine.js";

/** Per-call KV-reuse report, found at `response_metadata.kvlink` (chat) or `generationInfo.kvlink` (LLM). */
export interface KVLinkCallMetadata {
  readonly mode: KvLinkMode;
  /** Time to first token, from the engine. */
  readonly ttftMs: number;
  /** Document tokens whose KV came from a cache. */
  readonly docTokensReused: number;
  /** Document tokens computed for this call (cache misses, full mode, recomputed prefixes). */
  readonly docTokensComputed: number;
  /** Tokens computed fresh in the prefill: prompt, link tokens, markers. */
  readonly freshTokens: number;
  readonly promptPositions: number;
  readonly numGeneratedTokens: number;
  readonly tokensPerSecond: number;
  readonly finishReason: KvLinkGenerationResult["finishReason"];
  /** Cache key of each document of the call, in order. */
  readonly documentKeys: readonly string[];
}

export function toKVLinkMetadata(result: KvLinkGenerationResult, documentKeys: readonly string[]): KVLinkCallMetadata {
  const { stats } = result;
  return {
    mode: stats.mode,
    ttftMs: stats.ttftMs,
    docTokensReused: stats.docTokensReused,
    docTokensComputed: stats.docTokensComputed,
    freshTokens: stats.freshTokens,
    promptPositions: stats.promptPositions,
    numGeneratedTokens: stats.numGeneratedTokens,
    tokensPerSecond: stats.tokensPerSecond,
    finishReason: result.finishReason,
    documentKeys: [...documentKeys],
  };
}

/** LangChain usage: every prompt position is an input token; reused document tokens count as cache reads. */
export function toUsageMetadata(result: KvLinkGenerationResult): UsageMetadata {
  const { stats } = result;
  return {
    input_tokens: stats.promptPositions,
    output_tokens: stats.numGeneratedTokens,
    total_tokens: stats.promptPositions + stats.numGeneratedTokens,
    input_token_details: { cache_read: stats.docTokensReused, cache_creation: stats.docTokensComputed },
  };
}
