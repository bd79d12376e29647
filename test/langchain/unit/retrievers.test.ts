import assert from "node:assert/strict";
import { Document } from "@langchain/core/documents";
import { BaseRetriever } from "@langchain/core/retrievers";
import { MemoryVectorStore } from "@langchain/classic/vectorstores/memory";
import { ChatKVLink } from "../../../packages/langchain-adapter/src/chat_models.js";
import type { KVLinkCallMetadata } from "../../../packages/langchain-adapter/src/metadata.js";
import { KVLinkRetriever } from "../../../packages/langchain-adapter/src/retrievers.js";
import { BM25Retriever } from "../support/community.js";
import { FakeKvLinkEngine } from "../support/FakeKvLinkEngine.js";
import { HashingEmbeddings } from "../support/HashingEmbeddings.js";
import { InvalidInputError } from "../support/errors.js";

const CORPUS = [
  new Document({ pageContent: "Cats purr when they are content.", metadata: { source: "cats" }, id: "c" }),
  new Document({ pageContent: "Dogs bark at the mail carrier.", metadata: { source: "dogs" } }),
  new Document({ pageContent: "Parrots can imitate human speech.", metadata: { source: "parrots" } }),
];

describe("langchain/KVLinkRetriever (fake engine)", function () {
  it("wraps BM25Retriever: same documents, copied, with metadata.kvlink.cacheKey, caches warmed", async function () {
    const engine = new FakeKvLinkEngine();
    const bm25 = BM25Retriever.fromDocuments(CORPUS, { k: 2 });
    const retriever = new KVLinkRetriever({ retriever: bm25, engine });
    const docs = await retriever.invoke("why do dogs bark");
    const plain = await bm25.invoke("why do dogs bark");
    assert.deepEqual(docs.map((d) => d.pageContent), plain.map((d) => d.pageContent));
    assert.equal(docs[0]?.pageContent, CORPUS[1]?.pageContent);
    for (const doc of docs) {
      assert.deepEqual(doc.metadata["kvlink"], { cacheKey: engine.documentKey(doc.pageContent) });
      assert.equal(typeof doc.metadata["source"], "string");
    }
    assert.ok(CORPUS.every((d) => (d.metadata as Record<string, unknown>)["kvlink"] === undefined), "the wrapped store's Documents are not modified");
    await retriever.whenWarm();
    assert.ok(docs.every((d) => engine.hasCached(d.pageContent)));
    assert.equal(engine.precomputeCalls.length, 1);
  });

  it("wraps a MemoryVectorStore retriever (hashing embeddings); the next model call computes 0 document tokens", async function () {
    const engine = new FakeKvLinkEngine();
    const store = await MemoryVectorStore.fromDocuments(CORPUS, new HashingEmbeddings());
    const retriever = new KVLinkRetriever({ retriever: store.asRetriever({ k: 1 }), engine, awaitWarm: true });
    const docs = await retriever.invoke("parrots imitate speech");
    assert.deepEqual(docs.map((d) => d.metadata["source"]), ["parrots"]);
    const answer = await new ChatKVLink({ engine }).invoke("What can parrots do?", { documents: docs });
    const kv = answer.response_metadata["kvlink"] as KVLinkCallMetadata;
    assert.equal(kv.docTokensComputed, 0);
    assert.equal(kv.docTokensReused, 5);
  });

  it("does not warm when warm is false, and warms a document only once while in flight", async function () {
    const engine = new FakeKvLinkEngine();
    const cold = new KVLinkRetriever({ retriever: BM25Retriever.fromDocuments(CORPUS, { k: 1 }), engine, warm: false });
    await cold.invoke("cats");
    await cold.whenWarm();
    assert.equal(engine.precomputeCalls.length, 0);
    const warm = new KVLinkRetriever({ retriever: BM25Retriever.fromDocuments(CORPUS, { k: 1 }), engine });
    const release = engine.holdPrecompute();
    await warm.invoke("cats");
    await warm.invoke("cats purr");
    assert.equal(engine.hasCached(CORPUS[0]!.pageContent), false);
    release();
    await warm.whenWarm();
    assert.equal(engine.precomputeCalls.length, 1);
    assert.equal(engine.hasCached(CORPUS[0]!.pageContent), true);
  });

  it("hands warm-up failures to onWarmError and never rejects in the background", async function () {
    const engine = new FakeKvLinkEngine({ failPrecompute: true });
    const failures: unknown[] = [];
    const retriever = new KVLinkRetriever({
      retriever: BM25Retriever.fromDocuments(CORPUS, { k: 2 }),
      engine,
      onWarmError: (error, documents) => failures.push([error, documents.length]),
    });
    const docs = await retriever.invoke("dogs");
    assert.equal(docs.length, 2);
    await retriever.whenWarm();
    assert.equal(failures.length, 1);
    assert.equal((failures[0] as [Error, number])[1], 2);
  });

  it("is a BaseRetriever with its own namespace, and checks its arguments", function () {
    const retriever = new KVLinkRetriever({ retriever: BM25Retriever.fromDocuments(CORPUS, { k: 1 }), engine: new FakeKvLinkEngine() });
    assert.ok(retriever instanceof BaseRetriever);
    assert.deepEqual(retriever.lc_namespace, ["kvlink", "retrievers"]);
    assert.throws(() => new KVLinkRetriever({ retriever: {} as never, engine: new FakeKvLinkEngine() }), InvalidInputError);
    assert.throws(() => new KVLinkRetriever({ retriever: BM25Retriever.fromDocuments(CORPUS, { k: 1 }), engine: undefined as never }), InvalidInputError);
  });
});
