import assert from "node:assert/strict";
import { Document } from "@langchain/core/documents";
import { PromptTemplate } from "@langchain/core/prompts";
import { formatDocumentsForKVLink } from "../../../packages/langchain-adapter/src/format.js";
import { KVLinkLLM } from "../../../packages/langchain-adapter/src/llms.js";
import type { KVLinkCallMetadata } from "../../../packages/langchain-adapter/src/metadata.js";
import { FakeKvLinkEngine } from "../support/FakeKvLinkEngine.js";
import { InvalidInputError } from "../support/errors.js";

const DOC = new Document({ pageContent: "Mount Everest is 8849 metres high." });

describe("langchain/KVLinkLLM (fake engine)", function () {
  it("sends the prompt as the question, with the system text, sampling options and stop sequences", async function () {
    const engine = new FakeKvLinkEngine();
    const llm = new KVLinkLLM({ engine, system: "Be exact.", greedy: true, stop: ["\n"] });
    const text = await llm.invoke("How high?", { seed: 7, stop: ["###"] });
    assert.equal(text, "echo: How high?");
    const request = engine.requests[0];
    assert.equal(request?.question, "How high?");
    assert.equal(request?.system, "Be exact.");
    assert.equal(request?.greedy, true);
    assert.equal(request?.seed, 7);
    assert.deepEqual(request?.stop, ["\n", "###"]);
  });

  it("cuts marked documents out of a PromptTemplate's output and reports reuse per generation", async function () {
    const engine = new FakeKvLinkEngine();
    const llm = new KVLinkLLM({ engine });
    const prompt = PromptTemplate.fromTemplate("Context: {context}\nQuestion: {question}");
    const chain = prompt.pipe(llm);
    const answer = await chain.invoke({ context: formatDocumentsForKVLink([DOC]), question: "How high?" });
    assert.equal(answer, "echo: Context:\nQuestion: How high?");
    assert.deepEqual(engine.requests[0]?.documents, [{ text: DOC.pageContent }]);

    const result = await llm.generate(["Again?"], { documents: [DOC] });
    const info = result.generations[0]?.[0]?.generationInfo?.["kvlink"] as KVLinkCallMetadata;
    assert.equal(info.docTokensComputed, 0);
    assert.equal(info.docTokensReused, 6);
    assert.ok((result.llmOutput?.["tokenUsage"] as { promptTokens: number }).promptTokens > 6);
  });

  it("streams several chunks in order and calls handleLLMNewToken for each", async function () {
    const engine = new FakeKvLinkEngine({ respond: () => "the quick brown fox", pieceSize: 2 });
    const llm = new KVLinkLLM({ engine });
    const tokens: string[] = [];
    const chunks: string[] = [];
    for await (const chunk of await llm.stream("x", { callbacks: [{ handleLLMNewToken: (t: string) => void tokens.push(t) }] })) chunks.push(chunk);
    const nonEmpty = chunks.filter((c) => c.length > 0);
    assert.ok(nonEmpty.length >= 5);
    assert.equal(nonEmpty.join(""), "the quick brown fox");
    assert.deepEqual(tokens, nonEmpty);
  });

  it("batches prompts, each with its own answer", async function () {
    const engine = new FakeKvLinkEngine();
    const llm = new KVLinkLLM({ engine });
    assert.deepEqual(await llm.batch(["a", "b", "c"]), ["echo: a", "echo: b", "echo: c"]);
    const result = await llm.generate(["d", "e"]);
    assert.deepEqual(result.generations.map((g) => g[0]?.text), ["echo: d", "echo: e"]);
  });

  it("rejects a missing engine and damaged marks with InvalidInputError", async function () {
    assert.throws(() => new KVLinkLLM({ engine: { generate() {} } as never }), InvalidInputError);
    const llm = new KVLinkLLM({ engine: new FakeKvLinkEngine() });
    await assert.rejects(llm.invoke(formatDocumentsForKVLink(["abc"]).replace("abc", "abcd")), InvalidInputError);
  });
});
