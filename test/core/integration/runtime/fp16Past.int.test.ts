import assert from "node:assert/strict";
import { InProcessRuntime } from "../../../../packages/core/src/runtime/InProcessRuntime.js";
import { RuntimeClient } from "../../../../packages/core/src/runtime/RuntimeClient.js";
import type { KvBlock, Runtime } from "../../../../packages/core/src/runtime/Runtime.js";
import { decodeFloat16, encodeFloat16 } from "../../../../packages/core/src/store/codec/float16.js";
import type { KvGeometry } from "../../../../packages/core/src/runtime/SequenceKv.js";
import { syntheticKvBlock } from "../../../support/syntheticKv.js";
import { maxAbsDiff, TinyModelDir } from "./tinyModels.js";

/** A past of n tokens; `roundToHalf` makes every value fp16-representable. */
function pastBlock(spec: KvGeometry, n: number, roundToHalf: boolean): KvBlock {
  const block = syntheticKvBlock(spec, n, { seed: 5, scale: 1.7 });
  if (!roundToHalf) return block;
  return { ...block, keys: block.keys.map(roundHalf), values: block.values.map(roundHalf) };
}

async function run(runtime: Runtime, past: KvBlock): Promise<{ logits: Float32Array; fresh: KvBlock }> {
  const seq = await runtime.createSequence();
  await runtime.appendKv(seq, past);
  const out = await runtime.forward(seq, { inputIds: [40, 41, 42], numLogitsToKeep: 0 });
  const fresh = await runtime.readKv(seq, past.numTokens, past.numTokens + 3);
  await runtime.disposeSequence(seq);
  return { logits: out.logits, fresh };
}

describe("runtime: float16 past KV inputs (graphs built with pastKvType float16)", function () {
  this.timeout(60_000);
  let dir: TinyModelDir;
  before(async () => {
    dir = await TinyModelDir.create();
  });
  after(() => dir.remove());

  it("equals the fp32-past graph on fp16-representable KV (the cast is exact), and stays close on any KV", async () => {
    const common = { signature: "kvlink" as const, layers: 2, hidden: 64, heads: 4, kvHeads: 2, maxPositionEmbeddings: 512 };
    const f32 = await dir.write("past-f32", common);
    const f16 = await dir.write("past-f16", { ...common, pastKvType: "float16" });
    await using a = await InProcessRuntime.create({ modelPath: f32.paths.onnxModel, spec: f32.spec, numThreads: 1 });
    await using b = await InProcessRuntime.create({ modelPath: f16.paths.onnxModel, spec: f16.spec, numThreads: 1 });
    await using worker = await RuntimeClient.create({ modelPath: f16.paths.onnxModel, spec: f16.spec, numThreads: 1 });

    const exact = pastBlock(f32.spec, 37, true);
    const ra = await run(a, exact);
    const rb = await run(b, exact);
    assert.ok(maxAbsDiff(ra.logits, rb.logits) <= 1e-5, `logits differ by ${maxAbsDiff(ra.logits, rb.logits)}`);
    assert.deepEqual((await run(worker, exact)).logits, rb.logits);
    // The fresh tokens' KV lands in the fp16 slots rounded: what the fp32 graph computed, rounded to fp16.
    for (let l = 0; l < f32.spec.numLayers; l++) {
      assert.deepEqual(rb.fresh.keys[l], roundHalf(ra.fresh.keys[l]!));
      assert.deepEqual(rb.fresh.values[l], roundHalf(ra.fresh.values[l]!));
    }

    // Unrounded KV: the fp16 graph sees it rounded (relative error ≤ 2^-11 per element).
    const any = pastBlock(f32.spec, 37, false);
    const diff = maxAbsDiff((await run(a, any)).logits, (await run(b, any)).logits);
    assert.ok(diff > 0 && diff <= 1e-2, `fp16 rounding of the past moved the logits by ${diff}`);
  });
});

function roundHalf(x: Float32Array): Float32Array {
  const bits = new Uint16Array(x.length);
  encodeFloat16(x, bits);
  const out = new Float32Array(x.length);
  decodeFloat16(bits, out);
  return out;
}
