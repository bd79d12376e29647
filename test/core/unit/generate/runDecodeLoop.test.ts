import assert from "node:assert/strict";
import { runDecodeLoop, type DecodeLoopInput } from "../../../../packages/core/src/generate/runDecodeLoop.js";
import { parseSamplingOptions } from "../../../../packages/core/src/generate/SamplingOptionsSchema.js";

/** Ids 0 (EOS) and 1 (a chat marker) are special; id n ≥ 2 decodes to the letter ("a" + n − 2). */
const tokenizer: DecodeLoopInput["tokenizer"] = {
  eosTokenIds: [0],
  specialTokenIds: new Set([0, 1]),
  decode: (ids: readonly number[], options?: { skipSpecialTokens?: boolean }) =>
    ids
      .filter((id) => !(options?.skipSpecialTokens && id <= 1))
      .map((id) => (id === 0 ? "<eos>" : id === 1 ? "<m>" : String.fromCharCode(95 + id)))
      .join(""),
};
const VOCAB = 8;
/** Logits whose argmax is `id`. */
const peak = (id: number): Float32Array => {
  const logits = new Float32Array(VOCAB);
  logits[id] = 10;
  return logits;
};

/** Greedy over a scripted sequence of argmax ids: the first from firstLogits, then one per forward call. */
async function run(script: readonly number[], options: { positionsLeft?: number; maxTokens?: number; stop?: string[] } = {}) {
  const fed: number[] = [];
  const pieces: string[] = [];
  const result = await runDecodeLoop({
    tokenizer,
    sampling: parseSamplingOptions({ greedy: true, maxTokens: options.maxTokens ?? 16, ...(options.stop && { stop: options.stop }) }),
    firstLogits: peak(script[0]!),
    promptIds: [2, 3],
    positionsLeft: options.positionsLeft ?? 100,
    forward: async (id) => {
      fed.push(id);
      return peak(script[fed.length] ?? 0);
    },
    emit: (p) => pieces.push(p),
  });
  return { result, fed, pieces };
}

describe("runDecodeLoop (the one decode loop of DecoderModel.generate and KvLinkEngine.generate)", () => {
  it("stops on EOS (fed back: every token but the last), never decoding special tokens to text", async () => {
    const { result, fed, pieces } = await run([2, 1, 3, 0]);
    assert.deepEqual(result.tokenIds, [2, 1, 3, 0]);
    assert.deepEqual(fed, [2, 1, 3]);
    assert.equal(result.finishReason, "eos");
    assert.equal(result.text, "ab");
    assert.equal(pieces.join(""), result.text);
  });

  it("reports contextFull when no position is left, and maxTokens at the budget", async () => {
    const full = await run([2, 3, 4, 5], { positionsLeft: 2 });
    assert.equal(full.result.finishReason, "contextFull");
    assert.deepEqual(full.result.tokenIds, [2, 3, 4]);
    assert.equal(full.fed.length, 2);
    const budget = await run([2, 3, 4, 5, 6], { maxTokens: 3 });
    assert.equal(budget.result.finishReason, "maxTokens");
    assert.equal(budget.result.tokenIds.length, 3);
  });

  it("ends before a stop string, which is never emitted", async () => {
    const { result } = await run([2, 3, 4, 5, 6], { stop: ["cd"] });
    assert.equal(result.finishReason, "stopString");
    assert.equal(result.text, "ab");
  });

  it("counts tokens per second over the decode only (tokens after the first), 0 with one token", async () => {
    const one = await run([0]);
    assert.equal(one.result.tokensPerSecond, 0);
    const many = await run([2, 3, 4, 0]);
    assert.ok(many.result.decodeMs >= 0);
    assert.ok(Math.abs(many.result.tokensPerSecond - (3 * 1000) / Math.max(many.result.decodeMs, 1e-6)) < 1e-6);
  });
});
