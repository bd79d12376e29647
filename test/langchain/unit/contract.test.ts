/** What LangChain's standard chat-model unit suite checks, for the defects an outside run found (issue 13 A1–A3). */
import assert from "node:assert/strict";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { AIMessage, AIMessageChunk, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { toJsonSchema } from "@langchain/core/utils/json_schema";
import { z } from "zod";
import { ChatKVLink } from "../../../packages/langchain-adapter/src/chat_models.js";
import { FakeKvLinkEngine } from "../support/FakeKvLinkEngine.js";

describe("langchain/ChatKVLink standard-suite contract (fake engine)", function () {
  it("getLsParams always has ls_stop, as the base class does (undefined without a stop list)", () => {
    const model = new ChatKVLink({ engine: new FakeKvLinkEngine() });
    const params = model.getLsParams({} as never);
    assert.ok("ls_stop" in params, JSON.stringify(params));
    assert.equal(params.ls_stop, undefined);
    const withStop = new ChatKVLink({ engine: new FakeKvLinkEngine(), stop: ["END"] }).getLsParams({} as never);
    assert.deepEqual(withStop.ls_stop, ["END"]);
  });

  it("response_metadata has model as well as model_name", async () => {
    const model = new ChatKVLink({ engine: new FakeKvLinkEngine() });
    const answer = await model.invoke("hi");
    assert.equal(answer.response_metadata["model"], model.model);
    assert.equal(answer.response_metadata["model_name"], model.model);
  });

  it("a history whose AIMessage has tool_use content blocks (list content) is accepted", async () => {
    const engine = new FakeKvLinkEngine();
    const model = new ChatKVLink({ engine });
    const history = [
      new HumanMessage("What is the weather in Paris?"),
      new AIMessage({
        content: [{ type: "text", text: "Let me check." }, { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } }],
        tool_calls: [{ id: "call_1", name: "get_weather", args: { city: "Paris" } }],
      }),
      new ToolMessage({ content: "sunny", tool_call_id: "call_1", name: "get_weather" }),
      new HumanMessage("Thanks. And now?"),
    ];
    await model.invoke(history);
    const assistant = engine.requests[0]?.messages?.find((m) => m.role === "assistant");
    assert.ok(assistant?.content.startsWith("Let me check."));
    assert.ok(assistant?.content.includes("get_weather"));
  });

  const adderSchema = z.object({ a: z.number().describe("first"), b: z.number().describe("second") }).describe("Adds a and b");
  const addCall = '<tool_call>{"name": "math_addition", "arguments": {"a": 1, "b": 2}}</tool_call>';

  it("withStructuredOutput forces its tool through the decoder, without the 'only when it helps' instruction (issue 13 A4)", async () => {
    const engine = new FakeKvLinkEngine({ respond: () => addCall });
    const model = new ChatKVLink({ engine });
    let options: Record<string, unknown> | undefined;
    const handler = BaseCallbackHandler.fromMethods({
      handleChatModelStart(_llm, _messages, _runId, _parentRunId, extraParams) {
        options = extraParams?.["options"] as Record<string, unknown>;
      },
    });
    const result = await model.withStructuredOutput(adderSchema, { name: "math_addition" }).invoke("What is 1 + 2?", { callbacks: [handler] });
    assert.deepEqual(result, { a: 1, b: 2 });
    const request = engine.requests[0]!;
    assert.deepEqual(request.responseFormat, {
      type: "tool_calls",
      tools: [{ name: "math_addition", parameters: toJsonSchema(adderSchema) }],
      choice: "required",
      open: "<tool_call>",
      close: "</tool_call>",
    });
    const system = request.messages?.[0];
    assert.equal(system?.role, "system");
    assert.ok(system.content.includes('You must call the tool "math_addition".'), system.content);
    assert.ok(!system.content.includes("only when it helps"), system.content);
    const format = options?.["ls_structured_output_format"] as { kwargs: { method: string }; schema: unknown } | undefined;
    assert.equal(format?.kwargs.method, "functionCalling");
    assert.deepEqual(format?.schema, toJsonSchema(adderSchema));
  });

  it("includeRaw gives the raw AIMessage with its tool call and the parsed arguments", async () => {
    const model = new ChatKVLink({ engine: new FakeKvLinkEngine({ respond: () => addCall }) });
    const result = await model.withStructuredOutput(adderSchema, { name: "math_addition", includeRaw: true }).invoke("1 + 2?");
    assert.deepEqual(result.parsed, { a: 1, b: 2 });
    assert.equal((result.raw as AIMessage).tool_calls?.[0]?.name, "math_addition");
  });

  it("bound tools reach the engine as a tool-call response format: auto by default, forced by tool_choice or the toolChoice default", async () => {
    const add = tool(async ({ a, b }: { a: number; b: number }) => String(a + b), { name: "math_addition", description: "Adds", schema: adderSchema });
    const weather = { type: "function" as const, function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } };
    const engine = new FakeKvLinkEngine({ respond: () => addCall });
    const model = new ChatKVLink({ engine });
    const bound = model.bindTools([add, weather]);
    await bound.invoke("hi");
    await bound.invoke("hi", { tool_choice: "any" });
    await bound.invoke("hi", { tool_choice: "get_weather" });
    await bound.invoke("hi", { tool_choice: "none" });
    await new ChatKVLink({ engine, toolChoice: "any" }).bindTools([add]).invoke("hi");
    const formats = engine.requests.map((r) => r.responseFormat as { choice: string; tools: { name: string }[] } | undefined);
    assert.deepEqual(formats.map((f) => f && [f.choice, f.tools.map((t) => t.name)]), [
      ["auto", ["math_addition", "get_weather"]],
      ["required", ["math_addition", "get_weather"]],
      ["required", ["get_weather"]],
      undefined,
      ["required", ["math_addition"]],
    ]);
  });

  it("a streamed tool call arrives as tool_call_chunks and concatenates to one tool call with usage", async () => {
    const model = new ChatKVLink({ engine: new FakeKvLinkEngine({ respond: () => addCall, pieceSize: 4 }) });
    const add = tool(async () => "3", { name: "math_addition", description: "Adds", schema: adderSchema });
    let aggregated: AIMessageChunk | undefined;
    for await (const chunk of await model.bindTools([add]).stream("1 + 2?", { tool_choice: "any" })) aggregated = aggregated === undefined ? chunk : aggregated.concat(chunk);
    assert.equal(aggregated?.tool_calls?.length, 1);
    assert.deepEqual(aggregated?.tool_calls?.[0]?.args, { a: 1, b: 2 });
    assert.ok((aggregated?.usage_metadata?.output_tokens ?? 0) > 0);
  });
});
