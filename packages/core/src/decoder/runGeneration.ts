import { parseSamplingOptions, type SamplingOptionsInput } from "../generate/SamplingOptionsSchema.js";
import type { LogitsConstraint } from "../generate/LogitsConstraint.js";
import { Sampler } from "../generate/Sampler.js";
import { StopCondition } from "../generate/StopCondition.js";
import type { ModelSpec } from "../model/ModelSpec.js";
import { IncrementalDecoder } from "../tokenizer/IncrementalDecoder.js";
import type { Tokenizer } from "../tokenizer/Tokenizer.js";
import type { DecoderSequence } from "./DecoderSequence.js";
import type { FinishReason, GenerationResult } from "./GenerationStream.js";

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
 * The decode loop over one fresh sequence: prefill the prompt (logits of the last token only), then sample,
 * stream the text StopCondition releases, and feed each token back with the KV cache, until EOS, a stop
 * string, maxTokens or a full context. Checks the signal before every forward pass.
 */
export async function runGeneration(
  sequence: DecoderSequence,
  spec: ModelSpec,
  tokenizer: Tokenizer,
  plan: GenerationPlan,
  emit: (piece: string) => void,
): Promise<GenerationResult> {
  const options = parseSamplingOptions(plan.sampling);
  const sampler = new Sampler(plan.sampling, { constraint: plan.constraint });
  const stop = new StopCondition({ eosTokenIds: tokenizer.eosTokenIds, maxTokens: options.maxTokens, stop: options.stop });
  const decoder = new IncrementalDecoder(tokenizer, { skipSpecialTokens: true });
  const history = [...plan.promptIds];
  const generated: number[] = [];
  let text = "";
  const push = (piece: string): void => {
    text += piece;
    emit(piece);
  };

  plan.signal?.throwIfAborted();
  let out = await sequence.forward({ inputIds: plan.promptIds, numLogitsToKeep: 1 });
  let ttftMs = 0;
  let finishReason: FinishReason;
  for (;;) {
    plan.signal?.throwIfAborted();
    const id = sampler.sample(out.logits, history);
    if (generated.length === 0) ttftMs = performance.now() - plan.startedAt;
    generated.push(id);
    history.push(id);
    const step = stop.push(id, decoder.push(id));
    push(step.text);
    if (step.finished !== undefined) {
      finishReason = step.finished.reason;
      break;
    }
    if (sequence.lastPosition + 1 >= spec.maxPositionEmbeddings) {
      finishReason = "contextFull";
      break;
    }
    out = await sequence.forward({ inputIds: [id], numLogitsToKeep: 1 });
  }
  push(stop.flush(decoder.flush()));
  if (stop.finished?.reason === "stopString") finishReason = "stopString";

  const totalMs = performance.now() - plan.startedAt;
  return {
    text,
    tokenIds: generated,
    finishReason,
    stats: {
      ttftMs,
      totalMs,
      numPromptTokens: plan.promptIds.length,
      numGeneratedTokens: generated.length,
      tokensPerSecond: totalMs > 0 ? (generated.length * 1000) / totalMs : 0,
    },
  };
}
