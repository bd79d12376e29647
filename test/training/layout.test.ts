/**
 * The PyTorch training layout (training/kvlink_train/layout.py, plain Python) and the engine's LinkPlan + mask
 * agree on the same request: token ids, positions, segments and every allowed (query, key) pair, token for token.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { buildBlockMask, buildPositionMask } from "../../packages/core/src/link/buildAttentionMask.js";
import { buildPromptLayout, documentSegmentText } from "../../packages/core/src/link/buildPromptLayout.js";
import { cachedTokenPositions, flattenLayout, planLink } from "../../packages/core/src/link/LinkPlan.js";
import { createTinyTokenizer } from "../../packages/core/src/tokenizer/createTinyTokenizer.js";
import { HfTokenizer } from "../../packages/core/src/tokenizer/HfTokenizer.js";
import { extraRowLinkConfig } from "../support/loraFixture.js";

const LAYOUT_PY = join(import.meta.dirname, "../../training/kvlink_train/layout.py");

function runPython(request: unknown): { ids: number[]; segments: number[]; pairs: number[][]; full: number[] } {
  const r = spawnSync("python3", [LAYOUT_PY], { input: JSON.stringify(request), encoding: "utf8" });
  assert.equal(r.status, 0, `layout.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { ids: number[]; segments: number[]; pairs: number[][]; full: number[] };
}

describe("training layout (layout.py) vs the engine's LinkPlan and masks", function () {
  this.timeout(30_000);
  const tiny = createTinyTokenizer({ vocabSize: 384 });
  const tok = HfTokenizer.fromJson(tiny.tokenizerJson, tiny.tokenizerConfig);

  for (const [K, numDocs] of [[5, 3], [1, 4], [0, 2], [5, 1]] as const) {
    it(`K = ${K}, ${numDocs} documents (one empty): ids, positions, segments and allowed pairs are identical`, () => {
      const texts = ["Rivers run north.", "", "The city has 12 bridges and a <|im_end|> sign.", "Numbers: 7, 8, 9."].slice(0, numDocs + (numDocs > 1 ? 1 : 0));
      const docs = texts.map((t, i) => ({ key: `d${i}`, tokenIds: tok.encode(documentSegmentText(t), { specialTokens: "text" }) }));
      const pieces = buildPromptLayout(tok, { system: "Answer from the notes.", question: "Which river?", documents: docs });
      const { kvlink } = extraRowLinkConfig(384, K, 8);
      const plan = planLink(pieces, { mode: "kvlink", links: kvlink, maxPositionEmbeddings: 4096 });
      const { tokenIds, segmentOf } = flattenLayout(plan, (key) => docs.find((d) => d.key === key)!.tokenIds);

      const [prefix, , suffix] = pieces;
      assert.ok(prefix?.kind === "text" && suffix?.kind === "text");
      const py = runPython({ prefix: prefix.tokenIds, docs: docs.map((d) => d.tokenIds), suffix: suffix.tokenIds, kvlink });
      assert.deepEqual(py.ids, tokenIds, "token ids in position order");
      assert.deepEqual(py.segments, segmentOf, "segments");
      // positions: the engine's fresh positions and cached positions are exactly the indices layout.py uses.
      const cached = [...cachedTokenPositions(plan)];
      assert.deepEqual([...plan.freshPositions, ...cached].sort((a, b) => a - b), tokenIds.map((_, i) => i));
      const block = buildBlockMask(segmentOf);
      py.pairs.forEach((row, i) => assert.deepEqual(row, block[i]!.flatMap((ok, j) => (ok ? [j] : [])), `allowed keys of position ${i}`));
      // the engine's one-pass mask for fresh queries over cached slots + fresh tokens gives the same pairs
      const mask = buildPositionMask(cached, plan.freshPositions);
      const cols = [...cached, ...plan.freshPositions];
      plan.freshPositions.forEach((p, r) => {
        const keys = cols.filter((_, c) => mask[r * cols.length + c] === 1).sort((a, b) => a - b);
        assert.deepEqual(keys, py.pairs[p], `fresh query at position ${p}`);
      });
      const full = planLink(pieces, { mode: "full", links: kvlink, maxPositionEmbeddings: 4096 });
      assert.deepEqual(py.full, full.freshTokenIds, "full layout");
    });
  }
});
