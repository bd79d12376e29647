import assert from "node:assert/strict";
import {
  formatToolCall,
  parseToolCalls,
  renderToolInstructions,
  withToolInstructions,
  ToolCallStreamParser,
  type ToolCallParserEvent,
} from "../../../packages/langchain-adapter/src/tools.js";
import { InvalidInputError } from "../support/errors.js";

const OUTPUT =
  'Let me check. <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>\n' +
  '<tool_call>{"name": "add", "arguments": "{\\"a\\": 1, \\"b\\": 2}"}</tool_call> <toolbox> < done';

function summarize(events: readonly ToolCallParserEvent[]): { text: string; calls: unknown[] } {
  let text = "";
  const calls: unknown[] = [];
  for (const event of events) {
    if (event.kind === "text") text += event.text;
    else if (event.kind === "tool_call") calls.push({ name: event.call.name, args: event.call.args });
    else calls.push({ invalid: event.call.args });
  }
  return { text, calls };
}

describe("langchain/tools: the <tool_call> convention", function () {
  it("parses calls out of a whole text, keeping the rest as content", function () {
    const { content, toolCalls, invalidToolCalls } = parseToolCalls(OUTPUT);
    assert.equal(content, "Let me check. \n <toolbox> < done");
    assert.deepEqual(
      toolCalls.map((c) => ({ name: c.name, args: c.args })),
      [
        { name: "get_weather", args: { city: "Paris" } },
        { name: "add", args: { a: 1, b: 2 } },
      ],
    );
    assert.equal(invalidToolCalls.length, 0);
    assert.notEqual(toolCalls[0]?.id, toolCalls[1]?.id);
    assert.match(toolCalls[0]?.id ?? "", /^call_[0-9a-f]{24}$/);
  });

  it("gives the same text and calls for every split of the stream into two or three pieces, and text never holds a tag", function () {
    const whole = summarize([...new ToolCallStreamParser().push(OUTPUT)]);
    for (let i = 0; i <= OUTPUT.length; i++) {
      for (const j of [i, Math.min(OUTPUT.length, i + 5), Math.min(OUTPUT.length, i + 17)]) {
        const parser = new ToolCallStreamParser();
        const events = [...parser.push(OUTPUT.slice(0, i)), ...parser.push(OUTPUT.slice(i, j)), ...parser.push(OUTPUT.slice(j)), ...parser.flush()];
        const got = summarize(events);
        assert.deepEqual(got, whole, `split at ${i}/${j}`);
        for (const event of events) if (event.kind === "text") assert.ok(!event.text.includes("tool_call"), `split ${i}/${j}: ${event.text}`);
      }
    }
  });

  it("holds back a possible tag start until it is decided, and flushes it as text at the end", function () {
    const parser = new ToolCallStreamParser();
    assert.deepEqual(parser.push("abc <tool_"), [{ kind: "text", text: "abc " }]);
    assert.deepEqual(parser.flush(), [{ kind: "text", text: "<tool_" }]);
    assert.throws(() => parser.push("x"), InvalidInputError);
  });

  it("reports bad blocks as invalid calls: bad JSON, no name, non-object arguments, unclosed", function () {
    const { toolCalls, invalidToolCalls } = parseToolCalls(
      '<tool_call>{"name": oops}</tool_call><tool_call>{"arguments": {}}</tool_call><tool_call>{"name": "f", "arguments": [1]}</tool_call><tool_call>{"name": "g", "arguments": {"x": 1}',
    );
    assert.equal(toolCalls.length, 0);
    assert.equal(invalidToolCalls.length, 4);
    assert.equal(invalidToolCalls[2]?.name, "f");
    assert.match(invalidToolCalls[3]?.error ?? "", /<\/tool_call>/);
  });

  it("accepts a complete block cut off before its closing tag, and 'parameters' for 'arguments'", function () {
    const { toolCalls } = parseToolCalls('<tool_call>{"name": "g", "parameters": {"x": 1}}');
    assert.deepEqual(toolCalls.map((c) => [c.name, c.args]), [["g", { x: 1 }]]);
  });

  it("keeps a </tool_call> inside a JSON string argument as text of the argument, for every split of the stream", function () {
    const call = { name: "write_note", args: { text: 'the tag </tool_call> and a quote \\" stay <tool_call> in here' } };
    const output = `Saving. ${formatToolCall(call)} done.`;
    const whole = parseToolCalls(output);
    assert.deepEqual(whole.toolCalls.map((c) => ({ name: c.name, args: c.args })), [call]);
    assert.equal(whole.content, "Saving.  done.");
    for (let i = 0; i <= output.length; i++) {
      const parser = new ToolCallStreamParser();
      const got = summarize([...parser.push(output.slice(0, i)), ...parser.push(output.slice(i)), ...parser.flush()]);
      assert.deepEqual(got, { text: "Saving.  done.", calls: [call] }, `split at ${i}`);
    }
  });

  it("ends a block with broken JSON (an unbalanced quote) at its closing tag, and parses what follows", function () {
    const { content, toolCalls, invalidToolCalls } = parseToolCalls(
      '<tool_call>{"name": "f", "arguments": {"x": "oops}}</tool_call> then <tool_call>{"name": "g", "arguments": {}}</tool_call> end',
    );
    assert.equal(invalidToolCalls.length, 1);
    assert.deepEqual(toolCalls.map((c) => c.name), ["g"]);
    assert.equal(content, " then  end");
  });

  it("writes calls back in the form it parses", function () {
    const text = formatToolCall({ name: "get_weather", args: { city: "Oslo" } });
    assert.deepEqual(parseToolCalls(text).toolCalls.map((c) => [c.name, c.args]), [["get_weather", { city: "Oslo" }]]);
  });

  it("renders tool definitions and the tool choice into the instructions", function () {
    const tool = { type: "function" as const, function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: {} } } };
    const auto = renderToolInstructions([tool]);
    assert.ok(auto.includes(JSON.stringify(tool)));
    assert.ok(auto.includes("<tool_call>"));
    assert.ok(renderToolInstructions([tool], "get_weather").includes('You must call the tool "get_weather"'));
    assert.ok(renderToolInstructions([tool], { type: "function", function: { name: "get_weather" } }).includes('"get_weather"'));
    assert.ok(renderToolInstructions([tool], "any").includes("must call at least one"));
  });

  it("withToolInstructions appends the instructions to the leading system message, or adds one", function () {
    const tool = { type: "function" as const, function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: {} } } };
    const text = renderToolInstructions([tool]);
    assert.deepEqual(withToolInstructions([{ role: "user", content: "Hi" }], [tool]), [{ role: "system", content: text }, { role: "user", content: "Hi" }]);
    assert.deepEqual(withToolInstructions([{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }], [tool]), [
      { role: "system", content: `Be brief.\n\n${text}` },
      { role: "user", content: "Hi" },
    ]);
    assert.deepEqual(withToolInstructions([{ role: "system", content: "" }], [tool], "any")[0], { role: "system", content: renderToolInstructions([tool], "any") });
  });
});
