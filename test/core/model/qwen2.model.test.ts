import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isModelSetUp, resolveKvlinkHome } from "../../../packages/core/src/setup/ensureModel.js";
import { findModelPreset } from "../../../packages/core/src/setup/modelPresets.js";
import { renderChatTemplate } from "../../../packages/core/src/tokenizer/chatTemplate.js";
import { HfTokenizer } from "../../../packages/core/src/tokenizer/HfTokenizer.js";
import { ACCEPTANCE_PROMPTS } from "../../fixtures/acceptancePrompts.js";
import { MIXED_TEXT_FILE } from "../../fixtures/makeMixedText.js";
import { commonPrefixLength } from "./runners/GreedyRunner.js";
import { LlamaCppRunner } from "./runners/LlamaCppRunner.js";
import { OursRunner } from "./runners/OursRunner.js";

const PRESET = process.env["KVLINK_QWEN_PRESET"] ?? "qwen2.5-coder-1.5b-instruct";
const NUM_NEW_TOKENS = 24;

/**
 * A Qwen2.5-Coder preset against llama.cpp on the same GGUF. Needs `kvlink setup --model <preset> --keep-gguf`
 * (about 1.1 GB for the 1.5B), so it runs only under `npm run test:models` (KVLINK_TEST_MODELS=1); it skips otherwise.
 */
describe(`${PRESET} vs llama.cpp via node-llama-cpp (npm run test:models)`, function () {
  this.timeout(1_800_000);
  let tokenizer: HfTokenizer;
  let llama: LlamaCppRunner | undefined;
  let ours: OursRunner | undefined;

  before(async function () {
    const preset = findModelPreset(PRESET);
    const home = resolveKvlinkHome();
    const gguf = preset && join(home, "models", `${preset.source.folderName}.gguf`);
    if (process.env["KVLINK_TEST_MODELS"] !== "1" || !preset || !(await isModelSetUp(preset.source)) || !existsSync(gguf!)) {
      this.skip(); // run `npm run test:models`, which sets the preset up with its GGUF kept
      return;
    }
    const dir = join(home, "models", preset.source.folderName);
    tokenizer = await HfTokenizer.load(dir);
    llama = await LlamaCppRunner.create("llama.cpp", gguf!, { numThreads: 2, contextSize: 4096 });
    ours = await OursRunner.create("ours", dir, { numThreads: 2 });
  });
  after(async () => {
    await ours?.dispose();
    await llama?.dispose();
  });

  it("tokenizes the 10k-character mixed text to llama.cpp's ids", () => {
    const text = readFileSync(MIXED_TEXT_FILE, "utf8");
    const expected = llama!.tokenize(text, false);
    const actual = tokenizer.encode(text, { specialTokens: "text" });
    assert.equal(commonPrefixLength(actual, expected), expected.length, `first difference at token ${commonPrefixLength(actual, expected)}`);
    assert.equal(actual.length, expected.length);
  });

  it("tokenizes the rendered ChatML prompts to llama.cpp's ids (no BOS)", () => {
    for (const messages of ACCEPTANCE_PROMPTS) {
      const rendered = renderChatTemplate(tokenizer.chatTemplate!, messages, { addGenerationPrompt: true });
      assert.deepEqual(tokenizer.encode(rendered, { specialTokens: "parse" }), llama!.tokenize(rendered, true));
    }
  });

  it(`agrees with llama.cpp's greedy ${NUM_NEW_TOKENS} tokens on at least 4 of 5 prompts`, async () => {
    let agree = 0;
    const lines: string[] = [];
    for (const messages of ACCEPTANCE_PROMPTS) {
      const rendered = renderChatTemplate(tokenizer.chatTemplate!, messages, { addGenerationPrompt: true });
      const ids = tokenizer.encode(rendered, { specialTokens: "parse" });
      const a = await ours!.greedy(ids, NUM_NEW_TOKENS);
      const b = await llama!.greedy(ids, NUM_NEW_TOKENS);
      const common = commonPrefixLength(a.tokenIds, b.tokenIds);
      if (common === NUM_NEW_TOKENS) agree++;
      lines.push(
        `${ids.length} prompt tokens: common prefix ${common}/${NUM_NEW_TOKENS}; ours prefill ${((ids.length / a.prefillMs) * 1000).toFixed(1)} tok/s, decode ${(((NUM_NEW_TOKENS - 1) / a.decodeMs) * 1000).toFixed(1)} tok/s; llama.cpp prefill ${((ids.length / b.prefillMs) * 1000).toFixed(1)}, decode ${(((NUM_NEW_TOKENS - 1) / b.decodeMs) * 1000).toFixed(1)}; ours: ${JSON.stringify(tokenizer.decode(a.tokenIds, { skipSpecialTokens: true }))}`,
      );
    }
    process.stderr.write(`${lines.join("\n")}\n`);
    assert.ok(agree >= 4, `greedy agreement on ${agree}/5 prompts:\n${lines.join("\n")}`);
  });
});
