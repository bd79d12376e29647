import assert from "node:assert/strict";
import { Document } from "@langchain/core/documents";
import { AIMessage, HumanMessage, type BaseMessage } from "@langchain/core/messages";
import { StringOutputParser } from "@langchain/core/output_parsers";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { RunnablePassthrough, RunnableSequence } from "@langchain/core/runnables";
import { tool } from "@langchain/core/tools";
import { Annotation, END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { createAgent } from "langchain";
import { z } from "zod";
import { ChatKVLink } from "../../../packages/langchain-adapter/src/chat_models.js";
import { formatDocumentsForKVLink } from "../../../packages/langchain-adapter/src/format.js";
import type { KVLinkCallMetadata } from "../../../packages/langchain-adapter/src/metadata.js";
import { KVLinkRetriever } from "../../../packages/langchain-adapter/src/retrievers.js";
import { BM25Retriever } from "../support/community.js";
import { FakeKvLinkEngine } from "../support/FakeKvLinkEngine.js";

const CORPUS = [
  new Document({ pageContent: "The Nile is the longest river in Africa." }),
  new Document({ pageContent: "The Amazon carries the most water of any river." }),
  new Document({ pageContent: "Mount Kilimanjaro is the highest mountain in Africa." }),
];

const kvOf = (message: BaseMessage): KVLinkCallMetadata => (message.response_metadata as Record<string, unknown>)["kvlink"] as KVLinkCallMetadata;

describe("langchain flows over ChatKVLink (fake engine)", function () {
  it("retrieval chain: BM25 → formatDocumentsForKVLink → prompt → model → parser", async function () {
    const engine = new FakeKvLinkEngine();
    const retriever = new KVLinkRetriever({ retriever: BM25Retriever.fromDocuments(CORPUS, { k: 2 }), engine, awaitWarm: true });
    const prompt = ChatPromptTemplate.fromMessages([
      ["system", "Use the context.\n\n{context}"],
      ["human", "{question}"],
    ]);
    const chain = RunnableSequence.from([
      { context: retriever.pipe((docs: Document[]) => formatDocumentsForKVLink(docs)), question: new RunnablePassthrough() },
      prompt,
      new ChatKVLink({ engine }),
      new StringOutputParser(),
    ]);
    const answer = await chain.invoke("Which river is the longest in Africa?");
    assert.equal(answer, "echo: Which river is the longest in Africa?");
    const request = engine.requests[0];
    assert.equal(request?.messages?.[0]?.content, "Use the context.\n\n");
    assert.equal((request?.documents?.[0] as { text: string }).text, CORPUS[0]?.pageContent);
    assert.equal(request?.documents?.length, 2);
  });

  it("LangGraph: two nodes call one model with the same documents; the second computes 0 document tokens", async function () {
    const engine = new FakeKvLinkEngine();
    const model = new ChatKVLink({ engine });
    const documents = CORPUS.slice(0, 2);
    const State = Annotation.Root({ ...MessagesAnnotation.spec, reports: Annotation<KVLinkCallMetadata[]>({ reducer: (a, b) => [...a, ...b], default: () => [] }) });
    const node = (instruction: string) => async (state: typeof State.State) => {
      const reply = await model.invoke([...state.messages, new HumanMessage(instruction)], { documents });
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
    assert.equal(final.reports.length, 2);
    assert.ok((final.reports[0]?.docTokensComputed ?? 0) > 0);
    assert.equal(final.reports[1]?.docTokensComputed, 0);
    assert.equal(final.reports[1]?.docTokensReused, final.reports[0]?.docTokensComputed);
    assert.equal(final.messages.length, 3);
  });

  it("createAgent: human → ai(tool_call) → tool → ai, with documents marked in the system prompt", async function () {
    const engine = new FakeKvLinkEngine({
      respond: (request) => {
        const last = request.messages?.[request.messages.length - 1];
        return last?.role === "tool" ? "The Nile is 6650 km long." : '<tool_call>{"name": "river_length", "arguments": {"river": "Nile"}}</tool_call>';
      },
    });
    const calls: string[] = [];
    const riverLength = tool(async ({ river }: { river: string }) => (calls.push(river), `${river}: 6650 km`), {
      name: "river_length",
      description: "Length of a river in km",
      schema: z.object({ river: z.string() }),
    });
    const agent = createAgent({
      model: new ChatKVLink({ engine }),
      tools: [riverLength],
      systemPrompt: `Answer with the tools and this context:\n${formatDocumentsForKVLink(CORPUS.slice(0, 1))}`,
    });
    const result = await agent.invoke({ messages: [new HumanMessage("How long is the Nile?")] });
    assert.deepEqual(calls, ["Nile"]);
    const types = result.messages.map((m: BaseMessage) => m.getType());
    assert.deepEqual(types, ["human", "ai", "tool", "ai"]);
    const last = result.messages[result.messages.length - 1] as AIMessage;
    assert.equal(last.content, "The Nile is 6650 km long.");
    assert.equal(kvOf(last).docTokensReused, 8);
    assert.equal(engine.requests.length, 2);
    assert.ok(engine.requests.every((r) => r.documents?.length === 1));
  });
});
