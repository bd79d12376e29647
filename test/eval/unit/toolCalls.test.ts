import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { generateToolCallRecords, toolFamiliesBySplit, toolNamesOfSplit, type ToolCallRecord } from "../../../eval/generators/toolCalls.js";
import { toolCallSets } from "../../../eval/generators/makeDatasets.js";
import { sameArgs, scoreToolCall } from "../../../eval/harness/scoreToolCall.js";
import { toolRecordMessages } from "../../../eval/harness/toolRecordMessages.js";

describe("eval/generators/toolCalls", () => {
  it("train, dev and test share no tool family; weather and addition are test families", () => {
    const s = toolFamiliesBySplit();
    const all = [...s.train, ...s.dev, ...s.test];
    assert.equal(new Set(all).size, all.length);
    assert.ok(s.test.includes("weather") && s.test.includes("addition"));
    assert.ok(s.train.length >= 20 && s.dev.length >= 3 && s.test.length >= 5);
  });

  it("is deterministic, binds the expected tool, and its arguments fit the tool's schema", () => {
    const a = generateToolCallRecords({ seed: 3, split: "train", count: 300 });
    assert.deepEqual(a, generateToolCallRecords({ seed: 3, split: "train", count: 300 }));
    assert.notDeepEqual(a, generateToolCallRecords({ seed: 4, split: "train", count: 300 }));
    const kinds = new Set(a.map((r) => r.kind));
    assert.deepEqual([...kinds].sort(), ["answer", "call", "no_call"]);
    for (const r of a.filter((x) => x.kind === "call")) {
      const tool = r.tools.find((t) => t.function.name === r.call!.name);
      assert.ok(tool, `${r.id}: the expected tool is bound`);
      const params = tool.function.parameters as { properties: Record<string, { type: string; enum?: string[] }>; required: string[] };
      assert.deepEqual(Object.keys(r.call!.args).sort(), [...params.required].sort());
      for (const [k, v] of Object.entries(r.call!.args)) {
        const p = params.properties[k]!;
        if (p.type === "string") assert.equal(typeof v, "string");
        else assert.equal(typeof v, "number");
        if (p.type === "integer") assert.ok(Number.isInteger(v));
        if (p.enum) assert.ok(p.enum.includes(String(v)), `${r.id}: ${k}=${String(v)} in its enum`);
      }
    }
    const names = a.flatMap((r) => r.tools.map((t) => t.function.name));
    assert.ok(names.every((n) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n)));
  });

  it("the committed eval/datasets/tool-calls.jsonl is what makeDatasets writes (dev and test families only)", () => {
    const committed = readFileSync(new URL("../../../eval/datasets/tool-calls.jsonl", import.meta.url), "utf8").trim().split("\n").map((l) => JSON.parse(l) as ToolCallRecord);
    assert.deepEqual(committed, JSON.parse(JSON.stringify(toolCallSets())));
    const train = new Set(toolFamiliesBySplit().train);
    const trainNames = toolNamesOfSplit("train");
    assert.ok(committed.every((r) => r.split !== "train" && !train.has(r.family) && r.tools.every((t) => !trainNames.has(t.function.name))));
  });

  it("an answer record's history becomes LangChain messages: the AI tool call, then the ToolMessage with its id", () => {
    const r = generateToolCallRecords({ seed: 9, split: "dev", count: 40 }).find((x) => x.kind === "answer")!;
    const msgs = toolRecordMessages(r);
    const ai = msgs.find((m) => m.getType() === "ai") as unknown as { tool_calls: { id: string; name: string }[] };
    const tool = msgs.find((m) => m.getType() === "tool") as unknown as { tool_call_id: string };
    assert.equal(ai.tool_calls.length, 1);
    assert.equal(tool.tool_call_id, ai.tool_calls[0]!.id);
  });
});

describe("eval/harness/scoreToolCall", () => {
  const call = { kind: "call" as const, call: { name: "add", args: { a: 1, b: 2 } } };
  it("call: right tool and right arguments (numbers by value, strings case-insensitive), extra or missing keys wrong", () => {
    assert.deepEqual(scoreToolCall(call, { content: "", toolCalls: [{ name: "add", args: { a: 1.0, b: 2 } }] }), { called: true, rightTool: true, rightArgs: true, correct: true });
    assert.equal(scoreToolCall(call, { content: "", toolCalls: [{ name: "add", args: { a: 1, b: 3 } }] }).rightArgs, false);
    assert.equal(scoreToolCall(call, { content: "", toolCalls: [{ name: "add", args: { a: 1, b: 2, c: 0 } }] }).correct, false);
    assert.deepEqual(scoreToolCall(call, { content: "", toolCalls: [{ name: "sum", args: { a: 1, b: 2 } }] }), { called: true, rightTool: false, rightArgs: false, correct: false });
    assert.equal(scoreToolCall(call, { content: "1 + 2 = 3", toolCalls: [] }).called, false);
    assert.ok(sameArgs({ city: "Paris" }, { city: " paris" }));
    assert.ok(!sameArgs({ n: 3 }, { n: "" }));
  });
  it("no_call: right without a call; answer: right when the result is stated and no call is made", () => {
    assert.equal(scoreToolCall({ kind: "no_call" }, { content: "Hello!", toolCalls: [] }).correct, true);
    assert.equal(scoreToolCall({ kind: "no_call" }, { content: "", toolCalls: [{ name: "x", args: {} }] }).correct, false);
    const answer = { kind: "answer" as const, answer: ["1066.44"] };
    assert.equal(scoreToolCall(answer, { content: "It is 1066.44 EUR.", toolCalls: [] }).correct, true);
    assert.equal(scoreToolCall(answer, { content: "It is 1066 EUR.", toolCalls: [] }).correct, false);
    assert.equal(scoreToolCall(answer, { content: "It is 1066.44 EUR.", toolCalls: [{ name: "x", args: {} }] }).correct, false);
  });
});
