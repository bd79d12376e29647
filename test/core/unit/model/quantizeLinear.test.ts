import assert from "node:assert/strict";
import { InvalidInputError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { dequantizeLinear } from "../../../../packages/core/src/model/ModelWeights.js";
import { quantizeLinear } from "../../../../packages/core/src/model/quantizeLinear.js";

const sample = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i * 2.17) * (1 + (i % 7)) * 0.05);

describe("quantizeLinear", () => {
  for (const bits of [4, 8] as const) {
    it(`round-trips ${bits}-bit within scale/2 per block`, () => {
      const [N, K] = [5, 96];
      const data = sample(N * K, bits);
      const w = quantizeLinear(data, N, K, { bits });
      assert.equal(w.kind, "nbits");
      if (w.kind !== "nbits") return;
      assert.equal(w.blockSize, 32);
      assert.equal(w.packed.length, (N * 3 * 32 * bits) / 8);
      assert.equal(w.scales.length, N * 3);
      const back = dequantizeLinear(w);
      let worst = 0;
      for (let r = 0; r < N; r++) {
        for (let c = 0; c < K; c++) {
          const b = r * 3 + Math.floor(c / 32);
          const scale = w.scales[b]!;
          const err = Math.abs(back[r * K + c]! - data[r * K + c]!);
          assert.ok(err <= scale / 2 + 1e-6 * Math.abs(data[r * K + c]!) + 1e-7, `row ${r} col ${c}: err ${err} > scale/2 ${scale / 2}`);
          worst = Math.max(worst, err / scale);
        }
      }
      assert.ok(worst > 0.1, "some rounding error is expected, or the test is vacuous");
      // Every block uses the full code range: min maps to 0, max to 2^bits − 1.
      for (let b = 0; b < N * 3; b++) {
        const values: number[] = [];
        for (let j = 0; j < 32; j++) values.push(bits === 8 ? w.packed[b * 32 + j]! : (w.packed[b * 16 + (j >> 1)]! >> (j & 1 ? 4 : 0)) & 15);
        assert.equal(Math.min(...values), 0);
        assert.equal(Math.max(...values), (1 << bits) - 1);
      }
    });
  }

  it("packs 4-bit codes low nibble = even element", () => {
    // Block of 32: element j = j % 16 → min 0, max 15, scale 1, zero point 0, q = value.
    const data = Float32Array.from({ length: 32 }, (_, j) => j % 16);
    const w = quantizeLinear(data, 1, 32, { bits: 4 });
    assert.ok(w.kind === "nbits");
    assert.equal(w.scales[0], 1);
    assert.equal(w.zeroPoints[0], 0);
    assert.equal(w.packed[0], (1 << 4) | 0);
    assert.equal(w.packed[1], (3 << 4) | 2);
    assert.equal(w.packed[7], (15 << 4) | 14);
    assert.deepEqual(dequantizeLinear(w), data);
  });

  it("is exact for constant and zero blocks, and handles a partial last block", () => {
    const data = new Float32Array(2 * 40);
    data.fill(-0.75, 0, 32); // row 0 block 0 constant negative
    data.fill(0.5, 32, 40); // row 0 partial block constant positive
    // row 1 all zeros
    for (const bits of [4, 8] as const) {
      const w = quantizeLinear(data, 2, 40, { bits });
      assert.ok(w.kind === "nbits");
      assert.equal(w.scales.length, 4);
      assert.ok(w.scales.every((s) => s > 0));
      assert.deepEqual(dequantizeLinear(w), data);
    }
  });

  it("supports other block sizes", () => {
    const data = sample(3 * 64, 9);
    const w = quantizeLinear(data, 3, 64, { bits: 8, blockSize: 16 });
    assert.ok(w.kind === "nbits");
    assert.equal(w.scales.length, 12);
    const back = dequantizeLinear(w);
    for (let i = 0; i < data.length; i++) assert.ok(Math.abs(back[i]! - data[i]!) <= w.scales[Math.floor(i / 16)]! / 2 + 1e-7);
  });

  it("rejects bad arguments with InvalidInputError", () => {
    assert.throws(() => quantizeLinear(new Float32Array(10), 2, 4, { bits: 4 }), InvalidInputError);
    assert.throws(() => quantizeLinear(new Float32Array(32), 1, 32, { bits: 3 as 4 }), InvalidInputError);
    assert.throws(() => quantizeLinear(new Float32Array(32), 1, 32, { bits: 4, blockSize: 24 }), InvalidInputError);
    assert.throws(() => quantizeLinear(Float32Array.of(...new Array(31).fill(0), Number.NaN), 1, 32, { bits: 8 }), InvalidInputError);
  });
});
