import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Document } from "@langchain/core/documents";
import { HumanMessage, type AIMessage, type AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import { StringOutputParser } from "@langchain/core/output_parsers";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { RunnablePassthrough, RunnableSequence } from "@langchain/core/runnables";
import { tool } from "@langchain/core/tools";
import { Annotation, END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { createAgent } from "langchain";
import { z } from "zod";
import { KvLinkEngine } from "../../../packages/core/src/engine/KvLinkEngine.js";
import { writeTinyModel } from "../../../packages/core/src/graph/writeTinyModel.js";
import { ChatKVLink } from "../../../packages/langchain-adapter/src/chat_models.js";
import type { KvLinkEngineLike } from "../../../packages/langchain-adapter/src/engine.js";
import { formatDocumentsForKVLink } from "../../../packages/langchain-adapter/src/format.js";
import { KVLinkLLM } from "../../../packages/langchain-adapter/src/llms.js";
import type { KVLinkCallMetadata } from "../../../packages/langchain-adapter/src/metadata.js";
import { KVLinkRetriever } from "../../../packages/langchain-adapter/src/retrievers.js";
import { BM25Retriever } from "../support/community.js";

const kvOf = (message: BaseMessage): KVLinkCallMetadata => (message.response_metadata as Record<string, unknown>)["kvlink"] as KVLinkCallMetadata;

/** Distinct documents per test, so that one test's cached documents do not change another's counts. */
function corpus(tag: string): Document[] {
  return [
    new Document({ pageContent: `${tag}: The river Nile flows north through Egypt into the sea.` }),
    new Document({ pageContent: `${tag}: The Amazon river carries more water than any other river.` }),
    new Document({ pageContent: `${tag}: Mount Kilimanjaro is the highest mountain of Africa.` }),
  ];
}

describe("langchain integration: real KvLinkEngine on a tiny model", function () {
  this.timeout(180_000);
  let dir: string;
  let engine: KvLinkEngine;
  let chat: ChatKVLink;
  const tokens = (docs: readonly Document[]): number => docs.reduce((n, d) => n + engine.countTokens(d.pageContent), 0);

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), "kvlink-lc-"));
    await writeTinyModel(dir, { layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 384, seed: 5, signature: "kvlink", quant: "fp32", maxPositionEmbeddings: 1024 });
    engine = await KvLinkEngine.create({ model: dir, numThreads: 1 });
    const engineLike: KvLinkEngineLike = engine; // the adapter's structural interface accepts the real engine
    chat = new ChatKVLink({ engine: engineLike, greedy: true, maxTokens: 12 });
  });

  after(async function () {
    await engine?.dispose();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("a prompt template piped to the chat model: the second call reuses every document token", async function () {
    const docs = corpus("template");
    const prompt = ChatPromptTemplate.fromMessages([
      ["system", "Answer from the context.\n\n{context}"],
      ["human", "{question}"],
    ]);
    const chain = prompt.pipe(chat);
    const context = formatDocumentsForKVLink(docs);
    const first = await chain.invoke({ context, question: "Where does the Nile flow?" });
    const second = await chain.invoke({ context, question: "Which river carries most water?" });
    assert.equal(typeof first.content, "string");
    assert.deepEqual([kvOf(first).docTokensComputed, kvOf(first).docTokensReused], [tokens(docs), 0]);
    assert.deepEqual([kvOf(second).docTokensComputed, kvOf(second).docTokensReused], [0, tokens(docs)]);
    assert.deepEqual(kvOf(second).documentKeys, docs.map((d) => engine.documentKey(d.pageContent)));
    assert.equal(kvOf(second).mode, "kvlink");
    assert.equal(second.usage_metadata?.input_tokens, kvOf(second).promptPositions);
    assert.equal(second.usage_metadata?.input_token_details?.cache_read, tokens(docs));
  });

  it("a retrieval chain over BM25: retrieved documents are warmed, so the model call computes none", async function () {
    const docs = corpus("bm25");
    const retriever = new KVLinkRetriever({ retriever: BM25Retriever.fromDocuments(docs, { k: 2 }), engine, awaitWarm: true });
    const prompt = ChatPromptTemplate.fromMessages([
      ["system", "Use the context.\n\n{context}"],
      ["human", "{question}"],
    ]);
    let retrieved: Document[] = [];
    const chain = RunnableSequence.from([
      {
        context: retriever.pipe((found: Document[]) => ((retrieved = found), formatDocumentsForKVLink(found))),
        question: new RunnablePassthrough(),
      },
      prompt,
      chat,
    ]);
    const answer = (await chain.invoke("Which mountain is the highest of Africa?")) as AIMessage;
    assert.equal(retrieved.length, 2);
    assert.equal(retrieved[0]?.pageContent, docs[2]?.pageContent);
    assert.deepEqual(kvOf(answer).documentKeys, retrieved.map((d) => (d.metadata["kvlink"] as { cacheKey: string }).cacheKey));
    assert.equal(kvOf(answer).docTokensComputed, 0);
    assert.equal(kvOf(answer).docTokensReused, tokens(retrieved));
    const text = await chain.pipe(new StringOutputParser()).invoke("Which mountain is the highest of Africa?");
    assert.equal(text, answer.content, "greedy decoding over the same cached layout gives the same answer");
  });

  it("a LangGraph StateGraph: two nodes, one model, same documents; the second call computes 0 document tokens", async function () {
    const documents = corpus("graph");
    const State = Annotation.Root({ ...MessagesAnnotation.spec, reports: Annotation<KVLinkCallMetadata[]>({ reducer: (a, b) => [...a, ...b], default: () => [] }) });
    const node = (instruction: string) => async (state: typeof State.State) => {
      const reply = await chat.invoke([...state.messages, new HumanMessage(instruction)], { documents });
      return { messages: [reply], reports: [kvOf(reply)] };
    };
    const graph = new StateGraph(State)
      .addNode("researcher", node("List the rivers."))
      .addNode("writer", node("Write one sentence."))
      .addEdge(START, "researcher")
      .addEdge("researcher", "writer")
      .addEdge("writer", END)
      .compile();
    const final = await graph.invoke({ messages: [new HumanMessage("Tell me about rivers.")] });
    assert.deepEqual(final.reports.map((r) => r.docTokensComputed), [tokens(documents), 0]);
    assert.equal(final.reports[1]?.docTokensReused, tokens(documents));
    assert.equal(final.messages.length, 3);
  });

  it("streams several chunks, in order, matching invoke and the token callbacks", async function () {
    const docs = corpus("stream");
    const options = { documents: docs, maxTokens: 16 };
    const invoked = await chat.invoke("Tell me about the Nile.", options);
    const streamed: string[] = [];
    const callbackTokens: string[] = [];
    let last: AIMessageChunk | undefined;
    for await (const chunk of await chat.stream("Tell me about the Nile.", {
      ...options,
      callbacks: [{ handleLLMNewToken: (t: string) => void callbackTokens.push(t) }],
    })) {
      if (typeof chunk.content === "string" && chunk.content.length > 0) streamed.push(chunk.content);
      last = chunk;
    }
    assert.ok(streamed.length >= 2, `expected several chunks, got ${streamed.length}`);
    assert.equal(streamed.join(""), invoked.content);
    assert.deepEqual(callbackTokens.filter((t) => t.length > 0), streamed);
    assert.equal(last?.usage_metadata?.output_tokens, kvOf(invoked).numGeneratedTokens);
    assert.equal(kvOf(last!).docTokensComputed, 0);
  });

  it("bindTools: the tool definitions reach the prompt, output is parsed, and a createAgent run completes", async function () {
    const lookup = tool(async ({ river }: { river: string }) => `${river}: 6650 km`, {
      name: "river_length",
      description: "Length of a river in kilometres",
      schema: z.object({ river: z.string() }),
    });
    const plain = await chat.invoke("How long is the Nile?");
    const withTools = await chat.bindTools([lookup]).invoke("How long is the Nile?");
    const extra = kvOf(withTools).promptPositions - kvOf(plain).promptPositions;
    assert.ok(extra >= engine.countTokens('"river_length"') + engine.countTokens("Length of a river in kilometres"), `tools added ${extra} prompt tokens`);
    assert.ok(Array.isArray(withTools.tool_calls));
    assert.ok(!String(withTools.content).includes("<tool_call>"));
    const agent = createAgent({ model: chat, tools: [lookup], systemPrompt: "You answer questions about rivers." });
    const result = await agent.invoke({ messages: [new HumanMessage("How long is the Nile?")] });
    const types = result.messages.map((m: BaseMessage) => m.getType());
    assert.equal(types[0], "human");
    assert.equal(types[types.length - 1], "ai");
  });

  it("batch and concurrent invoke give each question the answer it gets alone", async function () {
    const docs = corpus("batch");
    const questions = ["Where does the Nile flow?", "Which river is biggest?", "What is high?", "Name a mountain."];
    const alone: string[] = [];
    for (const q of questions) alone.push(String((await chat.invoke(q, { documents: docs })).content));
    const batched = await chat.batch(questions, { documents: docs } as never);
    const concurrent = await Promise.all(questions.map((q) => chat.invoke(q, { documents: docs })));
    assert.deepEqual(batched.map((m) => m.content), alone);
    assert.deepEqual(concurrent.map((m) => m.content), alone);
    assert.ok(concurrent.every((m) => kvOf(m).docTokensComputed === 0));
  });

  it("KVLinkLLM: a marked string prompt reuses caches and reports them in generationInfo", async function () {
    const docs = corpus("llm");
    const llm = new KVLinkLLM({ engine, greedy: true, maxTokens: 8 });
    const prompt = `Context:\n${formatDocumentsForKVLink(docs)}\nQuestion: Where does the Nile flow?`;
    await llm.invoke(prompt);
    const result = await llm.generate([prompt]);
    const info = result.generations[0]?.[0]?.generationInfo?.["kvlink"] as KVLinkCallMetadata;
    assert.equal(info.docTokensComputed, 0);
    assert.equal(info.docTokensReused, tokens(docs));
  });

  it("an aborted call rejects", async function () {
    const controller = new AbortController();
    const pending = chat.invoke("Tell me everything.", { maxTokens: 200, signal: controller.signal });
    controller.abort();
    await assert.rejects(pending);
  });
});
