import type { DecodeFinishReason } from "../generate/runDecodeLoop.js";

/** Why generation ended: the StopCondition's reasons, or the context window filled up. */
export type FinishReason = DecodeFinishReason;

export interface GenerationStats {
  /** From the generate() call to the first sampled token (tokenization and prefill included). */
  readonly ttftMs: number;
  readonly totalMs: number;
  readonly numPromptTokens: number;
  readonly numGeneratedTokens: number;
  /** Generated tokens after the first per second of decode time (prefill excluded, as KvLinkEngine reports it). */
  readonly tokensPerSecond: number;
}

export interface GenerationResult {
  /** Everything streamed, concatenated. */
  readonly text: string;
  /** The generated ids (an EOS id included when generation stopped on it). */
  readonly tokenIds: readonly number[];
  readonly finishReason: FinishReason;
  readonly stats: GenerationStats;
}

/**
 * Text pieces as they are generated, plus the final result. The producer runs eagerly, so `result()` works
 * without iterating; pieces wait in a queue for the (single) consumer. Errors (including an abort, as the
 * signal's reason) reject both the iteration and `result()`.
 */
export class GenerationStream<R = GenerationResult> implements AsyncIterable<string> {
  readonly #pieces: string[] = [];
  readonly #result: Promise<R>;
  #wake: (() => void) | undefined;
  #done = false;
  #failed = false;
  #error: unknown;

  readonly #cancel = new AbortController();

  /**
   * `produce` receives `emit` and a `cancelled` signal that fires when the consumer stops iterating early
   * (`break` out of for-await): the producer should stop, so no compute is spent on text nobody reads.
   */
  constructor(produce: (emit: (piece: string) => void, cancelled: AbortSignal) => Promise<R>) {
    this.#result = (async () => {
      try {
        return await produce((piece) => {
          if (piece.length === 0) return;
          this.#pieces.push(piece);
          this.#notify();
        }, this.#cancel.signal);
      } catch (error) {
        this.#failed = true;
        this.#error = error;
        throw error;
      } finally {
        this.#done = true;
        this.#notify();
      }
    })();
    // Reported through iteration or result(), never as an unhandled rejection.
    this.#result.catch(() => {});
  }

  result(): Promise<R> {
    return this.#result;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    try {
      yield* this.#drain();
    } finally {
      // Reached early only when the consumer stopped reading: cancel the producer.
      if (!this.#done) this.#cancel.abort(new DOMException("the stream's consumer stopped reading", "AbortError"));
    }
  }

  async *#drain(): AsyncGenerator<string> {
    for (;;) {
      const piece = this.#pieces.shift();
      if (piece !== undefined) {
        yield piece;
        continue;
      }
      if (this.#done) {
        if (this.#failed) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
