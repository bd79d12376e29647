import assert from "node:assert/strict";
import { InProcessRuntime } from "../../../../packages/core/src/runtime/InProcessRuntime.js";
import { maxAbsDiff, TinyModelDir } from "./tinyModels.js";

describe("writeTinyModel repeatLayers (benchmark models)", function () {
  this.timeout(120_000);
  let dir: TinyModelDir;
  before(async () => {
    dir = await TinyModelDir.create();
  });
  after(() => dir.remove());

  it("writes every layer, all with the first layer's weights: a 3-layer model equals that layer applied three times", async () => {
    const repeated = await dir.write("repeated", { signature: "kvlink", layers: 3, repeatLayers: true });
    const single = await dir.write("single", { signature: "kvlink", layers: 1 });
    assert.equal(repeated.spec.numLayers, 3);
    await using three = await InProcessRuntime.create({ modelPath: repeated.paths.onnxModel, spec: repeated.spec, numThreads: 1 });
    await using one = await InProcessRuntime.create({ modelPath: single.paths.onnxModel, spec: single.spec, numThreads: 1 });
    const ids = [30, 31, 32, 40];
    const a = await three.forward(await three.createSequence(), { inputIds: ids, numLogitsToKeep: 1, returnKv: true });
    const b = await one.forward(await one.createSequence(), { inputIds: ids, numLogitsToKeep: 1, returnKv: true });
    // Same seed, so layer 0 is the same layer in both models: its KV agrees, while three layers change the logits.
    assert.equal(a.newKv!.keys.length, 3);
    assert.ok(maxAbsDiff(a.newKv!.keys[0]!, b.newKv!.keys[0]!) < 1e-5);
    assert.ok(maxAbsDiff(a.logits, b.logits) > 1e-3);
  });
});
