import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ModelFormatError, UnsupportedModelError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { dequantize, SUPPORTED_GGML_TYPES } from "../../../../packages/core/src/gguf/dequantize.js";
import { bf16ToF32, fp16ToF32 } from "../../../../packages/core/src/gguf/fp16.js";
import { GgmlType } from "../../../../packages/core/src/gguf/ggmlType.js";

interface Fixture { type: string; typeId: number; numElements: number; hex: string; expected: number[] }
const here = dirname(fileURLToPath(import.meta.url));
const fixtures = JSON.parse(readFileSync(join(here, "fixtures", "dequantFixtures.json"), "utf8")) as Fixture[];

describe("gguf/dequantize", () => {
  describe("matches llama.cpp's gguf-py on random blocks (fixtures/makeDequantFixtures.py)", () => {
    for (const f of fixtures) {
      it(f.type, () => {
        const got = dequantize(f.typeId, Uint8Array.from(Buffer.from(f.hex, "hex")), f.numElements, f.type);
        assert.equal(got.length, f.expected.length);
        for (let i = 0; i < got.length; i++) {
          const e = f.expected[i]!;
          assert.ok(Math.abs(got[i]! - e) <= 1e-6 * Math.max(1, Math.abs(e)), `${f.type}[${i}]: ${got[i]} vs ${e}`);
        }
      });
    }
    it("covers every supported type", () => {
      for (const t of SUPPORTED_GGML_TYPES.filter((t) => t !== "F32")) assert.ok(fixtures.some((f) => f.type === t), t);
    });
  });

  it("decodes F32 from an unaligned view", () => {
    const buf = new Uint8Array(13);
    new DataView(buf.buffer).setFloat32(1, 1.5, true);
    new DataView(buf.buffer).setFloat32(5, -2.25, true);
    new DataView(buf.buffer).setFloat32(9, 3e-39, true);
    assert.deepEqual([...dequantize(GgmlType.F32, buf.subarray(1), 3)], [1.5, -2.25, Math.fround(3e-39)]);
  });

  it("rejects unsupported types with UnsupportedModelError and bad sizes with ModelFormatError", () => {
    assert.throws(() => dequantize(GgmlType.IQ4_NL, new Uint8Array(18), 32, "blk.0.attn_q.weight"), UnsupportedModelError);
    assert.throws(() => dequantize(99, new Uint8Array(18), 32), UnsupportedModelError);
    assert.throws(() => dequantize(GgmlType.Q4_0, new Uint8Array(17), 32), ModelFormatError);
    assert.throws(() => dequantize(GgmlType.Q4_0, new Uint8Array(18), 31), ModelFormatError);
  });

  it("decodes fp16 specials: subnormals, ±0, ±inf, NaN, max", () => {
    assert.equal(fp16ToF32(0x0001), 2 ** -24);
    assert.equal(fp16ToF32(0x03ff), 1023 * 2 ** -24);
    assert.equal(fp16ToF32(0x0400), 2 ** -14);
    assert.ok(Object.is(fp16ToF32(0x8000), -0));
    assert.equal(fp16ToF32(0x3c00), 1);
    assert.equal(fp16ToF32(0xc000), -2);
    assert.equal(fp16ToF32(0x7bff), 65504);
    assert.equal(fp16ToF32(0x7c00), Infinity);
    assert.equal(fp16ToF32(0xfc00), -Infinity);
    assert.ok(Number.isNaN(fp16ToF32(0x7e00)));
    assert.equal(bf16ToF32(0x3f80), 1);
    assert.equal(bf16ToF32(0xc0a0), -5);
    assert.equal(bf16ToF32(0x7f80), Infinity);
    assert.ok(Number.isNaN(bf16ToF32(0x7fc0)));
  });

  it("a Q4_1 block with d = 0 dequantizes to m everywhere", () => {
    const block = new Uint8Array(20);
    block[2] = 0x00; block[3] = 0xbc; // m = -1 (fp16 0xbc00)
    block.fill(0xa7, 4);
    assert.deepEqual([...dequantize(GgmlType.Q4_1, block, 32)], new Array(32).fill(-1));
  });
});
