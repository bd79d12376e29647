import assert from "node:assert/strict";
import { ModelFormatError, RopeUnsupportedError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { parseRopeScaling } from "../../../../packages/core/src/rope/parseRopeScaling.js";

describe("parseRopeScaling", () => {
  it("maps null, undefined and default to plain RoPE", () => {
    for (const raw of [null, undefined, "default", { rope_type: "default" }, { type: "default" }]) {
      assert.deepEqual(parseRopeScaling(raw, 100000, 64), { theta: 100000, rotaryDim: 64 });
    }
  });

  it("maps llama3 (rope_type or type) to the typed scaling", () => {
    const hf = { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192 };
    const expected = {
      theta: 500000,
      rotaryDim: 64,
      scaling: { type: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    };
    assert.deepEqual(parseRopeScaling({ ...hf, rope_type: "llama3" }, 500000, 64), expected);
    assert.deepEqual(parseRopeScaling({ ...hf, type: "llama3" }, 500000, 64), expected);
  });

  it("maps linear", () => {
    assert.deepEqual(parseRopeScaling({ type: "linear", factor: 2 }, 10000, 128), {
      theta: 10000,
      rotaryDim: 128,
      scaling: { type: "linear", factor: 2 },
    });
  });

  it("refuses length-dependent and unknown types with RopeUnsupportedError", () => {
    for (const type of ["dynamic", "yarn", "longrope", "su", "mystery"]) {
      assert.throws(() => parseRopeScaling({ rope_type: type, factor: 4 }, 10000, 64), RopeUnsupportedError, type);
      assert.throws(() => parseRopeScaling({ type, factor: 4 }, 10000, 64), RopeUnsupportedError, type);
    }
    assert.throws(() => parseRopeScaling("yarn", 10000, 64), RopeUnsupportedError);
  });

  it("reports malformed fields as ModelFormatError", () => {
    assert.throws(() => parseRopeScaling({ type: "linear" }, 10000, 64), ModelFormatError);
    assert.throws(() => parseRopeScaling({ rope_type: "llama3", factor: 8 }, 10000, 64), ModelFormatError);
    assert.throws(() => parseRopeScaling({ factor: 8 }, 10000, 64), ModelFormatError);
    assert.throws(() => parseRopeScaling(42, 10000, 64), ModelFormatError);
  });

  it("refuses a bad rotaryDim or theta", () => {
    assert.throws(() => parseRopeScaling(null, 10000, 63), RopeUnsupportedError);
    assert.throws(() => parseRopeScaling(null, -1, 64), RopeUnsupportedError);
    assert.throws(() => parseRopeScaling({ type: "linear", factor: 0 }, 10000, 64), RopeUnsupportedError);
  });
});
