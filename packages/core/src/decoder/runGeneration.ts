import { runDecodeLoop } from "../generate/runDecodeLoop.js";
import { parseSamplingOptions, type SamplingOptionsInput } from "../generate/SamplingOptionsSchema.js";
import type { LogitsConstraint } from "../generate/LogitsConstraint.js";
import type { ModelSpec } from "../model/ModelSpec.js";
import type { Tokenizer } from "../tokenizer/Tokenizer.js";
import type { DecoderSequence } from "./DecoderSequence.js";
import type { GenerationResult } from "./GenerationStream.js";

export interface GenerationPlan {
  readonly promptIds: readonly number[];
  readonly sampling: SamplingOptionsInput;
  readonly signal?: AbortSignal;
  /** Constrained decoding (e.g. a JSON schema), if any. */
  readonly constraint?: LogitsConstraint | undefined;
  /** When the caller's generate() started (ttft counts from here). */
  readonly startedAt: number;
}

/**
 * Generation over one fresh sequence: prefill the prompt (logits of the last token only), then the shared
 * decode loop (generate/runDecodeLoop.ts) feeding each token back with the KV cache.
 */
export async function runGeneration(
  sequence: DecoderSequence,
  spec: ModelSpec,
  tokenizer: Tokenizer,
  plan: GenerationPlan,
  emit: (piece: string) => void,
): Promise<GenerationResult> {
  const sampling = parseSamplingOptions(plan.sampling);
  plan.signal?.throwIfAborted();
  const first = await sequence.forward({ inputIds: plan.promptIds, numLogitsToKeep: 1 });
  const loop = await runDecodeLoop({
    tokenizer,
    sampling,
    firstLogits: first.logits,
    promptIds: plan.promptIds,
    positionsLeft: spec.maxPositionEmbeddings - (sequence.lastPosition + 1),
    forward: async (id) => (await sequence.forward({ inputIds: [id], numLogitsToKeep: 1 })).logits,
    emit,
    ...(plan.signal !== undefined && { signal: plan.signal }),
    ...(plan.constraint !== undefined && { constraint: plan.constraint }),
  });
  const totalMs = performance.now() - plan.startedAt;
  return {
    text: loop.text,
    tokenIds: loop.tokenIds,
    finishReason: loop.finishReason,
    stats: {
      ttftMs: loop.firstTokenAt - plan.startedAt,
      totalMs,
      numPromptTokens: plan.promptIds.length,
      numGeneratedTokens: loop.tokenIds.length,
      tokensPerSecond: loop.tokensPerSecond,
    },
  };
}
