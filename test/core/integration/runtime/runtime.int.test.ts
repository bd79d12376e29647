import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  ContextOverflowError,
  DisposedError,
  ExecutionProviderError,
  InvalidInputError,
  KvLayoutError,
  ModelLoadError,
  WorkerCrashedError,
} from "../../../../packages/core/src/errors/KvLinkError.js";
import type { TinyModel } from "../../../../packages/core/src/graph/writeTinyModel.js";
import { InProcessRuntime } from "../../../../packages/core/src/runtime/InProcessRuntime.js";
import type { Runtime } from "../../../../packages/core/src/runtime/Runtime.js";
import { RuntimeClient } from "../../../../packages/core/src/runtime/RuntimeClient.js";
import { maxAbsDiff, TinyModelDir } from "./tinyModels.js";

const PROMPT = [30, 31, 32, 40, 50, 60, 70, 80, 90, 100, 110, 120];

function runtimeOptions(model: TinyModel) {
  return { modelPath: model.paths.onnxModel, spec: model.spec, numThreads: 1 };
}

describe("runtime: worker and in-process", function () {
  this.timeout(120_000);
  let dir: TinyModelDir;
  const models: Partial<Record<"kvlink" | "standard", TinyModel>> = {};

  before(async () => {
    dir = await TinyModelDir.create();
    models.kvlink = await dir.write("kvlink", { signature: "kvlink" });
    models.standard = await dir.write("standard", { signature: "standard" });
  });
  after(() => dir.remove());

  for (const signature of ["kvlink", "standard"] as const) {
    describe(`${signature} signature`, () => {
      it("detects the signature, and the worker's logits equal InProcessRuntime's (prefill and decode)", async () => {
        await using worker = await RuntimeClient.create(runtimeOptions(models[signature]!));
        await using local = await InProcessRuntime.create(runtimeOptions(models[signature]!));
        assert.equal(worker.info.signature, signature);
        assert.equal(local.info.signature, signature);
        const a = await worker.createSequence();
        const b = await local.createSequence();
        const pa = await worker.forward(a, { inputIds: PROMPT, numLogitsToKeep: 0 });
        const pb = await local.forward(b, { inputIds: PROMPT, numLogitsToKeep: 0 });
        assert.equal(pa.numLogits, PROMPT.length);
        assert.equal(pa.logits.length, PROMPT.length * models[signature]!.spec.vocabSize);
        assert.ok(maxAbsDiff(pa.logits, pb.logits) <= 1e-6);
        const da = await worker.forward(a, { inputIds: [7], numLogitsToKeep: 1 });
        const db = await local.forward(b, { inputIds: [7], numLogitsToKeep: 1 });
        assert.ok(maxAbsDiff(da.logits, db.logits) <= 1e-6);
        assert.deepEqual(da.status, { length: PROMPT.length + 1, lastPosition: PROMPT.length });
      });

      it("decoding with the KV cache matches a full prefill of the same tokens", async () => {
        await using rt = await RuntimeClient.create(runtimeOptions(models[signature]!));
        const cached = await rt.createSequence();
        await rt.forward(cached, { inputIds: PROMPT.slice(0, 5), numLogitsToKeep: 1 });
        let last;
        for (const id of PROMPT.slice(5)) last = await rt.forward(cached, { inputIds: [id], numLogitsToKeep: 1 });
        const full = await rt.createSequence();
        const ref = await rt.forward(full, { inputIds: PROMPT, numLogitsToKeep: 1 });
        assert.ok(maxAbsDiff(last!.logits, ref.logits) <= 1e-4);
      });

      it("readKv → appendKv into a new sequence continues exactly like the original", async () => {
        await using rt = await RuntimeClient.create(runtimeOptions(models[signature]!));
        const original = await rt.createSequence();
        const prefill = await rt.forward(original, { inputIds: PROMPT, numLogitsToKeep: 1, returnKv: true });
        const block = await rt.readKv(original, 0, PROMPT.length);
        assert.equal(block.numTokens, PROMPT.length);
        assert.deepEqual([...block.positions], PROMPT.map((_, i) => i));
        assert.deepEqual(block.keys, prefill.newKv!.keys);
        const copy = await rt.createSequence();
        const status = await rt.appendKv(copy, block, { transfer: true });
        assert.deepEqual(status, { length: PROMPT.length, lastPosition: PROMPT.length - 1 });
        assert.equal(block.keys[0]!.length, 0, "transferred arrays are detached");
        const a = await rt.forward(original, { inputIds: [9], numLogitsToKeep: 1 });
        const b = await rt.forward(copy, { inputIds: [9], numLogitsToKeep: 1 });
        assert.ok(maxAbsDiff(a.logits, b.logits) <= 1e-6);
        // Reusing a transferred (detached) block is caught on the main side.
        await assert.rejects(rt.appendKv(copy, block), InvalidInputError);
        const again = await rt.readKv(original, 0, 2);
        await assert.rejects(rt.appendKv(copy, { ...again, keys: [new Float32Array(3)] }), KvLayoutError);
        assert.equal((await rt.appendKv(copy, again)).length, PROMPT.length + 1 + 2);
        assert.equal(again.keys[0]!.length > 0, true, "without transfer the caller keeps its arrays");
      });

      it("truncate drops slots so a different continuation can follow", async () => {
        await using rt = await RuntimeClient.create(runtimeOptions(models[signature]!));
        const seq = await rt.createSequence();
        await rt.forward(seq, { inputIds: PROMPT, numLogitsToKeep: 1 });
        assert.deepEqual(await rt.truncate(seq, 6), { length: 6, lastPosition: 5 });
        const after = await rt.forward(seq, { inputIds: [5], numLogitsToKeep: 1 });
        const fresh = await rt.createSequence();
        const ref = await rt.forward(fresh, { inputIds: [...PROMPT.slice(0, 6), 5], numLogitsToKeep: 1 });
        assert.ok(maxAbsDiff(after.logits, ref.logits) <= 1e-4);
        await assert.rejects(rt.truncate(seq, 100), InvalidInputError);
      });

      it("rejects bad input with typed errors before ORT, and keeps working", async () => {
        await using rt = await RuntimeClient.create(runtimeOptions(models[signature]!));
        const { vocabSize, maxPositionEmbeddings } = models[signature]!.spec;
        const seq = await rt.createSequence();
        await rt.forward(seq, { inputIds: [1, 2, 3], numLogitsToKeep: 1 });
        await assert.rejects(rt.forward(seq, { inputIds: [vocabSize], numLogitsToKeep: 1 }), InvalidInputError);
        await assert.rejects(rt.forward(seq, { inputIds: [-3], numLogitsToKeep: 1 }), InvalidInputError);
        await assert.rejects(rt.forward(seq, { inputIds: [4], positionIds: [maxPositionEmbeddings], numLogitsToKeep: 1 }), InvalidInputError);
        await assert.rejects(rt.forward(seq, { inputIds: [4], numLogitsToKeep: 2 }), InvalidInputError);
        await assert.rejects(rt.forward(seq, { inputIds: [4], mask: [[true, true]], numLogitsToKeep: 1 }), InvalidInputError);
        await assert.rejects(rt.readKv(seq, 0, 10), InvalidInputError);
        await assert.rejects(rt.forward(999 as never, { inputIds: [4], numLogitsToKeep: 1 }), InvalidInputError);
        const long = await rt.createSequence();
        await assert.rejects(rt.forward(long, { inputIds: new Array<number>(maxPositionEmbeddings + 1).fill(5), numLogitsToKeep: 1 }), ContextOverflowError);
        // Nothing above reached the cache: the sequence continues from 3 slots.
        const ok = await rt.forward(seq, { inputIds: [4], numLogitsToKeep: 1 });
        assert.deepEqual(ok.status, { length: 4, lastPosition: 3 });
      });
    });
  }

  describe("kvlink signature masks", () => {
    it("an explicit causal matrix equals 'causal' over a grown cache; blocking a slot changes the logits", async () => {
      await using rt = await RuntimeClient.create(runtimeOptions(models.kvlink!));
      const a = await rt.createSequence();
      const b = await rt.createSequence();
      await rt.forward(a, { inputIds: PROMPT.slice(0, 8), numLogitsToKeep: 1 });
      await rt.forward(b, { inputIds: PROMPT.slice(0, 8), numLogitsToKeep: 1 });
      const causal = await rt.forward(a, { inputIds: PROMPT.slice(8), numLogitsToKeep: 0 });
      const rows = PROMPT.slice(8).map((_, r) => Array.from({ length: 8 + 4 }, (_, c) => c < 8 + r + 1));
      const explicit = await rt.forward(b, { inputIds: PROMPT.slice(8), mask: rows, numLogitsToKeep: 0 });
      assert.ok(maxAbsDiff(causal.logits, explicit.logits) <= 1e-6);

      const c = await rt.createSequence();
      await rt.forward(c, { inputIds: PROMPT.slice(0, 8), numLogitsToKeep: 1 });
      const blocked = rows.map((row) => row.map((allowed, col) => allowed && col !== 2));
      const other = await rt.forward(c, { inputIds: PROMPT.slice(8), mask: blocked, numLogitsToKeep: 0 });
      assert.ok(maxAbsDiff(causal.logits, other.logits) > 1e-4);
    });

    it("the standard signature rejects explicit masks with InvalidInputError", async () => {
      await using rt = await RuntimeClient.create(runtimeOptions(models.standard!));
      const seq = await rt.createSequence();
      await assert.rejects(rt.forward(seq, { inputIds: [1, 2], mask: [[true, false], [true, true]], numLogitsToKeep: 1 }), InvalidInputError);
      const ok = await rt.forward(seq, { inputIds: [1, 2], mask: "causal", numLogitsToKeep: 1 });
      assert.equal(ok.numLogits, 1);
    });
  });

  describe("loading errors", () => {
    it("a missing model file is a ModelLoadError, from the worker and in-process", async () => {
      const options = { ...runtimeOptions(models.kvlink!), modelPath: join(dir.root, "nope", "model.onnx") };
      await assert.rejects(RuntimeClient.create(options), ModelLoadError);
      await assert.rejects(InProcessRuntime.create(options), ModelLoadError);
    });

    it("an unknown execution provider is an ExecutionProviderError", async () => {
      await assert.rejects(RuntimeClient.create({ ...runtimeOptions(models.kvlink!), executionProvider: "no-such-ep" }), ExecutionProviderError);
    });

    it("a graph with fewer layers than the spec is a ModelFormatError", async () => {
      const spec = { ...models.kvlink!.spec, numLayers: 3 };
      await assert.rejects(RuntimeClient.create({ ...runtimeOptions(models.kvlink!), spec }), (e: Error) => e.name === "ModelFormatError");
    });
  });

  describe("worker lifecycle", () => {
    const crashingWorker = new URL("./fixtures/crashingWorker.ts", import.meta.url);

    it("an uncaught exception in the worker rejects pending and later calls with WorkerCrashedError", async () => {
      await using rt = await RuntimeClient.create({ ...runtimeOptions(models.kvlink!), workerUrl: crashingWorker });
      const seq = await rt.createSequence();
      await rt.forward(seq, { inputIds: [5, 6], numLogitsToKeep: 1 }); // not a trigger: works
      await assert.rejects(rt.forward(seq, { inputIds: [1], numLogitsToKeep: 1 }), WorkerCrashedError);
      await assert.rejects(rt.createSequence(), WorkerCrashedError);
    });

    it("a worker exiting mid-request rejects it with WorkerCrashedError", async () => {
      await using rt = await RuntimeClient.create({ ...runtimeOptions(models.kvlink!), workerUrl: crashingWorker });
      const seq = await rt.createSequence();
      const pending = [rt.forward(seq, { inputIds: [2], numLogitsToKeep: 1 }), rt.readKv(seq, 0, 0)];
      for (const p of pending) await assert.rejects(p, WorkerCrashedError);
    });

    it("dispose is idempotent and later calls throw DisposedError", async () => {
      const rt: Runtime = await RuntimeClient.create(runtimeOptions(models.kvlink!));
      const seq = await rt.createSequence();
      await Promise.all([rt.dispose(), rt.dispose()]);
      assert.equal(rt.disposed, true);
      await assert.rejects(rt.forward(seq, { inputIds: [5], numLogitsToKeep: 1 }), DisposedError);
      await assert.rejects(rt.createSequence(), DisposedError);
      await rt.disposeSequence(seq); // no-op once disposed
    });
  });

  describe("the main thread stays responsive", () => {
    let big: TinyModel;
    before(async function () {
      this.timeout(120_000);
      big = await dir.write("big", {
        signature: "kvlink",
        layers: 4,
        hidden: 256,
        heads: 8,
        kvHeads: 4,
        intermediate: 1024,
        maxPositionEmbeddings: 1024,
      });
    });

    it("a timer keeps firing during a long forward pass in the worker", async () => {
      await using rt = await RuntimeClient.create(runtimeOptions(big));
      const seq = await rt.createSequence();
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      try {
        const ids = Array.from({ length: 768 }, (_, i) => 21 + (i % 250));
        const out = await rt.forward(seq, { inputIds: ids, numLogitsToKeep: 1 });
        assert.equal(out.status.length, 768);
      } finally {
        clearInterval(timer);
      }
      assert.ok(ticks > 0, "the event loop ran while the worker computed");
    });
  });
});
