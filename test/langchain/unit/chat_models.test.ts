import assert from "node:assert/strict";
import { Document } from "@langchain/core/documents";
import { AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { tool } from "@langchain/core/tools";
import { z } from "zod";
import { ChatKVLink } from "../../../packages/langchain-adapter/src/chat_models.js";
import { KVLinkLLM } from "../../../packages/langchain-adapter/src/llms.js";
import { formatDocumentsForKVLink } from "../../../packages/langchain-adapter/src/format.js";
import type { KVLinkCallMetadata } from "../../../packages/langchain-adapter/src/metadata.js";
import { FakeKvLinkEngine } from "../support/FakeKvLinkEngine.js";
import { InvalidInputError, UnsupportedModelError } from "../support/errors.js";

const DOCS = [
  new Document({ pageContent: "The Eiffel Tower is in Paris and is 330 metres tall.", id: "eiffel" }),
  new Document({ pageContent: "The Colosseum is in Rome." }),
];
const DOC_WORDS = 11 + 5;

const weather = tool(async ({ city }: { city: string }) => `sunny in ${city}`, {
  name: "get_weather",
  description: "Current weather of a city",
  schema: z.object({ city: z.string() }),
});

function kvlinkOf(message: { response_metadata: Record<string, unknown> }): KVLinkCallMetadata {
  return message.response_metadata["kvlink"] as KVLinkCallMetadata;
}

describe("langchain/ChatKVLink (fake engine)", function () {
  it("decodes greedily unless a sampling option is given, on the instance or the call (as kvlink ask does)", async function () {
    const engine = new FakeKvLinkEngine();
    await new ChatKVLink({ engine }).invoke([new HumanMessage("hi")]);
    await new ChatKVLink({ engine }).invoke([new HumanMessage("hi")], { temperature: 0.7 });
    await new ChatKVLink({ engine, seed: 3 }).invoke([new HumanMessage("hi")]);
    await new KVLinkLLM({ engine }).invoke("hi");
    const [plain, hot, seeded, llm] = engine.requests;
    assert.equal(plain?.greedy, true);
    assert.equal(hot?.greedy, undefined);
    assert.equal(hot?.temperature, 0.7);
    assert.equal(seeded?.greedy, undefined);
    assert.equal(llm?.greedy, true);
  });

  it("invokes: maps roles, passes sampling and stop, and reports usage and KV reuse", async function () {
    const engine = new FakeKvLinkEngine();
    const model = new ChatKVLink({ engine, temperature: 0.5, maxTokens: 50, stop: ["END"], mode: "rerotate" });
    const answer = await model.invoke([new SystemMessage("Be brief."), new HumanMessage("hello there")], { stop: ["STOP"], topK: 4 });
    assert.ok(answer instanceof AIMessageChunk);
    assert.equal(answer.content, "echo: hello there");
    const request = engine.requests[0];
    assert.deepEqual(request?.messages, [
      { role: "system", content: "Be brief." },
      { role: "user", content: "hello there" },
    ]);
    assert.equal(request?.temperature, 0.5);
    assert.equal(request?.maxTokens, 50);
    assert.equal(request?.topK, 4);
    assert.equal(request?.mode, "rerotate");
    assert.deepEqual(request?.stop, ["END", "STOP"]);
    assert.equal(answer.usage_metadata?.output_tokens, 3);
    assert.equal(answer.usage_metadata?.total_tokens, (answer.usage_metadata?.input_tokens ?? 0) + 3);
    assert.equal(kvlinkOf(answer).mode, "rerotate");
    assert.equal(answer.response_metadata["finish_reason"], "stop");
  });

  it("call-option documents become cached segments: the second call computes 0 document tokens", async function () {
    const engine = new FakeKvLinkEngine();
    const model = new ChatKVLink({ engine });
    const first = await model.invoke("Where is the tower?", { documents: DOCS });
    const second = await model.invoke("How tall is it?", { documents: DOCS });
    assert.deepEqual(engine.requests[0]?.documents, [{ id: "eiffel", text: DOCS[0]?.pageContent }, { text: DOCS[1]?.pageContent }]);
    assert.deepEqual([kvlinkOf(first).docTokensComputed, kvlinkOf(first).docTokensReused], [DOC_WORDS, 0]);
    assert.deepEqual([kvlinkOf(second).docTokensComputed, kvlinkOf(second).docTokensReused], [0, DOC_WORDS]);
    assert.equal(second.usage_metadata?.input_token_details?.cache_read, DOC_WORDS);
    assert.deepEqual(kvlinkOf(second).documentKeys, DOCS.map((d) => engine.documentKey(d.pageContent)));
  });

  it("recovers documents marked in a prompt template, wherever the marks are, without duplicates", async function () {
    const engine = new FakeKvLinkEngine();
    const prompt = ChatPromptTemplate.fromMessages([
      ["system", "Answer from the context.\n{context}"],
      ["human", "Question: {question}"],
    ]);
    const chain = prompt.pipe(new ChatKVLink({ engine }));
    const answer = await chain.invoke({ context: formatDocumentsForKVLink(DOCS), question: "Where?" }, { documents: [DOCS[1]!] } as never);
    assert.equal(answer.content, "echo: Question: Where?");
    const request = engine.requests[0];
    assert.deepEqual(request?.messages?.[0], { role: "system", content: "Answer from the context.\n" });
    assert.deepEqual(request?.documents?.map((d) => (typeof d === "string" ? d : d.text)), [DOCS[1]?.pageContent, DOCS[0]?.pageContent]);
  });

  it("streams several chunks in order, calls handleLLMNewToken for each, and ends with the metadata chunk", async function () {
    const engine = new FakeKvLinkEngine({ respond: () => "one two three four five", pieceSize: 4 });
    const model = new ChatKVLink({ engine });
    const tokens: string[] = [];
    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await model.stream("hi", { callbacks: [{ handleLLMNewToken: (t: string) => void tokens.push(t) }] })) chunks.push(chunk);
    const texts = chunks.map((c) => c.content as string).filter((t) => t.length > 0);
    assert.ok(texts.length >= 5);
    assert.equal(texts.join(""), "one two three four five");
    assert.deepEqual(tokens.filter((t) => t.length > 0), texts);
    const last = chunks[chunks.length - 1];
    assert.equal(last?.usage_metadata?.output_tokens, 5);
    assert.equal(kvlinkOf(last!).finishReason, "stop");
  });

  it("invoke with a streaming callback takes the streaming path and gives the same message", async function () {
    const engine = new FakeKvLinkEngine({ respond: () => "alpha beta gamma" });
    const model = new ChatKVLink({ engine });
    const tokens: string[] = [];
    const answer = await model.invoke("x", { callbacks: [{ handleLLMNewToken: (t: string) => void tokens.push(t) }] });
    assert.equal(answer.content, "alpha beta gamma");
    assert.equal(tokens.join(""), "alpha beta gamma");
    assert.equal(answer.usage_metadata?.output_tokens, 3);
    assert.equal(kvlinkOf(answer).numGeneratedTokens, 3);
  });

  it("bindTools: describes the tools in the system message and parses <tool_call> blocks into tool_calls", async function () {
    const engine = new FakeKvLinkEngine({
      respond: () => 'Checking. <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>',
      pieceSize: 5,
    });
    const model = new ChatKVLink({ engine }).bindTools([weather]);
    const answer = await model.invoke([new SystemMessage("You are a bot."), new HumanMessage("Weather in Paris?")]);
    assert.equal(answer.content, "Checking. ");
    assert.deepEqual(answer.tool_calls?.map((c) => [c.name, c.args]), [["get_weather", { city: "Paris" }]]);
    assert.match(answer.tool_calls?.[0]?.id ?? "", /^call_/);
    const system = engine.requests[0]?.messages?.[0];
    assert.equal(system?.role, "system");
    assert.ok(system?.content.startsWith("You are a bot.\n\n"));
    assert.ok(system?.content.includes('"name":"get_weather"'));

    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await model.stream("Weather in Paris?")) chunks.push(chunk);
    const merged = chunks.reduce((a, b) => a.concat(b));
    assert.deepEqual(merged.tool_calls?.map((c) => [c.name, c.args]), [["get_weather", { city: "Paris" }]]);
    assert.ok(chunks.every((c) => !String(c.content).includes("tool_call")));
    assert.equal(engine.requests[1]?.messages?.[0]?.role, "system");
  });

  it("withStructuredOutput works through bindTools and a forced tool choice", async function () {
    const engine = new FakeKvLinkEngine({ respond: () => '<tool_call>{"name": "Answer", "arguments": {"city": "Paris"}}</tool_call>' });
    const structured = new ChatKVLink({ engine }).withStructuredOutput(z.object({ city: z.string() }), { name: "Answer" });
    assert.deepEqual(await structured.invoke("Capital of France?"), { city: "Paris" });
    assert.ok(engine.requests[0]?.messages?.[0]?.content.includes('"name":"Answer"'));
  });

  it("a malformed block becomes an invalid tool call", async function () {
    const engine = new FakeKvLinkEngine({ respond: () => "<tool_call>{not json}</tool_call>" });
    const answer = await new ChatKVLink({ engine }).bindTools([weather]).invoke("x");
    assert.equal(answer.tool_calls?.length, 0);
    assert.equal(answer.invalid_tool_calls?.length, 1);
  });

  it("writes earlier tool calls and tool results back in the convention", async function () {
    const engine = new FakeKvLinkEngine({ respond: () => "It is sunny." });
    const model = new ChatKVLink({ engine }).bindTools([weather]);
    await model.invoke([
      new HumanMessage("Weather in Oslo?"),
      new AIMessage({ content: "", tool_calls: [{ id: "call_1", name: "get_weather", args: { city: "Oslo" } }] }),
      new ToolMessage({ content: "sunny in Oslo", tool_call_id: "call_1", name: "get_weather" }),
    ]);
    const messages = engine.requests[0]?.messages ?? [];
    assert.deepEqual(messages.slice(1).map((m) => m.role), ["user", "assistant", "tool"]);
    assert.equal(messages[2]?.content, '<tool_call>{"name":"get_weather","arguments":{"city":"Oslo"}}</tool_call>');
    assert.equal(messages[3]?.content, '<tool_response>{"name":"get_weather","tool_call_id":"call_1","content":"sunny in Oslo"}</tool_response>');
  });

  it("tool_choice: 'none' leaves tools out, a forced unknown tool is InvalidInputError", async function () {
    const engine = new FakeKvLinkEngine();
    await new ChatKVLink({ engine }).bindTools([weather], { tool_choice: "none" }).invoke("x");
    assert.equal(engine.requests[0]?.messages?.[0]?.role, "user");
    await assert.rejects(new ChatKVLink({ engine }).bindTools([weather], { tool_choice: "nope" }).invoke("x"), InvalidInputError);
  });

  it("toolCalling 'template' passes the definitions to the chat template; 'none' refuses tools", async function () {
    const engine = new FakeKvLinkEngine();
    await new ChatKVLink({ engine, toolCalling: "template" }).bindTools([weather]).invoke("x");
    const tools = engine.requests[0]?.templateVariables?.["tools"] as { function: { name: string } }[];
    assert.deepEqual(tools.map((t) => t.function.name), ["get_weather"]);
    assert.equal(engine.requests[0]?.messages?.length, 1);
    const noTools = new ChatKVLink({ engine, toolCalling: "none" });
    assert.throws(() => noTools.bindTools([weather]), UnsupportedModelError);
    await assert.rejects(noTools.invoke("x", { tools: [{ type: "function", function: { name: "f", parameters: {} } }] }), UnsupportedModelError);
  });

  it("batch and concurrent invoke each get their own answer", async function () {
    const engine = new FakeKvLinkEngine();
    const model = new ChatKVLink({ engine });
    const inputs = Array.from({ length: 6 }, (_, i) => `question ${i}`);
    const batched = await model.batch(inputs, { documents: DOCS } as never);
    assert.deepEqual(batched.map((m) => m.content), inputs.map((q) => `echo: ${q}`));
    const concurrent = await Promise.all(inputs.map((q) => model.invoke(q, { documents: DOCS })));
    assert.deepEqual(concurrent.map((m) => m.content), inputs.map((q) => `echo: ${q}`));
    assert.ok(concurrent.every((m) => kvlinkOf(m).docTokensComputed === 0));
  });

  it("passes the abort signal to the engine and rejects when aborted", async function () {
    const engine = new FakeKvLinkEngine({ respond: () => "a long answer ".repeat(50) });
    const controller = new AbortController();
    const model = new ChatKVLink({ engine });
    const pending = model.invoke("x", { signal: controller.signal });
    controller.abort();
    await assert.rejects(pending);
    assert.equal(engine.requests[0]?.signal?.aborted, true);
  });

  it("rejects bad input with InvalidInputError: no engine, non-text content, bad documents", async function () {
    assert.throws(() => new ChatKVLink({} as never), InvalidInputError);
    assert.throws(() => new ChatKVLink({ engine: new FakeKvLinkEngine(), toolCalling: "maybe" as never }), InvalidInputError);
    const model = new ChatKVLink({ engine: new FakeKvLinkEngine() });
    await assert.rejects(model.invoke([new HumanMessage({ content: [{ type: "image_url", image_url: "data:," }] })]), InvalidInputError);
    await assert.rejects(model.invoke("x", { documents: [{ text: "no pageContent" }] as never }), InvalidInputError);
  });

  it("is not serializable and names itself kvlink", function () {
    const model = new ChatKVLink({ engine: new FakeKvLinkEngine() });
    assert.equal(model.lc_serializable, false);
    assert.equal(model._llmType(), "kvlink");
    assert.equal(ChatKVLink.lc_name(), "ChatKVLink");
  });
});
