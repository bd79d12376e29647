import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { buildDecoderGraph } from "../../../../packages/core/src/graph/buildDecoderGraph.js";
import type { TinyModel } from "../../../../packages/core/src/graph/writeTinyModel.js";
import { createRandomWeights } from "../../../../packages/core/src/model/createRandomWeights.js";
import { computeInvFreq } from "../../../../packages/core/src/rope/computeInvFreq.js";
import { deltaRotation } from "../../../../packages/core/src/rope/rotateKeysInto.js";
import { HostKvCache, type KeyLayout } from "../../../../packages/core/src/runtime/HostKvCache.js";
import { InProcessRuntime } from "../../../../packages/core/src/runtime/InProcessRuntime.js";
import type { KvBlock } from "../../../../packages/core/src/runtime/Runtime.js";
import { maxAbsDiff, TinyModelDir } from "./tinyModels.js";

const geometry = { numLayers: 2, numKvHeads: 3, headDim: 8 };

/** A block whose every element encodes (layer, kind, head, token, dim), so misplaced data is visible. */
function block(startToken: number, n: number): KvBlock {
  const make = (layer: number, kind: number): Float32Array => {
    const a = new Float32Array(geometry.numKvHeads * n * geometry.headDim);
    for (let h = 0; h < geometry.numKvHeads; h++)
      for (let t = 0; t < n; t++)
        for (let d = 0; d < geometry.headDim; d++) a[(h * n + t) * geometry.headDim + d] = layer * 1e6 + kind * 1e5 + h * 1e4 + (startToken + t) * 10 + d;
    return a;
  };
  return { keys: [make(0, 0), make(1, 0)], values: [make(0, 1), make(1, 1)], numTokens: n, positions: Int32Array.from({ length: n }, (_, i) => startToken + i) };
}

describe("HostKvCache key layouts", () => {
  const create = (keyLayout: KeyLayout) => new HostKvCache(geometry, { maxCapacityHint: 10_000, keyLayout });

  it("dimMajor keeps keys as [KVH, D, capacity] and reads back [KVH, n, D] across growth and truncation", () => {
    const cache = create("dimMajor");
    cache.append(block(0, 5));
    cache.append(block(5, 300)); // grows past the first 256-slot chunk
    cache.truncate(290);
    cache.append(block(290, 3));
    assert.equal(cache.length, 293);
    assert.deepEqual(cache.read(2, 293), block(2, 291));
    const cap = cache.capacity;
    const k = cache.pastKeys(1);
    assert.equal(k.length, geometry.numKvHeads * geometry.headDim * cap);
    // layer 1, head 2, dim 5, token 291
    assert.equal(k[(2 * geometry.headDim + 5) * cap + 291], 1e6 + 2e4 + 2910 + 5);
    // values stay [KVH, capacity, D]
    assert.equal(cache.pastValues(1)[(2 * cap + 291) * geometry.headDim + 5], 1e6 + 1e5 + 2e4 + 2910 + 5);
  });

  it("appendDocument rotates into both layouts identically (fused copy + re-rotation), from a start token", () => {
    const invFreq = computeInvFreq({ theta: 10000, rotaryDim: 6 }); // partial rotary: dims 6, 7 copied
    const rotation = deltaRotation(invFreq, 37);
    const doc: KvBlock = { ...block(0, 40), keys: block(0, 40).keys.map((k) => k.map((x, i) => Math.sin(x + i))) };
    const reads = (["tokenMajor", "dimMajor"] as const).map((layout) => {
      const cache = create(layout);
      cache.append(block(0, 3));
      cache.appendDocument(doc, 4, 100, rotation);
      cache.appendDocument(doc, 0, 200, undefined);
      assert.deepEqual(cache.status(), { length: 3 + 36 + 40, lastPosition: 239 });
      assert.equal(cache.positionAt(3), 104);
      return cache.read(0, cache.length);
    });
    assert.deepEqual(reads[1], reads[0]);
    // The rotation did something to the rotary dims and left the others alone.
    const [keys] = reads[0]!.keys;
    assert.notEqual(keys![3 * geometry.headDim], doc.keys[0]![4 * geometry.headDim]);
    assert.equal(keys![3 * geometry.headDim + 7], doc.keys[0]![4 * geometry.headDim + 7]);
  });
});

describe("DecoderSession over decomposed (dimMajor keys), hybrid (dimMajor values) and Attention-23 graphs", function () {
  this.timeout(120_000);
  let dir: TinyModelDir;
  let onnx: TinyModel;
  const variants: Partial<Record<"decomposed" | "hybrid", TinyModel>> = {};

  before(async () => {
    dir = await TinyModelDir.create();
    onnx = await dir.write("onnx", { signature: "kvlink", quant: "q4", maxPositionEmbeddings: 600 });
    for (const attention of ["decomposed", "hybrid"] as const) {
      const model = await dir.write(attention, { signature: "kvlink", quant: "q4", maxPositionEmbeddings: 600 });
      // Same seed and quant as writeTinyModel → same weights; only the attention formulation differs.
      const weights = createRandomWeights(model.spec, { seed: 11, quant: "q4" });
      await writeFile(model.paths.onnxModel, buildDecoderGraph(weights, { signature: "kvlink", attention }).model);
      variants[attention] = model;
    }
  });
  after(() => dir.remove());

  async function run(model: TinyModel) {
    await using rt = await InProcessRuntime.create({ modelPath: model.paths.onnxModel, spec: model.spec, numThreads: 1 });
    const docSeq = await rt.createSequence();
    const docIds = Array.from({ length: 40 }, (_, i) => (i * 13 + 7) % 300);
    const doc = await rt.forward(docSeq, { inputIds: docIds, numLogitsToKeep: 1, returnKv: true });
    await rt.putDocument("doc", doc.newKv!);
    const seq = await rt.createSequence();
    await rt.forward(seq, { inputIds: [1, 2, 3], numLogitsToKeep: 1 });
    await rt.appendDocument(seq, "doc", { offset: 3, rotate: true });
    await rt.appendDocument(seq, "doc", { offset: 43, start: 5, rotate: true });
    // 218 fresh tokens take the sequence past its first 256-slot chunk (and the hybrid graph's decode steps into
    // its MatMul branch).
    const fresh = Array.from({ length: 218 }, (_, i) => (i * 7 + 3) % 300);
    await rt.forward(seq, { inputIds: fresh, numLogitsToKeep: 1 });
    const logits: Float32Array[] = [];
    for (const id of [9, 10, 11]) logits.push((await rt.forward(seq, { inputIds: [id], numLogitsToKeep: 1 })).logits);
    const kv = await rt.readKv(seq, 0, 3 + 40 + 35 + 218 + 3);
    return { logits, kv };
  }

  for (const attention of ["decomposed", "hybrid"] as const) {
    it(`${attention}: prefill, document linking with re-rotation, growth past a chunk, decode and readKv agree with Attention-23 within 1e-4`, async () => {
      const a = await run(variants[attention]!);
      const b = await run(onnx);
      for (let i = 0; i < 3; i++) assert.ok(maxAbsDiff(a.logits[i]!, b.logits[i]!) <= 1e-4, `decode step ${i}`);
      for (let l = 0; l < onnx.spec.numLayers; l++) {
        assert.ok(maxAbsDiff(a.kv.keys[l]!, b.kv.keys[l]!) <= 1e-4, `keys layer ${l}`);
        assert.ok(maxAbsDiff(a.kv.values[l]!, b.kv.values[l]!) <= 1e-4, `values layer ${l}`);
      }
      assert.deepEqual(a.kv.positions, b.kv.positions);
    });
  }
});
