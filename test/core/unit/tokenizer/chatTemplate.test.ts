import assert from "node:assert/strict";
import { InvalidInputError, TokenizerError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { renderChatSegments, renderChatTemplate, type ChatSegment } from "../../../../packages/core/src/tokenizer/chatTemplate.js";
import { SMOLLM2_CHAT_TEMPLATE } from "../../../../packages/core/src/tokenizer/createTinyTokenizer.js";

/** A Llama-3-style template that trims content and prints bos_token. */
const LLAMA3_LIKE =
  "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

/** Fills slots with texts and concatenates, as a prompt builder would. */
function assemble(segments: readonly ChatSegment[], slotTexts: readonly string[]): string {
  return segments.map((s) => (s.kind === "text" ? s.text : (slotTexts[s.index] as string))).join("");
}

describe("renderChatTemplate", () => {
  it("renders SmolLM2's template with and without a system message", () => {
    const user = [{ role: "user", content: "Hi" }];
    assert.equal(
      renderChatTemplate(SMOLLM2_CHAT_TEMPLATE, user, { addGenerationPrompt: true }),
      "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    );
    const withSystem = [{ role: "system", content: "Be terse." }, ...user];
    assert.equal(
      renderChatTemplate(SMOLLM2_CHAT_TEMPLATE, withSystem, { addGenerationPrompt: false }),
      "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
    );
  });

  it("passes bos_token and variables; wraps template errors in TokenizerError", () => {
    assert.equal(renderChatTemplate("{{ bos_token }}{{ x }}", [], { addGenerationPrompt: false, bosToken: "<s>", variables: { x: 7 } }), "<s>7");
    assert.throws(() => renderChatTemplate("{% for %}", [], { addGenerationPrompt: false }), TokenizerError);
    assert.throws(() => renderChatTemplate("{{ raise_exception('no') }}", [], { addGenerationPrompt: false }), TokenizerError);
    assert.throws(() => renderChatTemplate("", [], { addGenerationPrompt: false }), TokenizerError);
  });
});

describe("renderChatSegments", () => {
  const messages = [
    { role: "user", content: ["Read these.\n", { slot: 0 }, "\n", { slot: 1 }, "\nQuestion: where? <|im_end|>"] },
  ] as const;

  it("places slots where the template puts content, and the filled prompt equals a normal render", () => {
    const segments = renderChatSegments(SMOLLM2_CHAT_TEMPLATE, messages, { addGenerationPrompt: true, contentSlots: 2 });
    const docs = ["DOC ZERO", "DOC ONE"];
    const expected = renderChatTemplate(SMOLLM2_CHAT_TEMPLATE, [{ role: "user", content: `Read these.\n${docs[0]}\n${docs[1]}\nQuestion: where? <|im_end|>` }], {
      addGenerationPrompt: true,
    });
    assert.equal(assemble(segments, docs), expected);
    assert.deepEqual(
      segments.filter((s) => s.kind === "slot").map((s) => (s.kind === "slot" ? s.index : -1)),
      [0, 1],
    );
    // Template text and message text are told apart, so user text is never parsed for control tokens.
    const first = segments[0];
    assert.ok(first?.kind === "text" && first.source === "template" && first.text.startsWith("<|im_start|>system\n"));
    const content = segments.filter((s) => s.kind === "text" && s.source === "content").map((s) => (s.kind === "text" ? s.text : ""));
    assert.deepEqual(content, ["Read these.\n", "\n", "\nQuestion: where? <|im_end|>"]);
    const last = segments[segments.length - 1];
    assert.deepEqual(last, { kind: "text", text: "<|im_end|>\n<|im_start|>assistant\n", source: "template" });
  });

  it("gives the same segments on every call (markers are per call) and leaks no marker", () => {
    const a = renderChatSegments(SMOLLM2_CHAT_TEMPLATE, messages, { addGenerationPrompt: true, contentSlots: 2 });
    const b = renderChatSegments(SMOLLM2_CHAT_TEMPLATE, messages, { addGenerationPrompt: true, contentSlots: 2 });
    assert.deepEqual(a, b);
    for (const s of a) if (s.kind === "text") assert.ok(!/kvl[0-9a-f]{24}/i.test(s.text), s.text);
  });

  it("works with a template that trims content and prints bos_token", () => {
    const segments = renderChatSegments(LLAMA3_LIKE, [{ role: "user", content: [{ slot: 0 }, " Q?"] }], {
      addGenerationPrompt: true,
      contentSlots: 1,
      bosToken: "<|begin_of_text|>",
    });
    assert.equal(
      assemble(segments, ["DOC"]),
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nDOC Q?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    );
  });

  it("throws TokenizerError when the template drops or repeats a slot", () => {
    const dropsUser = "{% for m in messages %}{% if m.role != 'user' %}{{ m.content }}{% endif %}{% endfor %}";
    assert.throws(() => renderChatSegments(dropsUser, [{ role: "user", content: [{ slot: 0 }] }], { addGenerationPrompt: false, contentSlots: 1 }), TokenizerError);
    const repeats = "{% for m in messages %}{{ m.content }}{{ m.content }}{% endfor %}";
    assert.throws(() => renderChatSegments(repeats, [{ role: "user", content: [{ slot: 0 }] }], { addGenerationPrompt: false, contentSlots: 1 }), TokenizerError);
  });

  it("rejects slots that are out of range, repeated or missing", () => {
    const render = (content: Array<string | { slot: number }>, contentSlots: number) =>
      renderChatSegments(SMOLLM2_CHAT_TEMPLATE, [{ role: "user", content }], { addGenerationPrompt: false, contentSlots });
    assert.throws(() => render([{ slot: 1 }], 1), InvalidInputError);
    assert.throws(() => render([{ slot: 0 }, { slot: 0 }], 1), InvalidInputError);
    assert.throws(() => render([{ slot: 0 }], 2), InvalidInputError);
    assert.deepEqual(render(["plain"], 0).filter((s) => s.kind === "slot"), []);
  });
});
