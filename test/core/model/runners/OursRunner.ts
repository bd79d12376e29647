import { DecoderModel } from "../../../../packages/core/src/decoder/DecoderModel.js";
import { argmaxRow, type GreedyResult, type GreedyRunner } from "./GreedyRunner.js";

/** Our runtime (worker thread by default) over a model folder of either signature. */
export class OursRunner implements GreedyRunner {
  readonly name: string;
  readonly model: DecoderModel;

  private constructor(name: string, model: DecoderModel) {
    this.name = name;
    this.model = model;
  }

  static async create(name: string, dir: string, options: { numThreads: number }): Promise<OursRunner> {
    return new OursRunner(name, await DecoderModel.load(dir, { numThreads: options.numThreads }));
  }

  async greedy(promptIds: readonly number[], numNewTokens: number): Promise<GreedyResult> {
    await using sequence = await this.model.createSequence();
    const t0 = performance.now();
    let out = await sequence.forward({ inputIds: promptIds, numLogitsToKeep: 1 });
    const tokenIds = [argmaxRow(out.logits, out.vocabSize)];
    const t1 = performance.now();
    while (tokenIds.length < numNewTokens) {
      out = await sequence.forward({ inputIds: [tokenIds.at(-1)!], numLogitsToKeep: 1 });
      tokenIds.push(argmaxRow(out.logits, out.vocabSize));
    }
    return { tokenIds, prefillMs: t1 - t0, decodeMs: performance.now() - t1 };
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
