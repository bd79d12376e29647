import { AutoModelForCausalLM, BaseStreamer, env, Tensor, type PreTrainedModel } from "@huggingface/transformers";
import type { GreedyResult, GreedyRunner } from "./GreedyRunner.js";

/** Timestamps generate()'s calls: the first put() is the prompt, each later one a new token. */
class TimingStreamer extends BaseStreamer {
  readonly tokenTimes: number[] = [];
  #sawPrompt = false;
  override put(_value: bigint[][]): void {
    if (this.#sawPrompt) this.tokenTimes.push(performance.now());
    this.#sawPrompt = true;
  }
  override end(): void {}
}

/**
 * @huggingface/transformers' own generate() over a standard-signature model folder, offline, on the CPU.
 * dtype "fp32" selects onnx/model.onnx (transformers.js picks the file by name; a q4 graph with MatMulNBits
 * still has fp32 I/O).
 */
export class TransformersJsRunner implements GreedyRunner {
  readonly name: string;
  readonly model: PreTrainedModel;

  private constructor(name: string, model: PreTrainedModel) {
    this.name = name;
    this.model = model;
  }

  static async create(name: string, dir: string, options: { numThreads: number }): Promise<TransformersJsRunner> {
    env.allowRemoteModels = false;
    const model = await AutoModelForCausalLM.from_pretrained(dir, {
      dtype: "fp32",
      device: "cpu",
      session_options: { intraOpNumThreads: options.numThreads, interOpNumThreads: 1 },
    });
    return new TransformersJsRunner(name, model);
  }

  /** The ONNX session's input names, to show which graph transformers.js runs. */
  get inputNames(): readonly string[] {
    const sessions = (this.model as unknown as { sessions: Record<string, { inputNames: string[] }> }).sessions;
    return sessions["model"]?.inputNames ?? [];
  }

  async greedy(promptIds: readonly number[], numNewTokens: number): Promise<GreedyResult> {
    const n = promptIds.length;
    const input_ids = new Tensor("int64", BigInt64Array.from(promptIds, BigInt), [1, n]);
    const attention_mask = new Tensor("int64", new BigInt64Array(n).fill(1n), [1, n]);
    const streamer = new TimingStreamer();
    const t0 = performance.now();
    // eos_token_id null: no end-of-sequence stopping criterion, so exactly numNewTokens tokens come out.
    const output = (await this.model.generate({
      input_ids,
      attention_mask,
      max_new_tokens: numNewTokens,
      do_sample: false,
      eos_token_id: null,
      streamer,
    } as unknown as Parameters<PreTrainedModel["generate"]>[0])) as Tensor;
    const tEnd = performance.now();
    const all = Array.from(output.data as BigInt64Array, Number);
    const tokenIds = all.slice(n);
    const first = streamer.tokenTimes[0] ?? tEnd;
    return { tokenIds, prefillMs: first - t0, decodeMs: (streamer.tokenTimes.at(-1) ?? tEnd) - first };
  }

  #disposing: Promise<void> | undefined;
  /** Frees the ONNX sessions. Idempotent. */
  dispose(): Promise<void> {
    this.#disposing ??= this.model.dispose().then(() => undefined);
    return this.#disposing;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
