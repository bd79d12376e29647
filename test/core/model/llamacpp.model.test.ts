import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { renderChatTemplate } from "../../../packages/core/src/tokenizer/chatTemplate.js";
import { HfTokenizer } from "../../../packages/core/src/tokenizer/HfTokenizer.js";
import { ensureDefaultGguf } from "../../support/defaultModelFiles.js";
import { ACCEPTANCE_PROMPTS } from "../../fixtures/acceptancePrompts.js";
import { makeMixedText, MIXED_TEXT_FILE } from "../../fixtures/makeMixedText.js";
import { LlamaCppRunner } from "./runners/LlamaCppRunner.js";

const NUM_NEW_TOKENS = 32;

describe("test/fixtures/mixed-10k.txt", () => {
  it("is what makeMixedText.ts generates, about 10k code points", () => {
    const text = readFileSync(MIXED_TEXT_FILE, "utf8");
    assert.equal(text, makeMixedText());
    const numCodePoints = [...text].length;
    assert.ok(numCodePoints >= 10_000 && numCodePoints < 10_500, `${numCodePoints} code points`);
  });
});

/**
 * Independent implementation: llama.cpp (node-llama-cpp's prebuilt CPU binary) on the GGUF itself. Our
 * tokenizer (rebuilt from the GGUF's vocabulary) must give llama.cpp's ids; greedy continuations are compared
 * side by side by benchmarks/core/compareImplementations.ts, since llama.cpp quantizes activations.
 */
describe("default model vs llama.cpp via node-llama-cpp (KVLINK_MODEL_DIR)", function () {
  this.timeout(600_000);
  let tokenizer: HfTokenizer;
  let llama: LlamaCppRunner | undefined;

  before(async function () {
    const modelDir = process.env["KVLINK_MODEL_DIR"];
    if (!modelDir) {
      this.skip(); // needs real weights: set KVLINK_MODEL_DIR to the converted default model (npx kvlink setup --print-dir)
      return;
    }
    tokenizer = await HfTokenizer.load(modelDir);
    // One thread: llama.cpp's spinning thread pool crawls when a shared 2-core host is oversubscribed.
    llama = await LlamaCppRunner.create("llama.cpp", await ensureDefaultGguf(), { numThreads: 1 });
  });
  after(async () => {
    await llama?.dispose();
  });

  it("tokenizes the 10k-character mixed text to llama.cpp's ids (special-token strings as text)", () => {
    const text = readFileSync(MIXED_TEXT_FILE, "utf8");
    const expected = llama!.tokenize(text, false);
    const actual = tokenizer.encode(text, { specialTokens: "text" });
    assertSameIds(actual, expected, tokenizer);
    assert.ok(expected.length > 5_000, `${expected.length} tokens`);
  });

  it("tokenizes the rendered chat prompts to llama.cpp's ids (special tokens parsed)", () => {
    for (const messages of ACCEPTANCE_PROMPTS) {
      const rendered = renderChatTemplate(tokenizer.chatTemplate!, messages, { addGenerationPrompt: true });
      const actual = tokenizer.encode(rendered, { specialTokens: "parse" });
      assertSameIds(actual, llama!.tokenize(rendered, true), tokenizer);
      assert.equal(actual[0], tokenizer.tokenToId("<|im_start|>"));
    }
  });

  it(`llama.cpp produces non-empty greedy continuations of ${NUM_NEW_TOKENS} tokens of our tokenization of the five prompts`, async () => {
    for (const messages of ACCEPTANCE_PROMPTS) {
      const rendered = renderChatTemplate(tokenizer.chatTemplate!, messages, { addGenerationPrompt: true });
      const promptIds = tokenizer.encode(rendered, { specialTokens: "parse" });
      const result = await llama!.greedy(promptIds, NUM_NEW_TOKENS);
      assert.equal(result.tokenIds.length, NUM_NEW_TOKENS);
      assert.ok(result.tokenIds.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize));
      const text = tokenizer.decode(result.tokenIds, { skipSpecialTokens: true });
      assert.ok(text.trim().length > 0, `llama.cpp produced no text for ${JSON.stringify(messages)}`);
    }
  });
});

/** deepEqual, with a message naming the first differing token and the text around it. */
function assertSameIds(actual: readonly number[], expected: readonly number[], tokenizer: HfTokenizer): void {
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  if (i === actual.length && i === expected.length) return;
  const around = (ids: readonly number[]): string =>
    ids
      .slice(Math.max(0, i - 3), i + 5)
      .map((id) => JSON.stringify(tokenizer.decode([id])))
      .join(" ");
  assert.fail(
    `token ${i} differs (ours ${actual.length} tokens, llama.cpp ${expected.length}):\n` +
      `  ours:      ${JSON.stringify(actual.slice(Math.max(0, i - 3), i + 5))} ${around(actual)}\n` +
      `  llama.cpp: ${JSON.stringify(expected.slice(Math.max(0, i - 3), i + 5))} ${around(expected)}\n` +
      `  text: ${JSON.stringify(tokenizer.decode(expected.slice(Math.max(0, i - 8), i + 8)))}`,
  );
}
