/**
 * The re-rotation the runtime uses to place a cached document (rope/rotateKeysInto.ts, called by HostKvCache and
 * PresentKvCache): copying a document's keys into the prompt's slots rotated by its offset is exact, i.e. equal to
 * encoding the document at that offset (checked against the reference forward pass).
 */
import assert from "node:assert/strict";
import { createRandomWeights } from "../../../../packages/core/src/model/createRandomWeights.js";
import type { RopeSpec } from "../../../../packages/core/src/model/ModelSpec.js";
import { tinySpec } from "../../../../packages/core/src/model/tinySpec.js";
import { computeInvFreq } from "../../../../packages/core/src/rope/computeInvFreq.js";
import { deltaRotation, rotateKeysInto, rotateKeysIntoTransposed } from "../../../../packages/core/src/rope/rotateKeysInto.js";
import { assertAllClose, maxAbsDiff } from "../../../support/assertAllClose.js";
import { causalMask, referenceForward } from "../../../support/referenceForward.js";

const range = (n: number, start = 0): number[] => Array.from({ length: n }, (_, i) => start + i);
const randomKeys = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.91) * 2);

interface Shape {
  readonly numHeads: number;
  readonly numTokens: number;
  readonly headDim: number;
}

/** All tokens of a [heads, tokens, headDim] key buffer moved by `delta` positions, into a new buffer. */
function moveKeys(keys: Float32Array, shape: Shape, delta: number, rope: RopeSpec): Float32Array {
  const out = new Float32Array(keys.length);
  const { numHeads, numTokens, headDim } = shape;
  rotateKeysInto(keys, numTokens, 0, out, numTokens, 0, numTokens, numHeads, headDim, deltaRotation(computeInvFreq(rope), delta));
  return out;
}

const llama32: RopeSpec = {
  theta: 500000,
  rotaryDim: 64,
  scaling: { type: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
};

describe("rotateKeysInto (placing cached keys at an offset)", () => {
  it("moving by +d then -d returns the input", () => {
    for (const rope of [{ theta: 100000, rotaryDim: 64 }, llama32]) {
      const shape = { numHeads: 3, numTokens: 5, headDim: 64 };
      const keys = randomKeys(3 * 5 * 64, 1);
      const moved = moveKeys(keys, shape, 120000, rope);
      assert.ok(maxAbsDiff(moved, keys).maxAbsDiff > 0.1, "moving must change the keys");
      assertAllClose(moveKeys(moved, shape, -120000, rope), keys, { atol: 1e-5, what: "round trip" });
    }
  });

  it("composes (d1 then d2 equals d1 + d2) and leaves pass-through dims alone", () => {
    const rope: RopeSpec = { theta: 10000, rotaryDim: 8 };
    const shape = { numHeads: 2, numTokens: 3, headDim: 12 };
    const keys = randomKeys(2 * 3 * 12, 2);
    const twoSteps = moveKeys(moveKeys(keys, shape, 87, rope), shape, -50, rope);
    const oneStep = moveKeys(keys, shape, 37, rope);
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
  for (const [ropeName, rope] of Object.entries(tinyRopes)) it(`moves a document's keys from 0..n-1 to an offset exactly as encoding it there (rotateKeysInto, as the runtime places caches; reference forward, ${ropeName} RoPE)`, () => {
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
        const moved = moveKeys(alone.newKeys[l]!, { numHeads: KVH, numTokens: n, headDim: D }, docStart, spec.rope);
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

  it("copies only tokens [srcStart, srcStart + count) into slots from dstStart; the transposed layout holds the same keys", () => {
    const rope: RopeSpec = { theta: 10000, rotaryDim: 8 };
    const [H, S, D, C] = [2, 6, 8, 10];
    const src = randomKeys(H * S * D, 3);
    const rotation = deltaRotation(computeInvFreq(rope), 50);
    const dst = new Float32Array(H * C * D).fill(7);
    rotateKeysInto(src, S, 2, dst, C, 4, 3, H, D, rotation);
    const transposed = new Float32Array(H * D * C).fill(7);
    rotateKeysIntoTransposed(src, S, 2, transposed, C, 4, 3, H, D, rotation);
    for (let h = 0; h < H; h++) {
      const expected = moveKeys(src.subarray((h * S + 2) * D, (h * S + 5) * D).slice(), { numHeads: 1, numTokens: 3, headDim: D }, 50, rope);
      assertAllClose(dst.subarray((h * C + 4) * D, (h * C + 7) * D), expected, { atol: 0 });
      for (const t of [0, 1, 2, 3, 7, 8, 9]) assert.ok(dst.subarray((h * C + t) * D, (h * C + t + 1) * D).every((x) => x === 7), `slot ${t} untouched`);
      for (let t = 0; t < 3; t++) {
        for (let i = 0; i < D; i++) assert.equal(transposed[(h * D + i) * C + 4 + t], expected[t * D + i], `transposed head ${h} token ${t} dim ${i}`);
      }
    }
  });

  it("a zero delta and no rotation copy the keys unchanged", () => {
    const rope: RopeSpec = { theta: 10000, rotaryDim: 8 };
    const keys = randomKeys(16, 4);
    assertAllClose(moveKeys(keys, { numHeads: 1, numTokens: 2, headDim: 8 }, 0, rope), keys, { atol: 0 });
    const copy = new Float32Array(16);
    rotateKeysInto(keys, 2, 0, copy, 2, 0, 2, 1, 8, undefined);
    assert.deepEqual(copy, keys);
  });
});
