import assert from "node:assert/strict";
import { columnKey, computeAggregates } from "../../../eval/harness/computeAggregates.js";
import { DatasetFormatError, parseQaRecords, selectRecords } from "../../../eval/harness/loadJsonl.js";
import { parseEvalArgs, parseModelSpec, UsageError } from "../../../eval/harness/parseEvalArgs.js";
import { escapeXml, renderLinePlot } from "../../../eval/harness/renderLinePlot.js";
import { renderSummary } from "../../../eval/harness/renderSummary.js";
import { chunkIds, chunkNll, commonPrefixLength, computeChatAgreement } from "../../../eval/harness/runChecks.js";
import { isCorrectAnswer, matchAnswer, normalizeAnswer } from "../../../eval/harness/scoreAnswer.js";
import type { EvalMode, EvalReport, RecordOutcome } from "../../../eval/harness/types.js";
import { renderSlotPlot } from "../../../eval/harness/writeReport.js";

/** Checks that every tag of an XML text is closed in order (enough to catch a broken generator). */
function assertWellFormedXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, "");
  assert.ok(body.startsWith("<svg"), "root element is <svg>");
  const stack: string[] = [];
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m;
    if (selfClosing === "/") continue;
    if (closing === "/") assert.equal(stack.pop(), name, `closing </${name}>`);
    else stack.push(name!);
  }
  assert.deepEqual(stack, [], "every element closed");
  const stripped = body.replace(/<[^>]*>/g, "");
  assert.doesNotMatch(stripped, /[<>]|&(?!amp;|lt;|gt;|quot;|apos;)/, "text nodes are escaped");
}

function outcome(model: string, mode: EvalMode, id: string, correct: boolean, extra: Partial<RecordOutcome> = {}): RecordOutcome {
  return {
    model, mode, recordId: id, dataset: "syn", split: "test", kind: "lookup", gold: [0], numDocuments: 3,
    question: "q", answer: ["a"], output: correct ? "a" : "b", correct, ttftMs: 100, tokensPerSecond: 20, numGeneratedTokens: 5,
    ...extra,
  };
}

describe("eval harness", () => {
  describe("SQuAD normalization", () => {
    it("lowercases, strips punctuation and articles, collapses whitespace", () => {
      assert.equal(normalizeAnswer("  The  Eiffel   Tower!  "), "eiffel tower");
      assert.equal(normalizeAnswer("A cat, an owl & the dog."), "cat owl dog");
      assert.equal(normalizeAnswer("U.S.A."), "usa");
      assert.equal(normalizeAnswer("theatre then another"), "theatre then another");
    });
    it("handles Unicode: NFKC, curly quotes, dashes, accented letters next to articles", () => {
      assert.equal(normalizeAnswer("“Zürich” — the city"), "zürich city");
      assert.equal(normalizeAnswer("Zu\u0308rich"), normalizeAnswer("Zürich"));
      assert.equal(normalizeAnswer("ＡＢＣ"), "abc");
      assert.equal(normalizeAnswer("éthe the"), "éthe");
      assert.equal(normalizeAnswer("A\u00a0B"), "b");
    });
  });

  describe("substring scoring", () => {
    it("is correct when any alias is a substring of the answer", () => {
      assert.equal(isCorrectAnswer("I think it is Mount Everest, in Nepal.", ["K2", "Everest"]), true);
      assert.equal(matchAnswer("I think it is Mount Everest, in Nepal.", ["K2", "Everest"]), "Everest");
      assert.equal(isCorrectAnswer("The answer is Paris.", "paris"), true);
      assert.equal(isCorrectAnswer("Lyon", ["Paris"]), false);
    });
    it("matches across punctuation and articles, not across word boundaries lost by normalization", () => {
      assert.equal(isCorrectAnswer("It's the U.S. Navy", ["US Navy"]), true);
      assert.equal(isCorrectAnswer("«Le Monde»", ["le monde"]), true);
      assert.equal(isCorrectAnswer("4,471", ["4471"]), true);
      assert.equal(isCorrectAnswer("The code is 4472", ["4471"]), false);
    });
    it("ignores aliases that normalize to nothing", () => {
      assert.equal(isCorrectAnswer("anything", ["The", "!"]), false);
      assert.equal(isCorrectAnswer("a dog", ["The", "dog"]), true);
    });
  });

  describe("records", () => {
    it("fills defaults, accepts a string answer, and names file and line of a bad record", () => {
      const text = `${JSON.stringify({ documents: ["d1"], question: "q?", answer: "x" })}\n\n${JSON.stringify({ documents: ["d"], question: "q" })}\n`;
      assert.throws(() => parseQaRecords(text, "/data/syn.jsonl"), (e: unknown) => e instanceof DatasetFormatError && e.line === 3 && e.path === "/data/syn.jsonl");
      const [r] = parseQaRecords(text.split("\n")[0]!, "/data/syn.jsonl");
      assert.deepEqual([r!.dataset, r!.split, r!.answer, r!.gold, r!.id], ["syn", "-", ["x"], [], "syn:1"]);
    });
    it("rejects invalid JSON, out-of-range gold and unscorable answers", () => {
      assert.throws(() => parseQaRecords("{nope", "f.jsonl"), DatasetFormatError);
      assert.throws(() => parseQaRecords(JSON.stringify({ documents: ["d"], question: "q", answer: "a b", gold: [1] }), "f.jsonl"), DatasetFormatError);
      assert.throws(() => parseQaRecords(JSON.stringify({ documents: ["d"], question: "q", answer: ["the"] }), "f.jsonl"), DatasetFormatError);
    });
    it("selects by split, then stride, then limit", () => {
      const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: i, documents: ["d"], question: "q", answer: "x", split: i < 6 ? "test" : "dev" }));
      const records = parseQaRecords(lines.join("\n"), "f.jsonl");
      assert.deepEqual(selectRecords(records, { split: "test", stride: 2, limit: 2 }).map((r) => r.id), ["0", "2"]);
      assert.equal(selectRecords(records, {}).length, 10);
    });
  });

  describe("arguments", () => {
    it("parses lists, labels and numbers, and rejects unknown modes", () => {
      const a = parseEvalArgs(["--data", "a.jsonl", "b.jsonl", "--model", "base=/m/base", "--model", "/m/tuned", "--modes", "full,epic", "--limit=3"]);
      assert.equal(a.data.length, 2);
      assert.deepEqual(a.models.map((m) => m.label), ["base", "tuned"]);
      assert.deepEqual([a.modes, a.limit, a.stride, a.maxTokens, a.epicTokens], [["full", "epic"], 3, 1, 48, 16]);
      assert.throws(() => parseEvalArgs(["--modes", "full,bogus"]), UsageError);
      assert.throws(() => parseEvalArgs(["--limit", "0"]), UsageError);
      assert.throws(() => parseModelSpec("a/b=/x"), UsageError);
    });

    it("--adapter defaults to the engine's policy (documents), takes always, and rejects anything else", () => {
      assert.equal(parseEvalArgs([]).adapter, "documents");
      assert.equal(parseEvalArgs(["--adapter", "always"]).adapter, "always");
      assert.throws(() => parseEvalArgs(["--adapter", "never"]), UsageError);
      assert.deepEqual(parseEvalArgs(["--modes", "none", "--checks", "chat"]).modes, []);
    });
  });

  describe("aggregation", () => {
    const models = ["m1", "m2"];
    const modes: EvalMode[] = ["full", "kvlink"];
    const outcomes = [
      outcome("m1", "full", "r1", true),
      outcome("m1", "full", "r2", false, { gold: [1, 2], kind: "multi" }),
      outcome("m1", "kvlink", "r1", false, { error: "ContextOverflowError: too long", ttftMs: undefined }),
      outcome("m1", "kvlink", "r2", true, { gold: [1, 2], kind: "multi", ttftMs: 300 }),
      outcome("m2", "full", "r1", true, { split: "dev" }),
    ];
    const agg = computeAggregates(outcomes, models, modes);
    it("counts accuracy and errors per dataset×split and model×mode", () => {
      assert.deepEqual(agg.byDatasetSplit.rows, ["syn · dev", "syn · test"]);
      assert.deepEqual(agg.byDatasetSplit.columns, ["m1/full", "m1/kvlink", "m2/full"]);
      const cell = agg.byDatasetSplit.cells["syn · test"]![columnKey("m1", "kvlink")]!;
      assert.deepEqual([cell.numRecords, cell.numCorrect, cell.numErrors, cell.accuracy], [2, 1, 1, 0.5]);
      assert.equal(agg.byDatasetSplit.cells["syn · dev"]!["m1/full"], undefined);
    });
    it("counts a record once per gold slot, and orders slots numerically", () => {
      assert.deepEqual(agg.bySlot.rows, ["syn · dev · slot 0", "syn · test · slot 0", "syn · test · slot 1", "syn · test · slot 2"]);
      const m1full = agg.slotSeries.find((s) => s.column === "m1/full")!;
      assert.deepEqual(m1full.points.map((p) => [p.slot, p.accuracy]), [[0, 1], [1, 0], [2, 0]]);
      assert.deepEqual(agg.byKind.rows, ["syn · dev · lookup", "syn · test · lookup", "syn · test · multi"]);
    });
    it("averages timing over records that did not fail", () => {
      const row = agg.timing.find((t) => t.model === "m1" && t.mode === "kvlink")!;
      assert.deepEqual([row.numRecords, row.numErrors, row.meanTtftMs, row.meanTokensPerSecond], [2, 1, 300, 20]);
    });
    it("renders a summary with every section and a well-formed SVG", () => {
      const report: EvalReport = {
        meta: {
          startedAt: "s", finishedAt: "f", durationMs: 1000, interrupted: false, commit: "abc", node: "20", data: ["x.jsonl"], modes,
          split: undefined, limit: undefined, stride: 1, maxTokens: 48, epicTokens: 16, system: undefined, numThreads: 2, numRecords: 2,
          models: [{ label: "m1", dir: "/m1", numLinkTokens: 0, identicalModes: { kvlink: "rerotate" } }, { label: "m2", dir: "/m2", numLinkTokens: 5, identicalModes: {} }],
        },
        aggregates: agg,
        checks: { perplexity: [{ model: "m1", numTexts: 1, numScoredTokens: 10, meanNll: 1, perplexity: Math.E, chunkTokens: 1024 }] },
        records: outcomes,
      };
      const md = renderSummary(report);
      for (const heading of ["## Accuracy by dataset and split", "## Accuracy by kind", "## Accuracy by gold-document slot", "## Speed", "## No-document checks"]) {
        assert.ok(md.includes(heading), heading);
      }
      assert.ok(md.includes("m1/kvlink (= rerotate)"));
      assert.ok(md.includes("| syn · test | 2 | 50.0% | 50.0% (1 err) | – |"));
      assert.ok(md.includes("2.72"));
      const svg = renderSlotPlot(report);
      assertWellFormedXml(svg);
      assert.ok(!svg.includes(">m1/kvlink<"), "a copied mode gets no line");
      assert.ok(svg.includes(">m2/full<"));
    });
  });

  describe("SVG plot", () => {
    it("escapes names and stays well-formed with empty and single-point series", () => {
      const svg = renderLinePlot({
        title: `a <b> & "c"`,
        xLabel: "slot",
        yLabel: "acc",
        series: [{ name: "x&y", points: [{ x: 0, y: 0.5 }, { x: 3, y: 1 }] }, { name: "<one>", points: [{ x: 1, y: 0 }] }, { name: "none", points: [] }],
      });
      assertWellFormedXml(svg);
      assert.ok(svg.includes("x&amp;y") && svg.includes("&lt;one&gt;"));
      assert.equal((svg.match(/<polyline /g) ?? []).length, 1);
      assert.equal(escapeXml(`'"`), "&apos;&quot;");
    });
  });

  describe("no-document checks", () => {
    it("agreement compares the first tokens, or whole answers when shorter", () => {
      const answers = [
        { model: "ref", promptId: "p1", text: "", tokenIds: [1, 2, 3, 4] },
        { model: "ref", promptId: "p2", text: "", tokenIds: [1, 2] },
        { model: "m", promptId: "p1", text: "", tokenIds: [1, 2, 3, 9] },
        { model: "m", promptId: "p2", text: "", tokenIds: [1, 2, 7] },
      ];
      const [ref, m] = computeChatAgreement(answers, ["ref", "m"], "ref", 3);
      assert.deepEqual([ref!.numAgreeing, ref!.agreement, ref!.meanCommonPrefixTokens], [2, 1, 3]);
      assert.deepEqual([m!.numAgreeing, m!.numPrompts, m!.meanCommonPrefixTokens], [1, 2, 2.5]);
      assert.equal(commonPrefixLength([], [1]), 0);
    });
    it("scores the NLL of each next token from all logits", () => {
      // vocab 2: row 0 predicts token 1 with logits [0, ln 3] → p = 3/4; row 1 predicts token 0 with [0, 0] → p = 1/2.
      const logits = Float32Array.from([0, Math.log(3), 0, 0, 5, 5]);
      const r = chunkNll(logits, 2, [0, 1, 0]);
      assert.equal(r.numScored, 2);
      assert.ok(Math.abs(r.sumNll - (-Math.log(0.75) - Math.log(0.5))) < 1e-6);
      assert.deepEqual(chunkIds([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    });
  });
});
