import assert from "node:assert/strict";
import { InProcessRuntime } from "../../../../packages/core/src/runtime/InProcessRuntime.js";
import { RuntimeClient } from "../../../../packages/core/src/runtime/RuntimeClient.js";
import type { KvBlock, Runtime } from "../../../../packages/core/src/runtime/Runtime.js";
import type { KvGeometry } from "../../../../packages/core/src/runtime/SequenceKv.js";
import { syntheticKvBlock } from "../../../support/syntheticKv.js";
import { TinyModelDir } from "./tinyModels.js";

/** A document-sized block (values don't matter here, only that both runtimes get the same ones). */
function documentBlock(spec: KvGeometry, n: number, seed: number): KvBlock {
  return syntheticKvBlock(spec, n, { seed, scale: 0.5 });
}

/** Two documents placed (re-rotated to their offsets) after a 3-token prefix, then a forward of fresh tokens. */
async function linkedRun(runtime: Runtime, docs: readonly KvBlock[]): Promise<{ logits: Float32Array; kv: KvBlock }> {
  for (const [i, doc] of docs.entries()) await runtime.putDocument(`doc-${i}`, doc);
  const seq = await runtime.createSequence({ reserveTokens: 3 + docs.reduce((s, d) => s + d.numTokens, 0) + 4 });
  await runtime.forward(seq, { inputIds: [5, 6, 7], numLogitsToKeep: 1 });
  let offset = 3;
  for (const [i, doc] of docs.entries()) {
    await runtime.appendDocument(seq, `doc-${i}`, { offset, rotate: true, start: i });
    offset += doc.numTokens;
  }
  const out = await runtime.forward(seq, { inputIds: [40, 41], positionIds: [offset - 2, offset - 1], numLogitsToKeep: 1 });
  const kv = await runtime.readKv(seq, 0, offset - 2);
  await runtime.disposeSequence(seq);
  return { logits: out.logits, kv };
}

describe("runtime: document placement on helper threads (placementThreads)", function () {
  this.timeout(120_000);
  let dir: TinyModelDir;
  before(async () => {
    dir = await TinyModelDir.create();
  });
  after(() => dir.remove());

  it("gives bit-identical slots and logits with 3 threads as with 1, in-process and in the worker", async () => {
    // 4 layers × 4 KV heads × 64 dims: a 600-token document is over the pool's 2^20-float threshold.
    const model = await dir.write("placement", { signature: "kvlink", layers: 4, hidden: 256, heads: 4, kvHeads: 4, maxPositionEmbeddings: 2048 });
    const spec = model.spec;
    const docs = [documentBlock(spec, 600, 1), documentBlock(spec, 640, 2)];
    const base = { modelPath: model.paths.onnxModel, spec, numThreads: 1 };
    await using alone = await InProcessRuntime.create({ ...base, placementThreads: 1 });
    await using helped = await InProcessRuntime.create({ ...base, placementThreads: 3 });
    await using worker = await RuntimeClient.create({ ...base, placementThreads: 3 });
    assert.equal(alone.info.placementThreads, 1);
    assert.equal(helped.info.placementThreads, 3);
    assert.equal(worker.info.placementThreads, 3);
    const expected = await linkedRun(alone, docs);
    for (const runtime of [helped, worker]) {
      const got = await linkedRun(runtime, docs);
      assert.deepEqual(got.kv.positions, expected.kv.positions);
      for (let l = 0; l < spec.numLayers; l++) {
        assert.deepEqual(got.kv.keys[l], expected.kv.keys[l], `keys of layer ${l}`);
        assert.deepEqual(got.kv.values[l], expected.kv.values[l], `values of layer ${l}`);
      }
      assert.deepEqual(got.logits, expected.logits);
    }
  });

  it("does the same for a float16-past graph (fp16 resident documents, fp16 slots)", async () => {
    const model = await dir.write("placement-f16", {
      signature: "kvlink",
      layers: 4,
      hidden: 256,
      heads: 4,
      kvHeads: 4,
      maxPositionEmbeddings: 2048,
      pastKvType: "float16",
    });
    const spec = model.spec;
    const docs = [documentBlock(spec, 600, 3), documentBlock(spec, 700, 4)];
    const base = { modelPath: model.paths.onnxModel, spec, numThreads: 1 };
    await using alone = await InProcessRuntime.create({ ...base, placementThreads: 1 });
    await using helped = await RuntimeClient.create({ ...base, placementThreads: 3 });
    const expected = await linkedRun(alone, docs);
    const got = await linkedRun(helped, docs);
    for (let l = 0; l < spec.numLayers; l++) {
      assert.deepEqual(got.kv.keys[l], expected.kv.keys[l], `keys of layer ${l}`);
      assert.deepEqual(got.kv.values[l], expected.kv.values[l], `values of layer ${l}`);
    }
    assert.deepEqual(got.logits, expected.logits);
  });
});
