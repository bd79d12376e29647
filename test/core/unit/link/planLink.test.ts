import assert from "node:assert/strict";
import { cachedTokenPositions, planLink, type LayoutPiece, type LinkTokenConfig } from "../../../../packages/core/src/link/LinkPlan.js";
import { buildBlockMask, buildPositionMask } from "../../../../packages/core/src/link/buildAttentionMask.js";
import { ContextOverflowError, InvalidInputError } from "../../../../packages/core/src/errors/KvLinkError.js";

const links: LinkTokenConfig = { numLinkTokens: 2, linkTokenIds: [[50, 51], [52, 53], [54, 55]], memStartTokenId: 60, memEndTokenId: 61 };
const pieces: LayoutPiece[] = [
  { kind: "text", tokenIds: [1, 2, 3] },
  { kind: "documents", documents: [{ key: "a", tokenIds: [10, 11, 12, 13] }, { key: "b", tokenIds: [20, 21] }] },
  { kind: "text", tokenIds: [4, 5] },
];

describe("planLink", () => {
  it("places documents at o_i = s + 1 + sum(n_j + K) with links after each and markers around the block", () => {
    const plan = planLink(pieces, { mode: "kvlink", links, maxPositionEmbeddings: 100 });
    // 3 prompt, mem_start at 3, doc a at 4..7, links 8..9, doc b at 10..11, links 12..13, mem_end 14, prompt 15..16
    assert.deepEqual(plan.documents.map((d) => [d.key, d.offset, d.numTokens]), [["a", 4, 4], ["b", 10, 2]]);
    assert.deepEqual(plan.freshTokenIds, [1, 2, 3, 60, 50, 51, 52, 53, 61, 4, 5]);
    assert.deepEqual(plan.freshPositions, [0, 1, 2, 3, 8, 9, 12, 13, 14, 15, 16]);
    assert.equal(plan.numPositions, 17);
    assert.equal(plan.numDocTokensReused, 6);
    assert.equal(plan.numDocTokensComputed, 0);
    assert.deepEqual([...cachedTokenPositions(plan)], [4, 5, 6, 7, 10, 11]);
  });

  it("rerotate and naive modes use no links or markers; full mode computes every token fresh", () => {
    const re = planLink(pieces, { mode: "rerotate", links, maxPositionEmbeddings: 100 });
    assert.deepEqual(re.documents.map((d) => d.offset), [3, 7]);
    assert.equal(re.numPositions, 11);
    const full = planLink(pieces, { mode: "full", links, maxPositionEmbeddings: 100 });
    assert.equal(full.documents.length, 0);
    assert.deepEqual(full.freshTokenIds, [1, 2, 3, 10, 11, 12, 13, 20, 21, 4, 5]);
    assert.equal(full.numDocTokensComputed, 6);
  });

  it("recomputes the first n tokens of each document when asked", () => {
    const plan = planLink(pieces, { mode: "rerotate", links, recomputePrefixTokens: 1, maxPositionEmbeddings: 100 });
    assert.deepEqual(plan.documents.map((d) => [d.offset, d.numRecomputed]), [[3, 1], [7, 1]]);
    assert.deepEqual([...cachedTokenPositions(plan)], [4, 5, 6, 8]);
    assert.equal(plan.numDocTokensComputed, 2);
    assert.equal(plan.numDocTokensReused, 4);
  });

  it("keeps order and allows the same document in several slots; empty documents work", () => {
    const plan = planLink(
      [{ kind: "documents", documents: [{ key: "a", tokenIds: [1, 2] }, { key: "e", tokenIds: [] }, { key: "a", tokenIds: [1, 2] }] }],
      { mode: "kvlink", links, maxPositionEmbeddings: 100 },
    );
    assert.deepEqual(plan.documents.map((d) => [d.key, d.offset]), [["a", 1], ["a", 7]]);
    assert.deepEqual(plan.freshTokenIds, [60, 50, 51, 52, 53, 54, 55, 61]);
  });

  it("refuses layouts beyond max_position_embeddings and more documents than link slots", () => {
    assert.throws(() => planLink(pieces, { mode: "kvlink", links, maxPositionEmbeddings: 16 }), ContextOverflowError);
    const many: LayoutPiece[] = [{ kind: "documents", documents: [1, 2, 3, 4].map((i) => ({ key: `${i}`, tokenIds: [i] })) }];
    assert.throws(() => planLink(many, { mode: "kvlink", links, maxPositionEmbeddings: 100 }), InvalidInputError);
  });
});

describe("attention masks", () => {
  it("a query sees every key at a position <= its own", () => {
    const mask = buildPositionMask([4, 5, 10], [0, 8, 12]);
    // keys: 4 5 10 | 0 8 12
    assert.deepEqual([...mask], [0, 0, 0, 1, 0, 0, /**/ 1, 1, 0, 1, 1, 0, /**/ 1, 1, 1, 1, 1, 1]);
  });
  it("the block mask keeps documents to themselves", () => {
    const m = buildBlockMask([0, 1, 1, 0, 2, 0]);
    assert.deepEqual(m[2], [false, true, true, false, false, false]);
    assert.deepEqual(m[4], [false, false, false, false, true, false]);
    assert.deepEqual(m[5], [true, true, true, true, true, true]);
  });
});
