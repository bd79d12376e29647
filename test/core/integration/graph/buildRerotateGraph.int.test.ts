import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { RerotateIoNames, buildRerotateGraph } from "../../../../packages/core/src/graph/buildRerotateGraph.js";
import { UnsupportedModelError } from "../../../../packages/core/src/errors/KvLinkError.js";
import type { ModelSpec } from "../../../../packages/core/src/model/ModelSpec.js";
import { createRandomWeights } from "../../../../packages/core/src/model/createRandomWeights.js";
import { tinySpec } from "../../../../packages/core/src/model/tinySpec.js";
import { assertAllClose, maxAbsDiff } from "../../../support/assertAllClose.js";
import { causalMask, referenceForward } from "../../../support/referenceForward.js";
import { TestSession, tokenIds } from "./decoderHarness.js";

const ATOL = 1e-4;

/** Reference post-RoPE keys of every layer [KVH, T, D] for `ids` at `positions` (causal). */
function keysAt(spec: ModelSpec, seed: number, ids: number[], positions: number[]): Float32Array[] {
  const weights = createRandomWeights(spec, { seed });
  return referenceForward(weights, { inputIds: ids, positionIds: positions, mask: causalMask(ids.length) }).newKeys;
}

/** Runs the rerotate graph on a batch of [KVH, T, D] caches with per-row deltas. */
async function rerotate(s: TestSession, spec: ModelSpec, caches: Float32Array[], deltas: number[][]): Promise<Float32Array[]> {
  const T = deltas[0]!.length;
  const per = spec.numKvHeads * T * spec.headDim;
  const keys = new Float32Array(caches.length * per);
  caches.forEach((c, i) => keys.set(c, i * per));
  const out = await s.session.run({
    [RerotateIoNames.keys]: new ort.Tensor("float32", keys, [caches.length, spec.numKvHeads, T, spec.headDim]),
    [RerotateIoNames.deltaPositions]: new ort.Tensor("int64", BigInt64Array.from(deltas.flat(), BigInt), [caches.length, T]),
  });
  const rotated = out[RerotateIoNames.rotatedKeys]!;
  assert.deepEqual(rotated.dims, [caches.length, spec.numKvHeads, T, spec.headDim]);
  const data = rotated.data as Float32Array;
  return caches.map((_, i) => data.slice(i * per, (i + 1) * per));
}

const specs: [string, ModelSpec][] = [
  ["plain RoPE", tinySpec()],
  [
    "Llama-3 scaling",
    tinySpec({
      rope: { theta: 10000, rotaryDim: 8, scaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 } },
    }),
  ],
  ["linear scaling, partial rotary", tinySpec({ headDim: 16, rope: { theta: 500000, rotaryDim: 8, scaling: { type: "linear", factor: 2 } } })],
];

describe("buildRerotateGraph", function () {
  this.timeout(60_000);

  for (const [label, spec] of specs) {
    it(`${label}: rotated keys equal keys computed at the shifted positions (negative, mixed and beyond maxPositions)`, async () => {
      await using s = await TestSession.create(buildRerotateGraph(spec));
      const ids = tokenIds(6, spec.vocabSize, 3);
      const from = [10, 11, 12, 13, 14, 15];
      // Row 0: per-token deltas, checked on layer 0 whose keys depend only on (token, position).
      const mixed = [-10, -10, 0, 5, 300, 1000];
      // Row 1: one shift for all tokens (a document moved as a whole), checked on every layer.
      const uniform = [123, 123, 123, 123, 123, 123];
      const original = keysAt(spec, 31, ids, from);
      const [row0, row1] = await rerotate(s, spec, [original[0]!, original[1]!], [mixed, uniform]);
      const expectedMixed = keysAt(spec, 31, ids, from.map((p, i) => p + mixed[i]!));
      const expectedUniform = keysAt(spec, 31, ids, from.map((p, i) => p + uniform[i]!));
      assertAllClose(row0!, expectedMixed[0]!, { atol: ATOL, what: "layer 0 keys, mixed deltas" });
      assertAllClose(row1!, expectedUniform[1]!, { atol: ATOL, what: "layer 1 keys, uniform delta" });
      // Zero delta is the identity (up to fp32 cos/sin rounding); a nonzero delta really moves the keys.
      const [same] = await rerotate(s, spec, [original[1]!], [[0, 0, 0, 0, 0, 0]]);
      assertAllClose(same!, original[1]!, { atol: 1e-6, what: "delta 0" });
      assert.ok(maxAbsDiff(row1!, original[1]!).maxAbsDiff > 1e-2, "delta 123 changed the keys");
    });
  }

  it("rotating by +d then −d returns the input", async () => {
    const spec = tinySpec();
    await using s = await TestSession.create(buildRerotateGraph(spec));
    const keys = keysAt(spec, 32, tokenIds(4, spec.vocabSize, 1), [0, 1, 2, 3])[1]!;
    const [there] = await rerotate(s, spec, [keys], [[7, 50, 900, 3]]);
    const [back] = await rerotate(s, spec, [there!], [[-7, -50, -900, -3]]);
    assertAllClose(back!, keys, { atol: 1e-5, what: "round trip" });
  });

  it("refuses a rotaryDim larger than headDim", () => {
    const spec = { ...tinySpec(), rope: { theta: 10000, rotaryDim: 16 } };
    assert.throws(() => buildRerotateGraph(spec), UnsupportedModelError);
  });
});
