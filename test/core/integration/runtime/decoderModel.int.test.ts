import assert from "node:assert/strict";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadModel } from "../../../../packages/core/src/decoder/loadModel.js";
import { ConfigError, DisposedError, InvalidInputError, ModelFormatError, ModelLoadError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { argmax, maxAbsDiff, TinyModelDir } from "./tinyModels.js";

describe("DecoderModel (loadModel, generate)", function () {
  this.timeout(120_000);
  let dir: TinyModelDir;
  before(async () => {
    dir = await TinyModelDir.create();
  });
  after(() => dir.remove());

  for (const signature of ["kvlink", "standard"] as const) {
    for (const quant of ["fp32", "q4"] as const) {
      it(`${signature}/${quant}: greedy generation with the KV cache gives the ids of a full recompute at every step`, async () => {
        const tiny = await dir.write(`${signature}-${quant}`, { signature, quant, hidden: 64, heads: 4, kvHeads: 2, seed: 3 });
        await using model = await loadModel(tiny.dir, { numThreads: 1 });
        assert.equal(model.signature, signature);
        const promptTokenIds = model.encodePrompt({ messages: [{ role: "user", content: "Tell me about the shelf." }] });
        const stream = model.generate({ promptTokenIds, greedy: true, maxTokens: 10 });
        let streamed = "";
        for await (const piece of stream) streamed += piece;
        const result = await stream.result();
        assert.equal(streamed, result.text);
        assert.ok(result.tokenIds.length > 0);
        assert.equal(result.stats.numPromptTokens, promptTokenIds.length);
        assert.equal(result.stats.numGeneratedTokens, result.tokenIds.length);
        assert.ok(result.stats.ttftMs >= 0 && result.stats.tokensPerSecond >= 0);
        // Decode-only tokens/s (as the engine reports it): positive once there is a token after the first.
        if (result.tokenIds.length > 1) assert.ok(result.stats.tokensPerSecond > 0);

        // No cache: prefill everything from scratch before each token.
        const ids = [...promptTokenIds];
        for (const expected of result.tokenIds) {
          const out = await model.forward({ inputIds: ids, numLogitsToKeep: 1 });
          assert.equal(argmax(out.logits), expected);
          ids.push(expected);
        }
      });
    }
  }

  it("forward with `past` equals one pass over the whole sequence", async () => {
    const tiny = await dir.write("past", { signature: "kvlink" });
    await using model = await loadModel(tiny.dir, { numThreads: 1 });
    const ids = [40, 41, 42, 43, 44, 45];
    const whole = await model.forward({ inputIds: ids, numLogitsToKeep: 1 });
    const head = await model.forward({ inputIds: ids.slice(0, 4) });
    assert.equal(head.numLogits, 4);
    const tail = await model.forward({ inputIds: ids.slice(4), past: { ...head.newKv, positions: Int32Array.of(0, 1, 2, 3) }, numLogitsToKeep: 1 });
    assert.ok(maxAbsDiff(whole.logits, tail.logits) <= 1e-4);
  });

  it("sampling is deterministic for a seed; stop strings end generation; options are checked up front", async () => {
    const tiny = await dir.write("sampling", { signature: "kvlink" });
    await using model = await loadModel(tiny.dir, { numThreads: 1 });
    const run = (seed: number) => model.generate({ prompt: "The library keeps", maxTokens: 8, temperature: 1.5, seed }).result();
    const [a, b] = [await run(5), await run(5)];
    assert.deepEqual(a.tokenIds, b.tokenIds);
    assert.ok(a.tokenIds.length <= 8);
    if (a.finishReason === "maxTokens") assert.equal(a.tokenIds.length, 8);
    const first = a.text.slice(0, 1);
    if (first.length > 0) {
      const stopped = await model.generate({ prompt: "The library keeps", maxTokens: 8, temperature: 1.5, seed: 5, stop: [first] }).result();
      assert.equal(stopped.text, "");
      assert.equal(stopped.finishReason, "stopString");
    }
    assert.throws(() => model.generate({ prompt: "x", topP: 3 }), ConfigError);
    assert.throws(() => model.generate({ prompt: "x", messages: [] }), InvalidInputError);
    assert.throws(() => model.generate({ promptTokenIds: [] }), InvalidInputError);
  });

  it("an aborted signal rejects the stream with its reason", async () => {
    const tiny = await dir.write("abort", { signature: "kvlink" });
    await using model = await loadModel(tiny.dir, { numThreads: 1 });
    const controller = new AbortController();
    const reason = new Error("stop now");
    const stream = model.generate({ prompt: "The library keeps", maxTokens: 50, signal: controller.signal });
    controller.abort(reason);
    await assert.rejects(stream.result(), (e) => e === reason);
    // The model still works afterwards.
    assert.ok((await model.generate({ prompt: "a", maxTokens: 2, greedy: true }).result()).tokenIds.length > 0);
  });

  it("missing or corrupt model files give ModelLoadError / ModelFormatError", async () => {
    await assert.rejects(loadModel(join(dir.root, "does-not-exist")), ModelLoadError);
    const missing = await dir.write("missing-onnx", { signature: "kvlink" });
    await rm(missing.paths.onnxModel);
    await assert.rejects(loadModel(missing.dir, { numThreads: 1 }), ModelLoadError);
    const corrupt = await dir.write("corrupt-onnx", { signature: "kvlink" });
    await writeFile(corrupt.paths.onnxModel, Buffer.from("this is not a protobuf at all"));
    await assert.rejects(loadModel(corrupt.dir, { numThreads: 1 }), ModelFormatError);
    const badConfig = await dir.write("corrupt-config", { signature: "kvlink" });
    await writeFile(badConfig.paths.config, "{ not json");
    await assert.rejects(loadModel(badConfig.dir, { numThreads: 1 }), ModelFormatError);
  });

  it("dispose is idempotent; afterwards calls throw DisposedError", async () => {
    const tiny = await dir.write("dispose", { signature: "standard" });
    const model = await loadModel(tiny.dir, { numThreads: 1 });
    const sequence = await model.createSequence();
    await sequence.forward({ inputIds: [30, 31], numLogitsToKeep: 1 });
    assert.equal(sequence.length, 2);
    await sequence.dispose();
    await assert.rejects(sequence.forward({ inputIds: [1], numLogitsToKeep: 1 }), DisposedError);
    await model.dispose();
    await model[Symbol.asyncDispose]();
    assert.equal(model.disposed, true);
    assert.throws(() => model.generate({ prompt: "x" }), DisposedError);
    await assert.rejects(model.createSequence(), DisposedError);
  });
});
