import assert from "node:assert/strict";
import { RopeUnsupportedError } from "../../../../packages/core/src/errors/KvLinkError.js";
import type { RopeSpec } from "../../../../packages/core/src/model/ModelSpec.js";
import { computeInvFreq } from "../../../../packages/core/src/rope/computeInvFreq.js";
import { assertAllClose } from "../../../support/assertAllClose.js";

/** HF `_compute_llama3_parameters`, transcribed step by step (torch.where masks over the whole vector). */
function hfLlama3(theta: number, dim: number, factor: number, low: number, high: number, oldCtx: number): number[] {
  const invFreq = Array.from({ length: dim / 2 }, (_, j) => 1 / theta ** ((2 * j) / dim));
  const lowFreqWavelen = oldCtx / low;
  const highFreqWavelen = oldCtx / high;
  const wavelen = invFreq.map((f) => (2 * Math.PI) / f);
  const invFreqLlama = invFreq.map((f, j) => (wavelen[j]! > lowFreqWavelen ? f / factor : f));
  const smoothFactor = wavelen.map((w) => (oldCtx / w - low) / (high - low));
  const smoothed = invFreqLlama.map((f, j) => ((1 - smoothFactor[j]!) * f) / factor + smoothFactor[j]! * f);
  const isMedium = wavelen.map((w) => !(w < highFreqWavelen) && !(w > lowFreqWavelen));
  return invFreqLlama.map((f, j) => (isMedium[j] ? smoothed[j]! : f));
}

describe("computeInvFreq", () => {
  it("is theta^(-2i/rotaryDim) without scaling", () => {
    const inv = computeInvFreq({ theta: 10000, rotaryDim: 8 });
    assertAllClose(inv, [1, 0.1, 0.01, 0.001], { atol: 0, rtol: 1e-14 });
  });

  it("divides by factor for linear scaling", () => {
    const plain = computeInvFreq({ theta: 100000, rotaryDim: 64 });
    const linear = computeInvFreq({ theta: 100000, rotaryDim: 64, scaling: { type: "linear", factor: 4 } });
    assertAllClose(linear, Array.from(plain, (f) => f / 4), { atol: 0, rtol: 1e-15 });
  });

  it("matches HF's llama3 formula (Llama-3.1 settings)", () => {
    const rope: RopeSpec = {
      theta: 500000,
      rotaryDim: 128,
      scaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    };
    const inv = computeInvFreq(rope);
    const expected = hfLlama3(500000, 128, 8, 1, 4, 8192);
    assertAllClose(inv, expected, { atol: 0, rtol: 1e-14, what: "llama3 inv_freq" });
    const plain = computeInvFreq({ theta: 500000, rotaryDim: 128 });
    // High frequencies untouched, low ones divided by 8, some in between smoothed.
    assert.equal(inv[0], plain[0]);
    assert.equal(inv[63], plain[63]! / 8);
    const medium = Array.from(inv).filter((f, j) => f !== plain[j] && Math.abs(f - plain[j]! / 8) > 1e-20);
    assert.ok(medium.length > 0, "some frequencies must be interpolated");
  });

  it("matches HF's llama3 formula for Llama-3.2 settings (factor 32)", () => {
    const inv = computeInvFreq({
      theta: 500000,
      rotaryDim: 64,
      scaling: { type: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    });
    assertAllClose(inv, hfLlama3(500000, 64, 32, 1, 4, 8192), { atol: 0, rtol: 1e-14 });
  });

  it("refuses specs it cannot rotate with RopeUnsupportedError", () => {
    assert.throws(() => computeInvFreq({ theta: 10000, rotaryDim: 7 }), RopeUnsupportedError);
    assert.throws(() => computeInvFreq({ theta: Number.NaN, rotaryDim: 8 }), RopeUnsupportedError);
    const yarn = { theta: 10000, rotaryDim: 8, scaling: { type: "yarn", factor: 4 } } as unknown as RopeSpec;
    assert.throws(() => computeInvFreq(yarn), RopeUnsupportedError);
    assert.throws(
      () =>
        computeInvFreq({
          theta: 10000,
          rotaryDim: 8,
          scaling: { type: "llama3", factor: 8, lowFreqFactor: 4, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
        }),
      RopeUnsupportedError,
    );
  });
});
