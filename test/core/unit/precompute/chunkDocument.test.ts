import assert from "node:assert/strict";
import { InvalidInputError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { documentSegmentText } from "../../../../packages/core/src/link/buildPromptLayout.js";
import { chunkDocument } from "../../../../packages/core/src/precompute/chunkDocument.js";
import { createTinyTokenizer } from "../../../../packages/core/src/tokenizer/createTinyTokenizer.js";
import { HfTokenizer } from "../../../../packages/core/src/tokenizer/HfTokenizer.js";

const tiny = createTinyTokenizer({ vocabSize: 384 });
const tokenizer = HfTokenizer.fromJson(tiny.tokenizerJson, tiny.tokenizerConfig);
/** As KvLinkEngine.countTokens: the document's segment text, special-token strings kept as text. */
const countTokens = (text: string): number => tokenizer.encode(documentSegmentText(text), { specialTokens: "text" }).length;

const words = (text: string): string[] => text.split(/\s+/u).filter((w) => w !== "");
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;

function sentence(i: number): string {
  return `Sentence ${i} says the river number ${i * 7} runs past city ${i % 5} and into the sea.`;
}
function paragraph(first: number, numSentences: number): string {
  return Array.from({ length: numSentences }, (_, i) => sentence(first + i)).join(" ");
}

describe("chunkDocument", () => {
  it("returns a short text as one chunk (trimmed) and nothing for a blank text", () => {
    assert.deepEqual(chunkDocument("  hello world\n\n", { maxTokens: 64, countTokens }), [{ text: "hello world", numTokens: countTokens("hello world") }]);
    assert.deepEqual(chunkDocument(" \n\t\n", { maxTokens: 64, countTokens }), []);
  });

  it("keeps every chunk within the budget (real token counts) and every word, in order", () => {
    const text = [
      "# Rivers",
      paragraph(0, 3),
      paragraph(3, 2),
      "## Cities",
      paragraph(5, 4),
      "Setext heading\n--------------",
      paragraph(9, 1),
      paragraph(10, 6),
    ].join("\n\n");
    const maxTokens = 120;
    assert.ok(countTokens(text) > 3 * maxTokens, "the fixture is several budgets long");
    const chunks = chunkDocument(text, { maxTokens, countTokens });
    assert.ok(chunks.length > 1);
    for (const chunk of chunks) {
      assert.equal(chunk.numTokens, countTokens(chunk.text));
      assert.ok(chunk.numTokens <= maxTokens, `chunk of ${chunk.numTokens} tokens > ${maxTokens}`);
    }
    assert.deepEqual(chunks.flatMap((c) => words(c.text)), words(text));
  });

  it("packs small paragraphs together, separated by blank lines", () => {
    const paragraphs = Array.from({ length: 12 }, (_, i) => `Note ${i}: a small fact.`);
    const chunks = chunkDocument(paragraphs.join("\n\n"), { maxTokens: 100, countTokens });
    assert.ok(chunks.length >= 2 && chunks.length < paragraphs.length / 2, `${chunks.length} chunks`);
    assert.ok(chunks[0]!.text.startsWith(`${paragraphs[0]}\n\n${paragraphs[1]}`));
  });

  it("starts a section in a new chunk when it does not fit in the rest of the current one", () => {
    const a = `# Alpha\n\n${paragraph(0, 2)}`;
    const b = `# Beta\n\n${paragraph(2, 2)}`;
    const maxTokens = Math.max(countTokens(a), countTokens(b)) + 10;
    assert.ok(countTokens(`${a}\n\n${b}`) > maxTokens);
    const chunks = chunkDocument(`${a}\n\n${b}`, { maxTokens, countTokens });
    assert.deepEqual(chunks.map((c) => c.text), [a, b]);
  });

  it("splits an oversize paragraph at sentence ends", () => {
    const text = paragraph(0, 12);
    const maxTokens = countTokens(paragraph(0, 3)) + 2;
    const chunks = chunkDocument(text, { maxTokens, countTokens });
    assert.ok(chunks.length >= 4);
    for (const chunk of chunks) {
      assert.ok(chunk.numTokens <= maxTokens);
      assert.match(chunk.text, /^Sentence \d+ .*\.$/su, "each chunk holds whole sentences");
    }
    assert.equal(chunks.map((c) => c.text).join(" "), text);
  });

  it("splits text without sentence ends or spaces within the budget, never inside a surrogate pair", () => {
    const long = "abcdefghij".repeat(120);
    const chunks = chunkDocument(long, { maxTokens: 40, countTokens });
    assert.ok(chunks.length > 1);
    assert.ok(chunks.every((c) => c.numTokens <= 40));
    assert.equal(chunks.map((c) => c.text).join(""), long);

    const emoji = "😀🚀🌍".repeat(60);
    const emojiChunks = chunkDocument(emoji, { maxTokens: 30, countTokens });
    assert.ok(emojiChunks.length > 1);
    for (const chunk of emojiChunks) {
      assert.ok(chunk.numTokens <= 30);
      assert.doesNotMatch(chunk.text, LONE_SURROGATE);
    }
    assert.equal(emojiChunks.map((c) => c.text).join(""), emoji);
  });

  it("rejects a budget that is not a positive integer, or too small for one character", () => {
    assert.throws(() => chunkDocument("text", { maxTokens: 0, countTokens }), InvalidInputError);
    assert.throws(() => chunkDocument("text", { maxTokens: 2.5, countTokens }), InvalidInputError);
    // Every document costs its trailing "\n\n" too, so one token cannot hold any character.
    assert.throws(() => chunkDocument("some words here", { maxTokens: 1, countTokens }), InvalidInputError);
  });
});
