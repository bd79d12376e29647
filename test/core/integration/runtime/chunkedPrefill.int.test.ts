import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { buildDecoderGraph } from "../../../../packages/core/src/graph/buildDecoderGraph.js";
import type { TinyModel } from "../../../../packages/core/src/graph/writeTinyModel.js";
import { createRandomWeights } from "../../../../packages/core/src/model/createRandomWeights.js";
import { CPU_PREFILL_CHUNK_TOKENS } from "../../../../packages/core/src/runtime/DecoderSession.js";
import { InProcessRuntime } from "../../../../packages/core/src/runtime/InProcessRuntime.js";
import { maxAbsDiff, TinyModelDir } from "./tinyModels.js";

/** A row-major [S, P+S] causal mask: an explicit mask always runs as one pass. */
function explicitCausal(past: number, numNew: number): { numRows: number; numCols: number; allowed: Uint8Array } {
  const numCols = past + numNew;
  const allowed = new Uint8Array(numNew * numCols);
  for (let r = 0; r < numNew; r++) allowed.fill(1, r * numCols, r * numCols + past + r + 1);
  return { numRows: numNew, numCols, allowed };
}

describe("chunked prefill (causal prompts longer than CPU_PREFILL_CHUNK_TOKENS run as several passes)", function () {
  this.timeout(120_000);
  let dir: TinyModelDir;
  const models: TinyModel[] = [];

  before(async () => {
    dir = await TinyModelDir.create();
    models.push(await dir.write("onnx", { signature: "kvlink", quant: "q4", maxPositionEmbeddings: 2048 }));
    const hybrid = await dir.write("hybrid", { signature: "kvlink", quant: "q4", maxPositionEmbeddings: 2048 });
    await writeFile(hybrid.paths.onnxModel, buildDecoderGraph(createRandomWeights(hybrid.spec, { seed: 11, quant: "q4" }), { signature: "kvlink", attention: "hybrid" }).model);
    models.push(hybrid);
  });
  after(() => dir.remove());

  for (const index of [0, 1]) {
    it(`${index === 0 ? "Attention-23" : "hybrid"} graph: logits across chunk boundaries, the returned KV and the cache equal one pass's within 1e-4`, async () => {
      const model = models[index]!;
      await using rt = await InProcessRuntime.create({ modelPath: model.paths.onnxModel, spec: model.spec, numThreads: 1 });
      const numNew = 2 * CPU_PREFILL_CHUNK_TOKENS + 37;
      const keep = CPU_PREFILL_CHUNK_TOKENS + 50; // rows from the last two chunks
      const prefix = [5, 6, 7];
      const ids = Array.from({ length: numNew }, (_, i) => (i * 31 + 11) % 300);
      const run = async (mask: "causal" | "explicit") => {
        const seq = await rt.createSequence();
        await rt.forward(seq, { inputIds: prefix, numLogitsToKeep: 1 });
        const out = await rt.forward(seq, {
          inputIds: ids,
          numLogitsToKeep: keep,
          returnKv: true,
          ...(mask === "explicit" ? { mask: explicitCausal(prefix.length, numNew) } : {}),
        });
        const next = await rt.forward(seq, { inputIds: [42], numLogitsToKeep: 1 });
        return { out, next, kv: await rt.readKv(seq, 0, prefix.length + numNew + 1) };
      };
      const chunked = await run("causal");
      const single = await run("explicit");
      assert.equal(chunked.out.numLogits, keep);
      assert.ok(maxAbsDiff(chunked.out.logits, single.out.logits) <= 1e-4, "prompt logits");
      assert.ok(maxAbsDiff(chunked.next.logits, single.next.logits) <= 1e-4, "next step's logits");
      assert.equal(chunked.out.newKv!.numTokens, numNew);
      assert.deepEqual(chunked.out.newKv!.positions, single.out.newKv!.positions);
      assert.deepEqual(chunked.out.status, single.out.status);
      for (let l = 0; l < model.spec.numLayers; l++) {
        assert.ok(maxAbsDiff(chunked.out.newKv!.keys[l]!, single.out.newKv!.keys[l]!) <= 1e-4, `returned keys layer ${l}`);
        assert.ok(maxAbsDiff(chunked.out.newKv!.values[l]!, single.out.newKv!.values[l]!) <= 1e-4, `returned values layer ${l}`);
        assert.ok(maxAbsDiff(chunked.kv.keys[l]!, single.kv.keys[l]!) <= 1e-4, `cached keys layer ${l}`);
        assert.ok(maxAbsDiff(chunked.kv.values[l]!, single.kv.values[l]!) <= 1e-4, `cached values layer ${l}`);
      }
    });
  }

  it("numLogitsToKeep 0 returns every row of a chunked prompt", async () => {
    const model = models[0]!;
    await using rt = await InProcessRuntime.create({ modelPath: model.paths.onnxModel, spec: model.spec, numThreads: 1 });
    const numNew = CPU_PREFILL_CHUNK_TOKENS + 9;
    const seq = await rt.createSequence();
    const out = await rt.forward(seq, { inputIds: Array.from({ length: numNew }, (_, i) => i % 300), numLogitsToKeep: 0 });
    assert.equal(out.numLogits, numNew);
    assert.equal(out.logits.length, numNew * out.vocabSize);
    assert.equal(out.status.length, numNew);
  });
});
