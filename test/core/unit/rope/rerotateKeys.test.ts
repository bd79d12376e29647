import assert from "node:assert/strict";
import { InvalidInputError, KvLayoutError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { createRandomWeights } from "../../../../packages/core/src/model/createRandomWeights.js";
import type { RopeSpec } from "../../../../packages/core/src/model/ModelSpec.js";
import { tinySpec } from "../../../../packages/core/src/model/tinySpec.js";
import { rerotateKeys } from "../../../../packages/core/src/rope/rerotateKeys.js";
import { rerotateKeysInPlace } from "../../../../packages/core/src/rope/rerotateKeysInPlace.js";
import { assertAllClose, maxAbsDiff } from "../../../support/assertAllClose.js";
import { causalMask, referenceForward } from "../../../support/referenceForward.js";

const range = (n: number, start = 0): number[] => Array.from({ length: n }, (_, i) => start + i);
const randomKeys = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.91) * 2);

const llama32: RopeSpec = {
  theta: 500000,
  rotaryDim: 64,
  scaling: { type: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
};

describe("rerotateKeys", () => {
  it("p -> q -> p returns the input", () => {
    for (const rope of [{ theta: 100000, rotaryDim: 64 }, llama32]) {
      const shape = { numHeads: 3, numTokens: 5, headDim: 64 };
      const keys = randomKeys(3 * 5 * 64, 1);
      const p = [0, 1, 2, 3, 4];
      const q = [1000, 1001, 7, 5000, 120000];
      const moved = rerotateKeys(keys, shape, { fromPositions: p, toPositions: q }, rope);
      assert.ok(maxAbsDiff(moved, keys).maxAbsDiff > 0.1, "moving must change the keys");
      const back = rerotateKeys(moved, shape, { fromPositions: q, toPositions: p }, rope);
      assertAllClose(back, keys, { atol: 1e-5, what: "round trip" });
    }
  });

  it("composes: p -> r -> q equals p -> q, and leaves pass-through dims alone", () => {
    const rope: RopeSpec = { theta: 10000, rotaryDim: 8 };
    const shape = { numHeads: 2, numTokens: 3, headDim: 12 };
    const keys = randomKeys(2 * 3 * 12, 2);
    const p = [3, 4, 5];
    const r = [90, 91, 0];
    const q = [40, 41, 42];
    const twoSteps = rerotateKeys(rerotateKeys(keys, shape, { fromPositions: p, toPositions: r }, rope), shape, { fromPositions: r, toPositions: q }, rope);
    const oneStep = rerotateKeys(keys, shape, { fromPositions: p, toPositions: q }, rope);
    assertAllClose(twoSteps, oneStep, { atol: 1e-5 });
    for (let h = 0; h < 2; h++) {
      for (let t = 0; t < 3; t++) {
        const off = (h * 3 + t) * 12;
        assert.deepEqual(oneStep.subarray(off + 8, off + 12), keys.subarray(off + 8, off + 12));
      }
    }
  });

  const tinyRopes: Record<string, RopeSpec> = {
    plain: { theta: 10000, rotaryDim: 8 },
    // Small original context so that in 8 dims one frequency is kept, one smoothed and two divided.
    llama3: { theta: 10000, rotaryDim: 8, scaling: { type: "llama3", factor: 4, lowFreqFactor: 1, highFreqFactor: 8, originalMaxPositionEmbeddings: 256 } },
    linear: { theta: 10000, rotaryDim: 8, scaling: { type: "linear", factor: 2 } },
  };
  for (const [ropeName, rope] of Object.entries(tinyRopes)) it(`moves a document's keys from 0..n-1 to an offset exactly as encoding it there (reference forward, ${ropeName} RoPE)`, () => {
    const spec = tinySpec({ rope });
    const weights = createRandomWeights(spec, { seed: 7 });
    const doc = [12, 40, 41, 7, 88, 3, 19];
    const prefix = [1, 2, 3, 4, 5];
    const n = doc.length;
    const m = prefix.length;
    const alone = referenceForward(weights, { inputIds: doc, positionIds: range(n), mask: causalMask(n) });

    for (const docStart of [m, 200]) {
      // Prefix causal; document rows see only earlier tokens of the document.
      const mask = causalMask(m + n).map((row, s) => (s < m ? row : row.map((allowed, j) => allowed && j >= m)));
      const placed = referenceForward(weights, {
        inputIds: [...prefix, ...doc],
        positionIds: [...range(m), ...range(n, docStart)],
        mask,
      });
      const { numKvHeads: KVH, headDim: D } = spec;
      for (let l = 0; l < spec.numLayers; l++) {
        const moved = rerotateKeys(alone.newKeys[l]!, { numHeads: KVH, numTokens: n, headDim: D }, { fromPositions: range(n), toPositions: range(n, docStart) }, spec.rope);
        const placedDocKeys = new Float32Array(KVH * n * D);
        const placedDocValues = new Float32Array(KVH * n * D);
        for (let kh = 0; kh < KVH; kh++) {
          placedDocKeys.set(placed.newKeys[l]!.subarray((kh * (m + n) + m) * D, (kh * (m + n) + m + n) * D), kh * n * D);
          placedDocValues.set(placed.newValues[l]!.subarray((kh * (m + n) + m) * D, (kh * (m + n) + m + n) * D), kh * n * D);
        }
        assertAllClose(moved, placedDocKeys, { atol: 1e-4, what: `layer ${l} keys at offset ${docStart}` });
        assertAllClose(alone.newValues[l]!, placedDocValues, { atol: 1e-4, what: `layer ${l} values at offset ${docStart}` });
        assert.ok(maxAbsDiff(alone.newKeys[l]!, placedDocKeys).maxAbsDiff > 1e-3, "unmoved keys must differ");
      }
    }
  });

  it("rerotateKeysInPlace moves only the chosen token range of a larger buffer", () => {
    const rope: RopeSpec = { theta: 10000, rotaryDim: 8 };
    const shape = { numHeads: 2, numTokens: 10, headDim: 8 };
    const buffer = randomKeys(2 * 10 * 8, 3);
    const original = buffer.slice();
    rerotateKeysInPlace(buffer, shape, { fromPositions: [0, 1, 2], toPositions: [50, 51, 52], startToken: 4 }, rope);
    for (let h = 0; h < 2; h++) {
      const slice = (a: Float32Array, t0: number, t1: number) => a.subarray((h * 10 + t0) * 8, (h * 10 + t1) * 8);
      assert.deepEqual(slice(buffer, 0, 4), slice(original, 0, 4));
      assert.deepEqual(slice(buffer, 7, 10), slice(original, 7, 10));
      const expected = rerotateKeys(slice(original, 4, 7).slice(), { numHeads: 1, numTokens: 3, headDim: 8 }, { fromPositions: [0, 1, 2], toPositions: [50, 51, 52] }, rope);
      assertAllClose(slice(buffer, 4, 7), expected, { atol: 0 });
    }
  });

  it("does not modify its input and is the identity for zero deltas", () => {
    const rope: RopeSpec = { theta: 10000, rotaryDim: 8 };
    const keys = randomKeys(16, 4);
    const copy = keys.slice();
    const out = rerotateKeys(keys, { numHeads: 1, numTokens: 2, headDim: 8 }, { fromPositions: [9, 3], toPositions: [9, 3] }, rope);
    assert.deepEqual(keys, copy);
    assert.deepEqual(out, copy);
    assert.notEqual(out, keys);
  });

  it("rejects bad shapes and positions", () => {
    const rope: RopeSpec = { theta: 10000, rotaryDim: 8 };
    const keys = new Float32Array(16);
    const shape = { numHeads: 1, numTokens: 2, headDim: 8 };
    assert.throws(() => rerotateKeys(keys, { ...shape, numTokens: 3 }, { fromPositions: [0, 1, 2], toPositions: [0, 1, 2] }, rope), KvLayoutError);
    assert.throws(() => rerotateKeys(keys, shape, { fromPositions: [0, 1], toPositions: [0] }, rope), InvalidInputError);
    assert.throws(() => rerotateKeys(keys, shape, { fromPositions: [0, 1, 2], toPositions: [0, 1, 2] }, rope), KvLayoutError);
    assert.throws(() => rerotateKeys(keys, shape, { fromPositions: [0, 1.5], toPositions: [0, 1] }, rope), InvalidInputError);
    assert.throws(() => rerotateKeys(keys, shape, { fromPositions: [0, 1], toPositions: [0, -1] }, rope), InvalidInputError);
    assert.throws(() => rerotateKeys(keys, { numHeads: 1, numTokens: 4, headDim: 4 }, { fromPositions: [0], toPositions: [1] }, rope), KvLayoutError);
  });
});
