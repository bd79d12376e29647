import assert from "node:assert/strict";
import { InvalidInputError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { StopCondition, type StopStep } from "../../../../packages/core/src/generate/StopCondition.js";

/** Streams `pieces` (token id = index + 10) and returns the emitted text per step, the tail and the last step. */
function stream(condition: StopCondition, pieces: readonly string[]) {
  const emitted: string[] = [];
  let last: StopStep | undefined;
  for (const [i, piece] of pieces.entries()) {
    last = condition.push(10 + i, piece);
    emitted.push(last.text);
    if (last.finished) break;
  }
  const tail = condition.flush();
  return { emitted, tail, last, text: emitted.join("") + tail };
}

describe("StopCondition", () => {
  it("stops on an EOS id and drops its text", () => {
    const c = new StopCondition({ eosTokenIds: [2], maxTokens: 10 });
    assert.deepEqual(c.push(5, "Hello"), { text: "Hello" });
    assert.deepEqual(c.push(2, "<|im_end|>"), { text: "", finished: { reason: "eos" } });
    assert.equal(c.flush(), "");
    assert.throws(() => c.push(5, "more"), InvalidInputError);
  });

  it("stops at maxTokens (the last token's text is still delivered)", () => {
    const c = new StopCondition({ eosTokenIds: [], maxTokens: 2 });
    assert.deepEqual(c.push(5, "a"), { text: "a" });
    assert.deepEqual(c.push(6, "b"), { text: "b", finished: { reason: "maxTokens" } });
    assert.equal(c.numTokens, 2);
  });

  it("finds a stop string split across tokens and never shows any part of it", () => {
    const c = new StopCondition({ eosTokenIds: [], maxTokens: 50, stop: ["</answer>"] });
    const r = stream(c, ["The ans", "wer is 4", "2<", "/ans", "wer> trailing"]);
    assert.equal(r.text, "The answer is 42");
    assert.deepEqual(r.last?.finished, { reason: "stopString", stopString: "</answer>" });
    for (const piece of r.emitted) assert.ok(!piece.includes("<"), `emitted ${JSON.stringify(piece)} shows a stop prefix`);
    assert.deepEqual(r.emitted, ["The ans", "wer is 4", "2", "", ""]);
  });

  it("releases held text when the would-be stop string diverges", () => {
    const c = new StopCondition({ eosTokenIds: [], maxTokens: 50, stop: ["\n\nUser:"] });
    const r = stream(c, ["Hi", "\n", "\nUs", "e", "d it."]);
    assert.deepEqual(r.emitted, ["Hi", "", "", "", "\n\nUsed it."]);
    assert.equal(r.text, "Hi\n\nUsed it.");
    assert.equal(r.last?.finished, undefined);
  });

  it("holds the longest possible prefix (overlapping stop strings) and picks the earliest match", () => {
    const c = new StopCondition({ eosTokenIds: [], maxTokens: 50, stop: ["aab", "ab"] });
    assert.deepEqual(c.push(1, "xa"), { text: "x" });
    assert.deepEqual(c.push(2, "a"), { text: "" });
    assert.deepEqual(c.push(3, "b!"), { text: "", finished: { reason: "stopString", stopString: "aab" } });
  });

  it("flush releases held text at the end, cut before a stop string completed by the decoder's tail", () => {
    const a = new StopCondition({ eosTokenIds: [], maxTokens: 2, stop: ["END"] });
    a.push(1, "x E");
    const step = a.push(2, "N");
    assert.deepEqual(step, { text: "", finished: { reason: "maxTokens" } });
    assert.equal(a.flush(), "EN");
    const b = new StopCondition({ eosTokenIds: [], maxTokens: 1, stop: ["END"] });
    b.push(1, "ok EN");
    assert.equal(b.flush("D tail"), "");
    assert.equal(b.finished?.reason, "stopString");
  });

  it("rejects bad options", () => {
    assert.throws(() => new StopCondition({ eosTokenIds: [], maxTokens: 0 }), InvalidInputError);
    assert.throws(() => new StopCondition({ eosTokenIds: [], maxTokens: 1, stop: [""] }), InvalidInputError);
  });
});
