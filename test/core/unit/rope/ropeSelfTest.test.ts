import assert from "node:assert/strict";
import { InvariantError, RopeUnsupportedError } from "../../../../packages/core/src/errors/KvLinkError.js";
import type { RopeSpec } from "../../../../packages/core/src/model/ModelSpec.js";
import { ropeSelfTest } from "../../../../packages/core/src/rope/ropeSelfTest.js";

describe("ropeSelfTest", () => {
  const specs: Record<string, RopeSpec> = {
    "plain (SmolLM2)": { theta: 100000, rotaryDim: 64 },
    "tiny": { theta: 10000, rotaryDim: 8 },
    "llama3 (Llama-3.2)": {
      theta: 500000,
      rotaryDim: 64,
      scaling: { type: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    },
    "linear": { theta: 10000, rotaryDim: 128, scaling: { type: "linear", factor: 4 } },
  };
  for (const [name, rope] of Object.entries(specs)) {
    it(`passes for ${name} with fp32-level error`, () => {
      const diff = ropeSelfTest(rope);
      assert.ok(diff < 1e-5, `measured ${diff}`);
    });
  }

  it("throws InvariantError when the measured error exceeds the tolerance", () => {
    // fp32 rounding alone makes the moved keys differ by more than 0.
    assert.throws(() => ropeSelfTest({ theta: 10000, rotaryDim: 64 }, { tolerance: 0 }), InvariantError);
  });

  it("refuses a RoPE that cannot be re-rotated", () => {
    const dynamic = { theta: 10000, rotaryDim: 64, scaling: { type: "dynamic", factor: 2 } } as unknown as RopeSpec;
    assert.throws(() => ropeSelfTest(dynamic), RopeUnsupportedError);
  });
});
