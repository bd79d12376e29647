import type { Tokenizer } from "../tokenizer/Tokenizer.js";
import { IncrementalDecoder } from "../tokenizer/IncrementalDecoder.js";
import type { LogitsConstraint } from "./LogitsConstraint.js";
import { Sampler } from "./Sampler.js";
import type { SamplingOptions } from "./SamplingOptionsSchema.js";
import { StopCondition, type StopReason } from "./StopCondition.js";

/** Why a decode loop ended: the StopCondition's reasons, or no position left in the context window. */
export type DecodeFinishReason = StopReason | "contextFull";

export interface DecodeLoopInput {
  readonly tokenizer: Pick<Tokenizer, "eosTokenIds" | "specialTokenIds" | "decode">;
  readonly sampling: SamplingOptions;
  /** Next-token logits after the prompt (the prefill's last row), [vocabSize]. */
  readonly firstLogits: Float32Array;
  /** Token ids before the first generated one (repetition penalty). */
  readonly promptIds: readonly number[];
  /** How many more tokens the context can take after the prompt; the loop stops with "contextFull" at 0. */
  readonly positionsLeft: number;
  /** Feeds one generated token and returns the logits of the next one. */
  readonly forward: (tokenId: number) => Promise<Float32Array>;
  readonly emit: (piece: string) => void;
  readonly signal?: AbortSignal;
  /** Constrained decoding (e.g. a JSON schema): masks each step's logits before sampling (Sampler). */
  readonly constraint?: LogitsConstraint;
}

export interface DecodeLoopResult {
  /** Everything emitted, concatenated. */
  readonly text: string;
  /** The generated ids (an EOS id included when generation stopped on it). */
  readonly tokenIds: readonly number[];
  readonly finishReason: DecodeFinishReason;
  /** performance.now() when the first token was sampled. */
  readonly firstTokenAt: number;
  /** From the first sampled token to the end. */
  readonly decodeMs: number;
  /** Tokens after the first, per second of decodeMs (prefill excluded); 0 with fewer than two tokens. */
  readonly tokensPerSecond: number;
}

/**
 * The one decode loop (DecoderModel.generate and KvLinkEngine.generate both run it): from the prompt's logits,
 * sample, stream the text StopCondition releases, feed the token back, until EOS, a stop string, maxTokens or a
 * full context. Special tokens (EOS, chat markers) are never decoded to text. Checks the signal before every
 * sample and forward pass.
 */
export async function runDecodeLoop(input: DecodeLoopInput): Promise<DecodeLoopResult> {
  const { tokenizer, sampling, signal } = input;
  const sampler = new Sampler(sampling, { constraint: input.constraint });
  const stop = new StopCondition({ eosTokenIds: tokenizer.eosTokenIds, maxTokens: sampling.maxTokens, stop: sampling.stop });
  const decoder = new IncrementalDecoder(tokenizer, { skipSpecialTokens: true });
  const history = [...input.promptIds];
  const generated: number[] = [];
  let text = "";
  const emit = (piece: string): void => {
    if (piece.length === 0) return;
    text += piece;
    input.emit(piece);
  };

  let logits = input.firstLogits;
  let positionsLeft = input.positionsLeft;
  let firstTokenAt = 0;
  let finishReason: DecodeFinishReason;
  for (;;) {
    signal?.throwIfAborted();
    // The sampler runs here, once per generated token, on that step's logits: the place for a per-step logits
    // constraint (e.g. schema-constrained decoding), which then sees every token whatever the forward pass is.
    const id = sampler.sample(logits, history);
    if (generated.length === 0) firstTokenAt = performance.now();
    generated.push(id);
    history.push(id);
    const step = stop.push(id, tokenizer.specialTokenIds.has(id) ? "" : decoder.push(id));
    emit(step.text);
    if (step.finished !== undefined) {
      finishReason = step.finished.reason;
      break;
    }
    if (positionsLeft <= 0) {
      finishReason = "contextFull";
      break;
    }
    signal?.throwIfAborted();
    logits = await input.forward(id);
    positionsLeft--;
  }
  emit(stop.flush(decoder.flush()));
  if (stop.finished?.reason === "stopString") finishReason = "stopString";
  const decodeMs = performance.now() - firstTokenAt;
  return {
    text,
    tokenIds: generated,
    finishReason,
    firstTokenAt,
    decodeMs,
    tokensPerSecond: generated.length > 1 ? ((generated.length - 1) * 1000) / Math.max(decodeMs, 1e-6) : 0,
  };
}
