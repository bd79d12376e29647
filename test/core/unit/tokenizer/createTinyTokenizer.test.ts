import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tokenizer as HfTokenizersTokenizer } from "@huggingface/tokenizers";
import { InvalidInputError } from "../../../../packages/core/src/errors/KvLinkError.js";
import {
  createTinyTokenizer,
  SMOLLM2_CHAT_TEMPLATE,
  TINY_MIN_VOCAB_SIZE,
  TINY_SPECIAL_TOKENS,
} from "../../../../packages/core/src/tokenizer/createTinyTokenizer.js";
import { renderChatTemplate } from "../../../../packages/core/src/tokenizer/chatTemplate.js";

const SAMPLES = [
  "The capital of France is Paris.",
  "  leading and trailing spaces  \n\nand blank lines\t tabs",
  "Numbers 2025, 3.14159 and 1000000 split into digits.",
  "Unicode: héllo wörld, 日本語, emoji 🎉👍🏽, ZWJ 👩‍👩‍👧",
  "Control chars \u0000\u0001\u007f and a bare <|im_end|> inside text",
];

interface TinyParts {
  vocab: Record<string, number>;
  merges: string[];
}
const modelOf = (json: Record<string, unknown>): TinyParts => json["model"] as TinyParts;

describe("createTinyTokenizer", () => {
  it("is deterministic for a (vocabSize, seed) and depends on the seed", () => {
    const a = createTinyTokenizer({ vocabSize: 400, seed: 1 });
    const b = createTinyTokenizer({ vocabSize: 400, seed: 1 });
    const c = createTinyTokenizer({ vocabSize: 400, seed: 2 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(modelOf(a.tokenizerJson).merges, modelOf(c.tokenizerJson).merges);
  });

  it("uses each id in [0, vocabSize) exactly once, specials first", () => {
    for (const vocabSize of [TINY_MIN_VOCAB_SIZE, 384, 700]) {
      const { tokenizerJson, specialTokenIds } = createTinyTokenizer({ vocabSize });
      const ids = Object.values(modelOf(tokenizerJson).vocab).sort((x, y) => x - y);
      assert.deepEqual(ids, Array.from({ length: vocabSize }, (_, i) => i));
      TINY_SPECIAL_TOKENS.forEach((token, id) => assert.equal(modelOf(tokenizerJson).vocab[token], id));
      assert.deepEqual(specialTokenIds.link, Array.from({ length: 16 }, (_, i) => 5 + i));
      assert.equal(specialTokenIds.imEnd, 2);
    }
  });

  it("rejects a vocabSize below the byte alphabet or beyond what the corpus supports", () => {
    assert.throws(() => createTinyTokenizer({ vocabSize: TINY_MIN_VOCAB_SIZE - 1 }), InvalidInputError);
    assert.throws(() => createTinyTokenizer({ vocabSize: 100_000 }), InvalidInputError);
    assert.throws(() => createTinyTokenizer({ vocabSize: 384.5 }), InvalidInputError);
  });

  it("round-trips text in @huggingface/tokenizers, splits digits and learns merges", () => {
    const { tokenizerJson, tokenizerConfig } = createTinyTokenizer({ vocabSize: 512 });
    const tok = new HfTokenizersTokenizer(tokenizerJson, tokenizerConfig);
    for (const text of SAMPLES) {
      const { ids } = tok.encode(text, { add_special_tokens: false });
      assert.equal(tok.decode(ids), text, JSON.stringify(text));
    }
    assert.deepEqual(tok.tokenize("2025"), ["2", "0", "2", "5"]);
    const prose = tok.encode("The capital of the city", { add_special_tokens: false }).ids;
    assert.ok(prose.length < "The capital of the city".length / 2, `merges should shorten prose, got ${prose.length} tokens`);
    assert.deepEqual(tok.encode("<|im_start|>user", { add_special_tokens: false }).ids.slice(0, 1), [1]);
  });

  it("loads in transformers.js AutoTokenizer offline with the same ids and SmolLM2's chat template", async function () {
    this.timeout(60_000);
    const { tokenizerJson, tokenizerConfig } = createTinyTokenizer({ vocabSize: 384 });
    const dir = await mkdtemp(join(tmpdir(), "kvlink-tinytok-"));
    try {
      await writeFile(join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson));
      await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig));
      const { AutoTokenizer, env } = await import("@huggingface/transformers");
      env.allowRemoteModels = false;
      const auto = await AutoTokenizer.from_pretrained(dir);
      const ours = new HfTokenizersTokenizer(tokenizerJson, tokenizerConfig);
      for (const text of SAMPLES) {
        const ids = auto.encode(text, { add_special_tokens: false });
        assert.deepEqual(ids, ours.encode(text, { add_special_tokens: false }).ids);
        assert.equal(auto.decode(ids), text);
      }
      const messages = [{ role: "user", content: "Hello there" }];
      const viaTransformers = auto.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true });
      const expected =
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n" +
        "<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n";
      assert.equal(viaTransformers, expected);
      assert.equal(renderChatTemplate(SMOLLM2_CHAT_TEMPLATE, messages, { addGenerationPrompt: true }), expected);
      assert.equal(auto.eos_token_id, 2);
      assert.equal(auto.bos_token_id, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
