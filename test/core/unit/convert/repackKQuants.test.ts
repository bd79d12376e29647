import assert from "node:assert/strict";
import { ggufTensorToLinear } from "../../../../packages/core/src/convert/ggufTensorToLinear.js";
import { dequantize } from "../../../../packages/core/src/gguf/dequantize.js";
import { GgmlType } from "../../../../packages/core/src/gguf/ggmlType.js";
import { dequantizeLinear } from "../../../../packages/core/src/model/ModelWeights.js";
import { randomBlocks } from "../../../support/ggufTinyQwen2.js";

const rows = 8, cols = 512;

function seeded(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

/** Largest |a − b| relative to `scale`. */
function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("convert/ggufTensorToLinear k-quants and Q5_0", () => {
  it("Q6_K → bits 8, block 16, zero point 32: bit-for-bit equal to ggml's dequantization", () => {
    const bytes = randomBlocks(GgmlType.Q6_K, rows * cols, seeded(1));
    const w = ggufTensorToLinear(GgmlType.Q6_K, bytes, rows, cols, "q4", "t");
    assert.ok(w.kind === "nbits" && w.bits === 8 && w.blockSize === 16);
    assert.deepEqual(dequantizeLinear(w), dequantize(GgmlType.Q6_K, bytes, rows * cols));
  });

  it("Q5_0 → bits 8, block 32, zero point 16: bit-for-bit", () => {
    const bytes = randomBlocks(GgmlType.Q5_0, rows * cols, seeded(2));
    const w = ggufTensorToLinear(GgmlType.Q5_0, bytes, rows, cols, "q4", "t");
    assert.ok(w.kind === "nbits" && w.bits === 8 && w.blockSize === 32);
    assert.deepEqual(dequantizeLinear(w), dequantize(GgmlType.Q5_0, bytes, rows * cols));
  });

  for (const [name, type, bits] of [["Q4_K", GgmlType.Q4_K, 4], ["Q5_K", GgmlType.Q5_K, 8]] as const) {
    it(`${name} → bits ${bits}, block 32 (scale d·sc, zero point dmin·mn/(d·sc)): equal to fp32 rounding of the min`, () => {
      const bytes = type === GgmlType.Q5_K ? randomQ5K(rows * cols, seeded(3)) : randomBlocks(type, rows * cols, seeded(3));
      const w = ggufTensorToLinear(type, bytes, rows, cols, "q4", "t");
      assert.ok(w.kind === "nbits" && w.bits === bits && w.blockSize === 32);
      const expected = dequantize(type, bytes, rows * cols);
      let maxAbs = 0;
      for (const v of expected) maxAbs = Math.max(maxAbs, Math.abs(v));
      assert.ok(maxDiff(dequantizeLinear(w), expected) <= maxAbs * 2 ** -21, `max diff ${maxDiff(dequantizeLinear(w), expected)}`);
    });
  }

  it("Q4_K sub-blocks with sc = 0 hold the constant −dmin·mn exactly", () => {
    const bytes = randomBlocks(GgmlType.Q4_K, 256, seeded(4));
    bytes[4] = (bytes[4]! & 0xc0) | 0; // sub-block 0: sc = 0
    const w = ggufTensorToLinear(GgmlType.Q4_K, bytes, 1, 256, "q4", "t");
    const got = dequantizeLinear(w);
    const expected = dequantize(GgmlType.Q4_K, bytes, 256);
    for (let j = 0; j < 32; j++) assert.equal(got[j], expected[j], `element ${j}`);
    assert.ok(expected.slice(0, 32).every((v) => v === expected[0]));
  });
});

/** Random Q5_K blocks (176 B) with small d and dmin. */
function randomQ5K(numElements: number, rand: () => number): Uint8Array {
  const out = new Uint8Array((numElements / 256) * 176);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rand() * 256);
  for (let b = 0; b < numElements / 256; b++) {
    for (const f of [0, 2]) {
      const bits = (3 << 10) | Math.floor(rand() * 1024);
      out[b * 176 + f] = bits & 0xff;
      out[b * 176 + f + 1] = bits >> 8;
    }
  }
  return out;
}
