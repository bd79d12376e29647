import assert from "node:assert/strict";
import { decodeFloat16, encodeFloat16, f16BitsToF32, f32ToF16Bits } from "../../../../packages/core/src/store/codec/float16.js";
import { f32ToF16Bits as referenceF16Bits } from "../../../support/ggufWriter.js";

describe("store/codec/float16", () => {
  it("decodes known bit patterns exactly", () => {
    assert.equal(f16BitsToF32(0x3c00), 1);
    assert.equal(f16BitsToF32(0xc000), -2);
    assert.equal(f16BitsToF32(0x7bff), 65504);
    assert.equal(f16BitsToF32(0x0001), 2 ** -24);
    assert.equal(f16BitsToF32(0x0400), 2 ** -14);
    assert.equal(f16BitsToF32(0x7c00), Infinity);
    assert.equal(f16BitsToF32(0xfc00), -Infinity);
    assert.ok(Number.isNaN(f16BitsToF32(0x7e00)));
    assert.ok(Object.is(f16BitsToF32(0x8000), -0));
  });

  it("round-trips every non-NaN half exactly and keeps NaN a NaN", () => {
    for (let bits = 0; bits < 65536; bits++) {
      const v = f16BitsToF32(bits);
      if (Number.isNaN(v)) assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(v))), `NaN ${bits.toString(16)}`);
      else assert.equal(f32ToF16Bits(v), bits, `bits 0x${bits.toString(16)}`);
    }
  });

  it("rounds midpoints to even and values just past them up (normals, subnormals, overflow)", () => {
    const up = (x: number): number => {
      const f = new Float32Array([x]);
      const u = new Uint32Array(f.buffer);
      u[0] = u[0]! + 1; // next fp32 away from zero (x > 0)
      return f[0]!;
    };
    for (let bits = 0; bits < 0x7bff; bits++) {
      const lo = f16BitsToF32(bits);
      const hi = f16BitsToF32(bits + 1);
      const mid = (lo + hi) / 2; // exact in fp32: at most 12 significant bits
      const even = bits % 2 === 0 ? bits : bits + 1;
      assert.equal(f32ToF16Bits(mid), even, `midpoint above 0x${bits.toString(16)}`);
      assert.equal(f32ToF16Bits(-mid), even | 0x8000, `negative midpoint above 0x${bits.toString(16)}`);
      assert.equal(f32ToF16Bits(up(mid)), bits + 1, `just above the midpoint above 0x${bits.toString(16)}`);
    }
    assert.equal(f32ToF16Bits(65520), 0x7c00, "65520 (midpoint of max and 2^16) rounds to Infinity");
    assert.equal(f32ToF16Bits(65519), 0x7bff);
    assert.equal(f32ToF16Bits(1e9), 0x7c00);
    assert.equal(f32ToF16Bits(2 ** -25), 0x0000, "half the smallest subnormal ties to +0");
    assert.equal(f32ToF16Bits(up(2 ** -25)), 0x0001);
    assert.equal(f32ToF16Bits(1e-10), 0);
    assert.equal(f32ToF16Bits(-1e-10), 0x8000);
  });

  it("encodes and decodes arrays with relative error <= 2^-11 in the normal range", () => {
    const src = new Float32Array(4096);
    for (let i = 0; i < src.length; i++) src[i] = (Math.sin(i * 12.9898) * 43758.5453) % 100;
    const bits = new Uint16Array(src.length);
    encodeFloat16(src, bits);
    const back = new Float32Array(src.length);
    decodeFloat16(bits, back);
    for (let i = 0; i < src.length; i++) {
      if (Math.abs(src[i]!) < 2 ** -14) continue;
      assert.ok(Math.abs(back[i]! - src[i]!) <= Math.abs(src[i]!) * 2 ** -11, `index ${i}: ${src[i]} -> ${back[i]}`);
    }
  });

  it("encodeFloat16 gives the independent rounding-by-cases reference's bits for 2^22 fp32 patterns across the whole range", () => {
    // Every 1021st pattern (prime stride: all exponents, signs, NaN payloads, subnormals, near-ties), plus each
    // pattern next to an fp16 rounding boundary region (±3 around the 2^13 grid of the low mantissa bits).
    const stride = 1021;
    const n = 1 << 22;
    const patterns = new Uint32Array(n);
    for (let i = 0; i < n; i++) patterns[i] = (i * stride) >>> 0;
    for (let i = 0; i < 1 << 16; i++) patterns[(i * 64) % n] = ((i << 16) | 0x1000) + ((i % 7) - 3); // ties and neighbours
    const values = new Float32Array(patterns.buffer);
    const got = new Uint16Array(n);
    encodeFloat16(values, got);
    let bad = 0;
    let first = "";
    for (let i = 0; i < n; i++) {
      const want = referenceF16Bits(values[i]!);
      const isNan = Number.isNaN(values[i]!);
      if (isNan ? (got[i]! & 0x7c00) !== 0x7c00 || (got[i]! & 0x3ff) === 0 : got[i] !== want) {
        if (bad++ === 0) first = `0x${patterns[i]!.toString(16)}: got 0x${got[i]!.toString(16)}, want 0x${want.toString(16)}`;
      }
    }
    assert.equal(bad, 0, `mismatches, first ${first}`);
  });
});
