import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Document } from "@langchain/core/documents";
import { InvalidInputError } from "@kvlink/core";
import { buildCorpus } from "../../../packages/agents-demo/src/corpus/buildCorpus.js";
import { summarizeTurns } from "../../../packages/agents-demo/src/report/summarizeTurns.js";
import { Bm25Retriever, tokenizeForSearch } from "../../../packages/agents-demo/src/retrieval/Bm25Retriever.js";
import { parseReview } from "../../../packages/agents-demo/src/workflow/agentPrompts.js";
import type { AgentTurn } from "../../../packages/agents-demo/src/workflow/buildWorkflow.js";
import { writeFixtureCorpus } from "../support/fixtureCorpus.js";

/** A whitespace "tokenizer": the corpus builder only needs counts. */
const countWords = (text: string): number => text.split(/\s+/).filter((w) => w !== "").length;

describe("agents-demo/buildCorpus (ts-morph + markdown)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kvlink-corpus-"));
    await writeFixtureCorpus(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("makes one document per exported declaration (JSDoc + signature, no bodies, no private members) plus markdown sections", async () => {
    const docs = await buildCorpus(dir, { maxDocTokens: 200, countTokens: countWords });
    const ids = docs.map((d) => d.id);
    assert.deepEqual(ids.filter((id) => !id.startsWith("README")), [
      "src/index.ts#SurveyOptions",
      "src/store/LighthouseStore.ts#LighthouseStore",
      "src/store/LighthouseStore.ts#ferryMinutes",
      "src/store/LighthouseStore.ts#SURVEY_INTERVAL_DAYS",
    ], "re-exports, tests, node_modules and unexported declarations are left out");
    const store = docs.find((d) => d.title === "LighthouseStore")!;
    assert.match(store.text, /Keeps lighthouse records/);
    assert.match(store.text, /static open\(path: string\): LighthouseStore;/);
    assert.match(store.text, /keeperOf\(name: string\): string \| undefined;/);
    assert.doesNotMatch(store.text, /Agnes Morrow|#secret|private constructor/, "bodies and private members stay out");
    const ferry = docs.find((d) => d.title === "ferryMinutes")!;
    assert.match(ferry.text, /export function ferryMinutes\(weather: 'calm' \| 'storm'\): number;/);
    assert.doesNotMatch(ferry.text, /return 90/);
    assert.ok(docs.some((d) => d.kind === "markdown" && /Vellan Island/.test(d.text)));
    for (const d of docs) assert.equal(d.numTokens, countWords(d.text));
  });

  it("cuts documents to the token budget and rejects a bad budget or a missing folder", async () => {
    const docs = await buildCorpus(dir, { maxDocTokens: 16, countTokens: countWords });
    for (const d of docs) assert.ok(d.numTokens <= 16, `${d.id}: ${d.numTokens} tokens`);
    await assert.rejects(buildCorpus(dir, { maxDocTokens: 2, countTokens: countWords }), InvalidInputError);
    await assert.rejects(buildCorpus(join(dir, "nope"), { maxDocTokens: 64, countTokens: countWords }), InvalidInputError);
  });
});

describe("agents-demo/Bm25Retriever", () => {
  it("splits identifiers into words and ranks the matching document first", async () => {
    assert.deepEqual(tokenizeForSearch("getOrCompute the KVCacheStore"), ["getorcompute", "get", "compute", "kvcachestore", "kv", "cache", "store"]);
    const docs = ["The ferry takes 50 minutes.", "export function getOrCompute(key) — computes a cache entry once", "A lighthouse on the point."].map(
      (t, i) => new Document({ pageContent: t, metadata: { id: `d${i}` } }),
    );
    const bm25 = new Bm25Retriever({ documents: docs, k: 2 });
    const found = await bm25.invoke("how is a cache entry computed?");
    assert.equal(found[0]!.metadata["id"], "d1");
    assert.ok(found.length <= 2);
    assert.deepEqual(await bm25.invoke("zebra"), [], "documents that match no term are not returned");
    assert.throws(() => new Bm25Retriever({ documents: docs, k: 0 }), InvalidInputError);
  });
});

describe("agents-demo/parseReview and summarizeTurns", () => {
  it("parses the reviewer's verdict and falls back to OK when there is none", () => {
    assert.deepEqual(parseReview("No, the ferry time is missing."), { verdict: "revise", feedback: "the ferry time is missing.", parsed: true });
    assert.deepEqual(parseReview("Yes."), { verdict: "ok", feedback: "", parsed: true });
    assert.equal(parseReview("VERDICT: REVISE add the keeper").verdict, "revise");
    assert.equal(parseReview("verdict - ok").verdict, "ok");
    assert.equal(parseReview("Nothing is missing").parsed, false, "a word that only starts with no is not a verdict");
    assert.deepEqual(parseReview("The notes look fine to me"), { verdict: "ok", feedback: "The notes look fine to me", parsed: false });
  });

  it("sums calls, TTFT, reused and computed tokens per agent, with a total row", () => {
    const turn = (agent: "researcher" | "writer", reused: number, computed: number, ttftMs: number): AgentTurn => ({
      agent, question: "q", retrievalQuery: "q", documentIds: [], output: "", docTokens: reused + computed,
      kvlink: { mode: "kvlink", ttftMs, docTokensReused: reused, docTokensComputed: computed, freshTokens: 1, promptPositions: 1, numGeneratedTokens: 1, tokensPerSecond: 1, finishReason: "stop", documentKeys: [] },
    });
    const rows = summarizeTurns([turn("researcher", 0, 100, 300), turn("writer", 100, 0, 100), turn("researcher", 50, 50, 100)]);
    assert.deepEqual(rows.map((r) => [r.agent, r.calls, r.meanTtftMs, r.docTokensReused, r.docTokensComputed, r.hitRate]), [
      ["researcher", 2, 200, 50, 150, 0.25],
      ["writer", 1, 100, 100, 0, 1],
      ["total", 3, 500 / 3, 150, 150, 0.5],
    ]);
  });
});
