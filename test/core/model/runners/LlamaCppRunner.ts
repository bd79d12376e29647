import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaModel, type Token } from "node-llama-cpp";
import type { GreedyResult, GreedyRunner } from "./GreedyRunner.js";

/**
 * llama.cpp through node-llama-cpp's prebuilt CPU binary, on the GGUF itself: greedy (temperature 0) over a
 * fresh context sequence, fed the same prompt token ids (end-of-generation tokens are yielded, not stopped at). llama.cpp quantizes activations (q8) for its
 * quantized matmuls, so its tokens may diverge from an fp32-activation runtime near ties.
 */
export class LlamaCppRunner implements GreedyRunner {
  readonly name: string;
  readonly llama: Llama;
  readonly model: LlamaModel;
  readonly #numThreads: number;
  readonly #contextSize: number;

  private constructor(name: string, llama: Llama, model: LlamaModel, numThreads: number, contextSize: number) {
    this.name = name;
    this.llama = llama;
    this.model = model;
    this.#numThreads = numThreads;
    this.#contextSize = contextSize;
  }

  static async create(name: string, ggufPath: string, options: { numThreads: number; contextSize?: number }): Promise<LlamaCppRunner> {
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    try {
      const model = await llama.loadModel({ modelPath: ggufPath });
      return new LlamaCppRunner(name, llama, model, options.numThreads, options.contextSize ?? 1024);
    } catch (error) {
      await llama.dispose();
      throw error;
    }
  }

  /** llama.cpp's tokenization; `specialTokens` false encodes special-token strings as plain text. */
  tokenize(text: string, specialTokens: boolean): number[] {
    return this.model.tokenize(text, specialTokens).map(Number);
  }

  async greedy(promptIds: readonly number[], numNewTokens: number): Promise<GreedyResult> {
    const context: LlamaContext = await this.model.createContext({
      contextSize: this.#contextSize,
      threads: this.#numThreads,
      sequences: 1,
    });
    try {
      const sequence = context.getSequence();
      const tokenIds: number[] = [];
      const times: number[] = [];
      const t0 = performance.now();
      for await (const token of sequence.evaluate(promptIds as Token[], { temperature: 0, yieldEogToken: true })) {
        tokenIds.push(Number(token));
        times.push(performance.now());
        if (tokenIds.length >= numNewTokens) break;
      }
      const first = times[0] ?? t0;
      return { tokenIds, prefillMs: first - t0, decodeMs: (times.at(-1) ?? first) - first };
    } finally {
      await context.dispose();
    }
  }

  #disposing: Promise<void> | undefined;
  /** Frees the model and the backend. Idempotent. */
  dispose(): Promise<void> {
    this.#disposing ??= (async () => {
      await this.model.dispose();
      await this.llama.dispose();
    })();
    return this.#disposing;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
