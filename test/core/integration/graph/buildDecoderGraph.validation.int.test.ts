import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  InvariantError,
  ModelFormatError,
  RopeUnsupportedError,
  UnsupportedModelError,
} from "../../../../packages/core/src/errors/KvLinkError.js";
import { OnnxGraphBuilder } from "../../../../packages/core/src/graph/OnnxGraphBuilder.js";
import { buildDecoderGraph } from "../../../../packages/core/src/graph/buildDecoderGraph.js";
import type { GraphSignature } from "../../../../packages/core/src/graph/ioNames.js";
import type { ModelWeights } from "../../../../packages/core/src/model/ModelWeights.js";
import { createRandomWeights } from "../../../../packages/core/src/model/createRandomWeights.js";
import { tinySpec } from "../../../../packages/core/src/model/tinySpec.js";
import { assertAllClose } from "../../../support/assertAllClose.js";
import { causalMask, referenceForward } from "../../../support/referenceForward.js";
import { TestSession, runKvLinkStep, tokenIds } from "./decoderHarness.js";

describe("buildDecoderGraph: validation, position range and external data", function () {
  this.timeout(60_000);
  const spec = tinySpec();
  const weights = createRandomWeights(spec, { seed: 41 });

  it("rejects tensors whose sizes disagree with the spec (ModelFormatError)", () => {
    const cases: [string, ModelWeights][] = [
      ["short embedding", { ...weights, embedTokens: weights.embedTokens.subarray(1) }],
      ["missing layer", { ...weights, layers: weights.layers.slice(1) }],
      ["wrong final norm", { ...weights, finalNorm: new Float32Array(3) }],
      ["k_proj with q_proj's shape", { ...weights, layers: [{ ...weights.layers[0]!, k: weights.layers[0]!.q }, weights.layers[1]!] }],
      ["untied without lmHead", { ...weights, spec: { ...spec, tieWordEmbeddings: false } }],
      ["qwen2 without biases", { ...weights, spec: { ...spec, architecture: "qwen2", attentionBias: true } }],
    ];
    for (const [label, bad] of cases) {
      assert.throws(() => buildDecoderGraph(bad, { signature: "kvlink" }), ModelFormatError, label);
    }
  });

  it("rejects shapes the graph cannot express and bad options", () => {
    const q4 = createRandomWeights(spec, { seed: 42, quant: "q4" });
    const layer0 = q4.layers[0]!;
    if (layer0.q.kind !== "nbits") throw new Error("expected nbits weights");
    const badBlock = { ...q4, layers: [{ ...layer0, q: { ...layer0.q, blockSize: 24 } }, q4.layers[1]!] };
    assert.throws(() => buildDecoderGraph(badBlock, { signature: "kvlink" }), UnsupportedModelError);
    const badHeads = { ...weights, spec: { ...spec, numHeads: 3 } };
    assert.throws(() => buildDecoderGraph(badHeads, { signature: "kvlink" }), UnsupportedModelError);
    const oddRotary = { ...weights, spec: { ...spec, rope: { theta: 10000, rotaryDim: 7 } } };
    assert.throws(() => buildDecoderGraph(oddRotary, { signature: "kvlink" }), RopeUnsupportedError);
    assert.throws(() => buildDecoderGraph(weights, { signature: "nope" as GraphSignature }), ConfigError);
    assert.throws(() => buildDecoderGraph(weights, { signature: "kvlink", maxPositions: 0 }), ConfigError);
  });

  it("accepts position ids below maxPositions and ORT rejects the first one past it", async () => {
    await using s = await TestSession.create(buildDecoderGraph(weights, { signature: "kvlink", maxPositions: 16 }).model, {
      logSeverityLevel: 4, // the rejected run below would log an ORT error line
    });
    const ok = await runKvLinkStep(s, spec, { inputIds: [1, 2], positionIds: [14, 15], mask: causalMask(2) });
    assert.equal(ok.numLogits, 2);
    await assert.rejects(runKvLinkStep(s, spec, { inputIds: [1, 2], positionIds: [15, 16], mask: causalMask(2) }));
  });

  it("writes weights as external data above the threshold; ORT loads it from disk and from memory", async () => {
    const inline = buildDecoderGraph(weights, { signature: "kvlink" });
    assert.equal(inline.externalData, undefined);
    const external = buildDecoderGraph(weights, { signature: "kvlink", externalDataThresholdBytes: 0 });
    const data = external.externalData;
    assert.ok(data);
    assert.equal(data.fileName, "model.onnx_data");
    const bytes = Buffer.concat(data.chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
    assert.equal(bytes.byteLength, data.sizeBytes);
    assert.ok(external.model.byteLength < inline.model.byteLength / 4, "weights left the protobuf");

    const ids = tokenIds(5, spec.vocabSize, 2);
    const input = { inputIds: ids, positionIds: [0, 1, 2, 3, 4], mask: causalMask(5) };
    const ref = referenceForward(weights, input);
    const dir = await mkdtemp(join(tmpdir(), "kvlink-graph-"));
    try {
      await writeFile(join(dir, "model.onnx"), external.model);
      await writeFile(join(dir, data.fileName), bytes);
      await using fromDisk = await TestSession.create(join(dir, "model.onnx"));
      assertAllClose((await runKvLinkStep(fromDisk, spec, input)).logits, ref.logits, { atol: 1e-4, what: "external data from disk" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await using fromMemory = await TestSession.create(external.model, { externalData: [{ path: data.fileName, data: bytes }] });
    assertAllClose((await runKvLinkStep(fromMemory, spec, input)).logits, ref.logits, { atol: 1e-4, what: "external data from memory" });
  });
});

describe("OnnxGraphBuilder", () => {
  it("refuses a value defined twice and initializer data of the wrong size (InvariantError)", () => {
    const b = new OnnxGraphBuilder({ name: "t" });
    b.addInput("x", "float32", [1]);
    assert.throws(() => b.addInput("x", "float32", [1]), InvariantError);
    assert.throws(() => b.addInitializer("w", "float32", [2, 2], new Float32Array(3)), InvariantError);
    b.addNode("Identity", ["x"], ["y"]);
    assert.throws(() => b.addNode("Identity", ["x"], ["y"]), InvariantError);
  });
});
