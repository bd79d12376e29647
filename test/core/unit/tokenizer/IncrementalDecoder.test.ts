import assert from "node:assert/strict";
import { createTinyTokenizer } from "../../../../packages/core/src/tokenizer/createTinyTokenizer.js";
import { HfTokenizer } from "../../../../packages/core/src/tokenizer/HfTokenizer.js";
import { IncrementalDecoder } from "../../../../packages/core/src/tokenizer/IncrementalDecoder.js";

describe("IncrementalDecoder", () => {
  const tiny = createTinyTokenizer({ vocabSize: 384 });
  const tok = HfTokenizer.fromJson(tiny.tokenizerJson, tiny.tokenizerConfig);
  const text = "Snow in 日本 🎉👍🏽 — café. The end";
  const ids = tok.encode(text, { specialTokens: "text" });

  it("emits pieces, one token at a time, that concatenate to the full text and never hold U+FFFD", () => {
    const decoder = new IncrementalDecoder(tok);
    const pieces = ids.map((id) => decoder.push(id));
    pieces.push(decoder.flush());
    for (const piece of pieces) assert.ok(!piece.includes("\uFFFD"), `piece ${JSON.stringify(piece)} splits a character`);
    assert.equal(pieces.join(""), text);
    // Multi-byte characters span several byte-level tokens here, so some pushes must have been held back.
    assert.ok(pieces.some((p) => p === ""), "expected a held-back piece");
    assert.deepEqual(decoder.ids, ids);
  });

  it("holds an incomplete character until the token that completes it", () => {
    const emoji = tok.encode("🎉", { specialTokens: "text" });
    assert.ok(emoji.length > 1, "the test needs a character spread over several tokens");
    const decoder = new IncrementalDecoder(tok);
    for (const id of emoji.slice(0, -1)) assert.equal(decoder.push(id), "");
    assert.equal(decoder.push(emoji[emoji.length - 1] as number), "🎉");
    assert.equal(decoder.flush(), "");
  });

  it("flush returns what is held back, even an incomplete character", () => {
    const emoji = tok.encode("🎉", { specialTokens: "text" });
    const decoder = new IncrementalDecoder(tok);
    decoder.push(emoji.slice(0, 1));
    assert.equal(decoder.flush(), "\uFFFD");
  });

  it("skips special tokens when asked and accepts batches", () => {
    const withSpecial = tok.encode("Hi<|im_end|> there", { specialTokens: "parse" });
    const decoder = new IncrementalDecoder(tok, { skipSpecialTokens: true });
    const out = decoder.push(withSpecial) + decoder.flush();
    assert.equal(out, "Hi there");
  });
});
