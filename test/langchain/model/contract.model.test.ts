/**
 * What LangChain's standard chat-model integration suite checks, on the default model (SmolLM2-135M + the KVLink
 * adapter, KVLINK_MODEL_DIR). Forced calls (tool_choice) are written by the constrained decoder (issue 13 A5); under
 * tool_choice auto the adapter, trained on tool calling (recipe 4), decides to call, and the decoder keeps the call
 * valid for the schema.
 */
import assert from "node:assert/strict";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { RunnableLambda } from "@langchain/core/runnables";
import { StructuredTool } from "@langchain/core/tools";
import { toJsonSchema } from "@langchain/core/utils/json_schema";
import { z } from "zod";
import { KvLinkEngine } from "../../../packages/core/src/engine/KvLinkEngine.js";
import { ChatKVLink } from "../../../packages/langchain-adapter/src/chat_models.js";

const adderSchema = z
  .object({ a: z.number().int().describe("The first integer to add."), b: z.number().int().describe("The second integer to add.") })
  .describe("Add two integers");

class AdderTool extends StructuredTool {
  name = "AdderTool";
  description = adderSchema.description ?? "description";
  schema = adderSchema;
  async _call(input: z.infer<typeof adderSchema>): Promise<string> {
    return JSON.stringify({ result: input.a + input.b });
  }
}

const MATH_ADDITION_PROMPT = ChatPromptTemplate.fromMessages([
  ["system", "You are bad at math and must ALWAYS call the {toolName} function."],
  ["human", "What is the sum of 1836281973 and 19973286?"],
]);

describe("langchain standard-suite contract on the default model (KVLINK_MODEL_DIR)", function () {
  this.timeout(600_000);
  let engine: KvLinkEngine | undefined;
  const chat = (fields: Partial<ConstructorParameters<typeof ChatKVLink>[0]> = {}): ChatKVLink =>
    new ChatKVLink({ engine: engine!, temperature: 0, maxTokens: 100, ...fields });

  before(async function () {
    const model = process.env["KVLINK_MODEL_DIR"];
    if (model === undefined || model.length === 0) this.skip(); // needs real weights (npm test sets it up)
    engine = await KvLinkEngine.create({ model });
  });
  after(async () => {
    await engine?.dispose();
  });

  it("invoke: text, usage_metadata and response_metadata.model", async () => {
    const result = await chat().invoke([new HumanMessage("Hello! How are you?")]);
    assert.ok(result instanceof AIMessage);
    assert.ok(result.text.length > 0);
    const usage = result.usage_metadata!;
    assert.ok(usage.input_tokens > 0 && usage.output_tokens > 0);
    assert.equal(usage.total_tokens, usage.input_tokens + usage.output_tokens);
    assert.equal(typeof result.response_metadata["model"], "string");
    assert.notEqual(result.response_metadata["model"], "");
  });

  it("tool calling: a zod StructuredTool, forced, gives exactly one well-formed call with the asked arguments", async () => {
    const result = await chat().bindTools([new AdderTool()], { tool_choice: "any" }).invoke("What is the value of AdderTool(1, 2)? Use the tool.");
    assert.equal(result.tool_calls?.length, 1, JSON.stringify(result));
    const call = result.tool_calls![0]!;
    assert.equal(call.name, "AdderTool");
    assert.deepEqual(call.args, { a: 1, b: 2 });
    assert.equal(call.type, "tool_call");
    assert.match(call.id ?? "", /^call_/);
    assert.equal(result.content, "");
  });

  it("a runnable tool (asTool) and an OpenAI-format tool, named by tool_choice, are called with integer arguments", async () => {
    const runnableLike = RunnableLambda.from((_: unknown) => undefined).asTool({ name: "math_addition", description: adderSchema.description!, schema: adderSchema });
    const openAi = { type: "function" as const, function: { name: "math_addition", description: adderSchema.description!, parameters: toJsonSchema(adderSchema) as Record<string, unknown> } };
    for (const tool of [runnableLike, openAi]) {
      const result = await MATH_ADDITION_PROMPT.pipe(chat().bindTools([tool], { tool_choice: "math_addition" })).invoke({ toolName: "math_addition" });
      assert.equal(result.tool_calls?.length, 1, JSON.stringify(result));
      const args = result.tool_calls![0]!.args as Record<string, unknown>;
      assert.equal(result.tool_calls![0]!.name, "math_addition");
      assert.deepEqual(Object.keys(args).sort(), ["a", "b"]);
      assert.ok(Number.isInteger(args["a"]) && Number.isInteger(args["b"]), JSON.stringify(args));
    }
  });

  it("streaming: tool_call_chunks concatenate to a tool call; usage is on the stream", async () => {
    const stream = await MATH_ADDITION_PROMPT.pipe(chat().bindTools([new AdderTool()], { tool_choice: "any" })).stream({ toolName: "AdderTool" });
    let result: AIMessageChunk | undefined;
    let numChunks = 0;
    for await (const chunk of stream) {
      numChunks++;
      result = result === undefined ? chunk : result.concat(chunk);
    }
    assert.ok(numChunks >= 2);
    assert.equal(result?.tool_calls?.[0]?.name, "AdderTool");
    assert.ok((result?.usage_metadata?.input_tokens ?? 0) > 0 && (result?.usage_metadata?.output_tokens ?? 0) > 0);
  });

  it("withStructuredOutput: numbers a and b, with ls_structured_output_format in the trace; includeRaw too", async () => {
    let options: Record<string, unknown> | undefined;
    const handler = BaseCallbackHandler.fromMethods({
      handleChatModelStart(_llm, _messages, _runId, _parentRunId, extraParams) {
        options = extraParams?.["options"] as Record<string, unknown>;
      },
    });
    const result = await MATH_ADDITION_PROMPT.pipe(chat().withStructuredOutput(adderSchema, { name: "math_addition" })).invoke({ toolName: "math_addition" }, { callbacks: [handler] });
    assert.equal(typeof result.a, "number");
    assert.equal(typeof result.b, "number");
    const format = options?.["ls_structured_output_format"] as { kwargs: { method: string }; schema: unknown };
    assert.equal(format.kwargs.method, "functionCalling");
    assert.deepEqual(format.schema, toJsonSchema(adderSchema));
    const raw = await MATH_ADDITION_PROMPT.pipe(chat().withStructuredOutput(adderSchema, { name: "math_addition", includeRaw: true })).invoke({ toolName: "math_addition" });
    assert.ok(raw.raw instanceof AIMessage || raw.raw instanceof AIMessageChunk);
    assert.equal(typeof raw.parsed.a, "number");
    assert.equal(typeof raw.parsed.b, "number");
  });

  it("histories with a finished tool call (string content and tool_use list content) continue in text", async () => {
    const weather = { type: "function" as const, function: { name: "get_current_weather", description: "Get the current weather in a location", parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] } } };
    const call = { id: "call_1", name: "get_current_weather", args: { location: "San Francisco" } };
    for (const content of ["", [{ type: "tool_use", id: "call_1", name: "get_current_weather", input: call.args }]] as const) {
      const result = await chat()
        .bindTools([weather])
        .invoke([
          new SystemMessage("You are a helpful assistant."),
          new HumanMessage("What is the weather in San Francisco?"),
          new AIMessage({ content: content as never, tool_calls: [call] }),
          new ToolMessage({ content: "Sunny, 18 C", tool_call_id: "call_1", name: "get_current_weather" }),
        ]);
      assert.ok(result instanceof AIMessage);
      assert.ok(result.text.length > 0 || (result.tool_calls?.length ?? 0) > 0, "an answer or a call");
      for (const c of result.tool_calls ?? []) assert.equal(c.name, "get_current_weather"); // a call it starts is constrained
    }
  });

  it("tool_choice auto: the model calls a bound tool (of a family never trained on) when asked, and answers hello in text", async () => {
    const weather = { name: "get_current_weather", description: "Get the current weather in a given location", schema: z.object({ location: z.string().describe("The city name, e.g. San Francisco") }) };
    const withTools = chat().bindTools([weather, new AdderTool()]);
    const asked = await withTools.invoke([new HumanMessage("What's the weather like in San Francisco today?")]);
    assert.equal(asked.tool_calls?.length, 1, JSON.stringify(asked.content));
    assert.equal(asked.tool_calls![0]!.name, "get_current_weather");
    assert.equal(typeof asked.tool_calls![0]!.args["location"], "string");
    const streamed = await withTools.stream([new HumanMessage("What is 7 plus 5? Use the tool.")]);
    let full: AIMessageChunk | undefined;
    for await (const chunk of streamed) full = full === undefined ? chunk : full.concat(chunk);
    assert.equal(full?.tool_calls?.[0]?.name, "AdderTool", JSON.stringify(full?.content));
    const hello = await withTools.invoke([new HumanMessage("Hi! How are you today?")]);
    assert.equal(hello.tool_calls?.length ?? 0, 0);
    assert.ok(hello.text.length > 0);
  });

  it("abort: an aborted signal rejects invoke and ends a stream early", async () => {
    const signal = AbortSignal.abort();
    await assert.rejects(chat().invoke([new HumanMessage("hello")], { signal }));
    const chunks: unknown[] = [];
    await assert.rejects(async () => {
      for await (const chunk of await chat().stream([new HumanMessage("hello")], { signal })) chunks.push(chunk);
    });
    assert.equal(chunks.length, 0);
  });

  it("engine.generate with responseFormat json_schema answers JSON valid for the schema", async () => {
    const schema = { type: "object", properties: { city: { type: "string" }, unit: { enum: ["celsius", "fahrenheit"] } }, required: ["city", "unit"] };
    const { text, finishReason } = await engine!.generate({ question: "What is the weather in Paris?", greedy: true, maxTokens: 60, responseFormat: { type: "json_schema", schema } }).result();
    assert.equal(finishReason, "stop", text);
    const value = JSON.parse(text) as { city: unknown; unit: unknown };
    assert.equal(typeof value.city, "string");
    assert.ok(value.unit === "celsius" || value.unit === "fahrenheit");
  });
});
