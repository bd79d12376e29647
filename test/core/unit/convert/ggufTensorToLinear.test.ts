import assert from "node:assert/strict";
import { ggufTensorToLinear } from "../../../../packages/core/src/convert/ggufTensorToLinear.js";
import { unpermuteQkRows } from "../../../../packages/core/src/convert/unpermuteQkRows.js";
import { dequantize } from "../../../../packages/core/src/gguf/dequantize.js";
import { GgmlType } from "../../../../packages/core/src/gguf/ggmlType.js";
import { dequantizeLinear } from "../../../../packages/core/src/model/ModelWeights.js";
import { f16BitsToNumber, f32ToF16Bits, quantizeQ4_0, quantizeQ4_1, quantizeQ8_0 } from "../../../support/ggufWriter.js";
import { permuteRowsHfToGguf } from "../../../support/ggufTinyLlama.js";

const rows = 6, cols = 96;
const values = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)) * 0.1);

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

describe("convert/ggufTensorToLinear", () => {
  it("Q4_0 → MatMulNBits bits 4, zero point 8: bit-for-bit equal to the GGUF dequantization", () => {
    const bytes = quantizeQ4_0(values);
    const w = ggufTensorToLinear(GgmlType.Q4_0, bytes, rows, cols, "q4", "t");
    assert.equal(w.kind, "nbits");
    assert.ok(w.kind === "nbits" && w.bits === 4 && w.blockSize === 32 && w.packed.length === rows * 3 * 16);
    assert.ok(bitsEqual(dequantizeLinear(w), dequantize(GgmlType.Q4_0, bytes, rows * cols)));
  });

  it("Q8_0 → MatMulNBits bits 8 (q + 128, zero point 128): bit-for-bit", () => {
    const bytes = quantizeQ8_0(values);
    const w = ggufTensorToLinear(GgmlType.Q8_0, bytes, rows, cols, "q4", "t");
    assert.ok(w.kind === "nbits" && w.bits === 8);
    assert.ok(bitsEqual(dequantizeLinear(w), dequantize(GgmlType.Q8_0, bytes, rows * cols)));
  });

  it("Q4_1 → bits 4 keeps every q and scale; values agree to within |m|·2⁻²³ (zero point −m/d is rounded to fp32)", () => {
    const bytes = quantizeQ4_1(values);
    const w = ggufTensorToLinear(GgmlType.Q4_1, bytes, rows, cols, "q4", "t");
    assert.ok(w.kind === "nbits" && w.bits === 4);
    const got = dequantizeLinear(w);
    const expected = dequantize(GgmlType.Q4_1, bytes, rows * cols);
    const view = new DataView(bytes.buffer);
    for (let b = 0; b < rows * 3; b++) {
      const d = f16BitsToNumber(view.getUint16(b * 20, true));
      const m = f16BitsToNumber(view.getUint16(b * 20 + 2, true));
      assert.equal(w.scales[b], d, `scale of block ${b}`);
      for (let j = 0; j < 32; j++) {
        const i = b * 32 + j;
        // The GGUF q of element j (low nibble of byte j, high nibble of byte j−16) is what MatMulNBits holds.
        const byte = bytes[b * 20 + 4 + (j % 16)]!;
        const q = j < 16 ? byte & 15 : byte >> 4;
        const packed: number = w.packed[b * 16 + (j >> 1)]!;
        assert.equal(j & 1 ? packed >> 4 : packed & 15, q, `q of element ${i}`);
        assert.ok(Math.abs(got[i]! - expected[i]!) <= Math.abs(m) * 2 ** -23 + 2 ** -149, `element ${i}: ${got[i]} vs ${expected[i]}`);
      }
    }
  });

  it("re-pairs nibbles: GGUF byte j = (x[j], x[j+16]) becomes MatMulNBits byte j = (x[2j], x[2j+1])", () => {
    const block = new Uint8Array(18);
    block[0] = 0x00; block[1] = 0x3c; // d = 1
    for (let j = 0; j < 16; j++) block[2 + j] = (j & 15) | (((15 - j) & 15) << 4); // x[j] = j−8, x[j+16] = 7−j
    const w = ggufTensorToLinear(GgmlType.Q4_0, block, 1, 32, "q4", "t");
    assert.ok(w.kind === "nbits");
    const expectedQ = [...Array.from({ length: 16 }, (_, j) => j), ...Array.from({ length: 16 }, (_, j) => 15 - j)];
    for (let j = 0; j < 16; j++) assert.equal(w.packed[j], expectedQ[2 * j]! | (expectedQ[2 * j + 1]! << 4), `byte ${j}`);
  });

  it("a Q4_1 block with d = 0 (all values m) is exact", () => {
    const block = new Uint8Array(20);
    const mBits = f32ToF16Bits(-0.3125);
    block[2] = mBits & 0xff; block[3] = mBits >> 8;
    block.fill(0x5a, 4);
    const w = ggufTensorToLinear(GgmlType.Q4_1, block, 1, 32, "q4", "t");
    assert.deepEqual([...dequantizeLinear(w)], new Array(32).fill(-0.3125));
  });

  it("other types are dequantized (fp32) or re-quantized to 4 bits (q4); fp32 mode dequantizes everything", () => {
    const f16 = new Uint8Array(new Uint16Array(Array.from(values, f32ToF16Bits)).buffer);
    const asF32 = ggufTensorToLinear(GgmlType.F16, f16, rows, cols, "fp32", "t");
    assert.ok(asF32.kind === "f32");
    assert.ok(bitsEqual(asF32.data, dequantize(GgmlType.F16, f16, rows * cols)));
    const asQ4 = ggufTensorToLinear(GgmlType.F16, f16, rows, cols, "q4", "t");
    assert.ok(asQ4.kind === "nbits" && asQ4.bits === 4);
    const q41 = ggufTensorToLinear(GgmlType.Q4_1, quantizeQ4_1(values), rows, cols, "fp32", "t");
    assert.ok(bitsEqual(dequantizeLinear(q41), dequantize(GgmlType.Q4_1, quantizeQ4_1(values), rows * cols)));
  });
});

describe("convert/unpermuteQkRows", () => {
  it("inverts convert_hf_to_gguf's permutation, on fp32 rows and on raw quantized rows", () => {
    const heads = 3, hd = 8, inF = 32;
    const hf = Float32Array.from({ length: heads * hd * inF }, (_, i) => i);
    const gguf = permuteRowsHfToGguf(hf, heads * hd, inF, heads);
    assert.notDeepEqual([...gguf], [...hf]);
    const back = unpermuteQkRows(new Uint8Array(gguf.buffer), heads * hd, heads);
    assert.deepEqual([...new Float32Array(back.buffer)], [...hf]);
    // Rows are whole blocks: un-permuting quantized bytes equals quantizing the HF rows.
    const qBack = unpermuteQkRows(quantizeQ8_0(gguf), heads * hd, heads);
    assert.deepEqual(qBack, quantizeQ8_0(hf));
  });
});
