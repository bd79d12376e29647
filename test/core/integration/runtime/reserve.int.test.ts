import assert from "node:assert/strict";
import { InvalidInputError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { InProcessRuntime } from "../../../../packages/core/src/runtime/InProcessRuntime.js";
import { maxAbsDiff, TinyModelDir } from "./tinyModels.js";

describe("runtime: reserved KV slots", function () {
  this.timeout(60_000);
  let dir: TinyModelDir;
  before(async () => {
    dir = await TinyModelDir.create();
  });
  after(() => dir.remove());

  it("a sequence created with reserveTokens computes the same logits, and rejects a bad reservation", async () => {
    const model = await dir.write("kv", { signature: "kvlink" });
    await using runtime = await InProcessRuntime.create({ modelPath: model.paths.onnxModel, spec: model.spec, numThreads: 1 });
    const ids = [5, 40, 41, 42, 43, 44, 45];
    const plain = await runtime.createSequence();
    const reserved = await runtime.createSequence({ reserveTokens: 100 });
    const a = await runtime.forward(plain, { inputIds: ids, numLogitsToKeep: 1 });
    const b = await runtime.forward(reserved, { inputIds: ids, numLogitsToKeep: 1 });
    assert.ok(maxAbsDiff(a.logits, b.logits) <= 1e-5);
    const a2 = await runtime.forward(plain, { inputIds: [50], numLogitsToKeep: 1 });
    const b2 = await runtime.forward(reserved, { inputIds: [50], numLogitsToKeep: 1 });
    assert.ok(maxAbsDiff(a2.logits, b2.logits) <= 1e-5);
    await assert.rejects(runtime.createSequence({ reserveTokens: -1 }), InvalidInputError);
  });
});
