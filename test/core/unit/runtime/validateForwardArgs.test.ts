import assert from "node:assert/strict";
import { ContextOverflowError, InvalidInputError, KvLayoutError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { validateForwardArgs, validateKvBlock, type ForwardContext } from "../../../../packages/core/src/runtime/validateForwardArgs.js";

const ctx: ForwardContext = { vocabSize: 100, maxPositionEmbeddings: 64, signature: "kvlink", pastLength: 3, lastPosition: 9 };

describe("validateForwardArgs", () => {
  it("defaults positions to contiguous after the last position, and mask to causal", () => {
    const v = validateForwardArgs({ inputIds: [1, 2], numLogitsToKeep: 1 }, ctx);
    assert.deepEqual([...v.positions], [10, 11]);
    assert.deepEqual([...v.inputIds], [1n, 2n]);
    assert.equal(v.mask, "causal");
  });

  it("rejects token ids outside the vocabulary, negative or not integers", () => {
    for (const id of [100, -1, 1.5]) {
      assert.throws(() => validateForwardArgs({ inputIds: [1, id], numLogitsToKeep: 0 }, ctx), InvalidInputError);
    }
  });

  it("rejects an empty input", () => {
    assert.throws(() => validateForwardArgs({ inputIds: [], numLogitsToKeep: 0 }, ctx), InvalidInputError);
  });

  it("rejects explicit positions ≥ max_position_embeddings or < 0, and a length mismatch", () => {
    assert.throws(() => validateForwardArgs({ inputIds: [1], positionIds: [64], numLogitsToKeep: 0 }, ctx), InvalidInputError);
    assert.throws(() => validateForwardArgs({ inputIds: [1], positionIds: [-1], numLogitsToKeep: 0 }, ctx), InvalidInputError);
    assert.throws(() => validateForwardArgs({ inputIds: [1, 2], positionIds: [3], numLogitsToKeep: 0 }, ctx), InvalidInputError);
  });

  it("reports default positions running past the context as ContextOverflowError", () => {
    const full = { ...ctx, lastPosition: 62 };
    assert.throws(() => validateForwardArgs({ inputIds: [1, 2], numLogitsToKeep: 0 }, full), ContextOverflowError);
    assert.equal(validateForwardArgs({ inputIds: [1], numLogitsToKeep: 0 }, full).positions[0], 63);
  });

  it("rejects numLogitsToKeep outside [0, S]", () => {
    assert.throws(() => validateForwardArgs({ inputIds: [1, 2], numLogitsToKeep: 3 }, ctx), InvalidInputError);
    assert.throws(() => validateForwardArgs({ inputIds: [1, 2], numLogitsToKeep: -1 }, ctx), InvalidInputError);
  });

  it("rejects a mask of no known form (a bare Uint8Array, a string, null) as InvalidInputError, not a TypeError", () => {
    for (const mask of [new Uint8Array(4), "full", null, { numRows: 1, numCols: 4 }]) {
      assert.throws(() => validateForwardArgs({ inputIds: [1], numLogitsToKeep: 1, mask: mask as never }, ctx), InvalidInputError, String(mask));
    }
  });

  it("flattens a boolean mask [S][P+S] and checks its shape against the past length", () => {
    const ok = validateForwardArgs({ inputIds: [1], numLogitsToKeep: 1, mask: [[true, false, true, true]] }, ctx);
    assert.deepEqual([...(ok.mask as Uint8Array)], [1, 0, 1, 1]);
    assert.throws(() => validateForwardArgs({ inputIds: [1], numLogitsToKeep: 1, mask: [[true, true]] }, ctx), InvalidInputError);
    assert.throws(() => validateForwardArgs({ inputIds: [1, 2], numLogitsToKeep: 1, mask: [[true, true, true, true, false]] }, ctx), InvalidInputError);
    const dense = { numRows: 1, numCols: 3, allowed: new Uint8Array(3).fill(1) };
    assert.throws(() => validateForwardArgs({ inputIds: [1], numLogitsToKeep: 1, mask: dense }, ctx), InvalidInputError);
  });

  it("rejects a mask row that allows no key", () => {
    assert.throws(() => validateForwardArgs({ inputIds: [1], numLogitsToKeep: 1, mask: [[false, false, false, false]] }, ctx), InvalidInputError);
  });

  it("rejects explicit masks on the standard signature", () => {
    const standard = { ...ctx, signature: "standard" as const };
    assert.throws(() => validateForwardArgs({ inputIds: [1], numLogitsToKeep: 1, mask: [[true, true, true, true]] }, standard), InvalidInputError);
    assert.equal(validateForwardArgs({ inputIds: [1], numLogitsToKeep: 1, mask: "causal" }, standard).mask, "causal");
  });
});

describe("validateKvBlock", () => {
  const geometry = { numLayers: 2, numKvHeads: 2, headDim: 4 };
  const block = (n: number, size = 2 * n * 4) => ({
    keys: [new Float32Array(size), new Float32Array(size)],
    values: [new Float32Array(size), new Float32Array(size)],
    numTokens: n,
    positions: Int32Array.from({ length: n }, (_, i) => i),
  });

  it("accepts a block of the model's geometry", () => {
    validateKvBlock(block(3), geometry, 64);
  });
  it("rejects wrong sizes and layer counts with KvLayoutError", () => {
    assert.throws(() => validateKvBlock(block(3, 5), geometry, 64), KvLayoutError);
    assert.throws(() => validateKvBlock({ ...block(3), keys: [new Float32Array(24)] }, geometry, 64), KvLayoutError);
    assert.throws(() => validateKvBlock({ ...block(3), positions: new Int32Array(2) }, geometry, 64), KvLayoutError);
  });
  it("rejects positions outside max_position_embeddings", () => {
    assert.throws(() => validateKvBlock({ ...block(1), positions: Int32Array.of(64) }, geometry, 64), InvalidInputError);
  });
});
