import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DecoderModel } from "../../../../packages/core/src/decoder/DecoderModel.js";
import { applyLoraAdapter, loadLoraAdapter } from "../../../../packages/core/src/convert/loadLoraAdapter.js";
import { KvLinkEngine } from "../../../../packages/core/src/engine/KvLinkEngine.js";
import { InvalidInputError, ModelFormatError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { buildDecoderGraph } from "../../../../packages/core/src/graph/buildDecoderGraph.js";
import { createRandomWeights } from "../../../../packages/core/src/model/createRandomWeights.js";
import type { ModelWeights } from "../../../../packages/core/src/model/ModelWeights.js";
import { writeModelFolder } from "../../../../packages/core/src/model/modelFolder.js";
import { tinySpec } from "../../../../packages/core/src/model/tinySpec.js";
import { createTinyTokenizer } from "../../../../packages/core/src/tokenizer/createTinyTokenizer.js";
import { assertAllClose, maxAbsDiff } from "../../../support/assertAllClose.js";
import { extraRowLinkConfig, writeRandomLoraAdapter } from "../../../support/loraFixture.js";
import { encodeSafetensors } from "../../unit/convert/safetensorsFixture.js";
import { makeDocuments, referenceLastLogits } from "./engineFixtures.js";

describe("LoRA adapters and trained link-token rows (tiny models vs the reference forward pass)", function () {
  this.timeout(240_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kvlink-lora-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeFolder(name: string, weights: ModelWeights, kvlink?: Parameters<typeof writeModelFolder>[1]["kvlink"]): Promise<string> {
    const tok = createTinyTokenizer({ vocabSize: weights.spec.vocabSize });
    const out = join(dir, name);
    await writeModelFolder(out, {
      spec: weights.spec,
      onnx: { model: buildDecoderGraph(weights, { signature: "kvlink" }).model },
      tokenizerJson: tok.tokenizerJson,
      tokenizerConfig: tok.tokenizerConfig,
      generationConfig: { bos_token_id: tok.specialTokenIds.imStart, eos_token_id: tok.specialTokenIds.imEnd },
      ...(kvlink !== undefined && { kvlink }),
    });
    return out;
  }

  for (const quant of ["f32", "q4"] as const) {
    it(`linked logits with LoRA branches and K = 5 link tokens from extra rows equal the block-masked reference (${quant} base)`, async () => {
      const vocabSize = 384;
      const spec = tinySpec({ vocabSize, maxPositionEmbeddings: 1024 });
      const base = createRandomWeights(spec, { seed: 21, quant });
      const { kvlink, numExtraEmbeddings } = extraRowLinkConfig(vocabSize, 5, 12);
      const adapterPath = join(dir, `adapter-${quant}.safetensors`);
      await writeRandomLoraAdapter(adapterPath, spec, { rank: 4, alpha: 8, seed: 5, numExtraEmbeddings, kvlink, dtype: "F16" });
      const adapter = await loadLoraAdapter(adapterPath);
      assert.equal(adapter.scale, 2);
      assert.deepEqual(adapter.kvlink?.linkTokenIds[1], [389, 390, 391, 392, 393]);
      const weights = applyLoraAdapter(base, adapter);
      assert.equal(weights.spec.numExtraEmbeddings, numExtraEmbeddings);

      await using engine = await KvLinkEngine.create({ model: await writeFolder(`lora-${quant}`, weights, kvlink), inProcess: true, numThreads: 1 });
      await using plain = await KvLinkEngine.create({ model: await writeFolder(`plain-${quant}`, base), inProcess: true, numThreads: 1 });
      for (const numDocs of [1, 3]) {
        const request = { system: "Answer from the notes.", documents: makeDocuments(numDocs, 14, numDocs), question: "Which river?", mode: "kvlink" as const };
        const linked = await engine.linkPrompt(request);
        assert.equal(linked.plan.freshRoles.filter((r) => r === "link").length, 5 * numDocs);
        assert.ok(linked.plan.freshTokenIds.some((id) => id >= vocabSize), "link tokens come from the extra rows");
        assertAllClose(linked.logits, referenceLastLogits(weights, linked), { atol: 1e-4, what: `kvlink+lora docs=${numDocs}` });
        const full = await engine.linkPrompt({ ...request, mode: "full" });
        assertAllClose(full.logits, referenceLastLogits(weights, full), { atol: 1e-4, what: `full+lora docs=${numDocs}` });
        const withoutLora = await plain.linkPrompt({ ...request, mode: "full" });
        assert.ok(maxAbsDiff(full.logits, withoutLora.logits).maxAbsDiff > 1e-3, "the adapter changes the logits");
      }
    });
  }

  it("a repetition penalty works in prompts whose link tokens come from extra rows (ids past the head's vocabulary)", async () => {
    const vocabSize = 384;
    const spec = tinySpec({ vocabSize, maxPositionEmbeddings: 1024 });
    const base = createRandomWeights(spec, { seed: 23, quant: "f32" });
    const { kvlink, numExtraEmbeddings } = extraRowLinkConfig(vocabSize, 5, 12);
    const adapterPath = join(dir, "adapter-penalty.safetensors");
    await writeRandomLoraAdapter(adapterPath, spec, { rank: 4, alpha: 8, seed: 7, numExtraEmbeddings, kvlink, dtype: "F16" });
    const weights = applyLoraAdapter(base, await loadLoraAdapter(adapterPath));
    await using engine = await KvLinkEngine.create({ model: await writeFolder("lora-penalty", weights, kvlink), inProcess: true, numThreads: 1 });
    const request = { documents: makeDocuments(2, 14, 2), question: "Which river?", mode: "kvlink" as const, greedy: true, maxTokens: 6 };
    const plain = await engine.generate(request).result();
    const penalised = await engine.generate({ ...request, repetitionPenalty: 1.3 }).result();
    assert.equal(penalised.tokenIds.length, 6);
    assert.ok(penalised.tokenIds.every((id) => id < vocabSize));
    assert.equal(plain.tokenIds.length, 6);
  });

  /** A tiny q4 base (seed `baseSeed`) and the same with a random LoRA adapter and K = 2 link rows (the adapter-gate tests). */
  async function gateWeights(name: string, baseSeed: number, adapterSeed: number) {
    const vocabSize = 384;
    const spec = tinySpec({ vocabSize, maxPositionEmbeddings: 1024 });
    const base = createRandomWeights(spec, { seed: baseSeed, quant: "q4" });
    const { kvlink, numExtraEmbeddings } = extraRowLinkConfig(vocabSize, 2, 6);
    const adapterPath = join(dir, `${name}.safetensors`);
    await writeRandomLoraAdapter(adapterPath, spec, { rank: 4, alpha: 8, seed: adapterSeed, numExtraEmbeddings, kvlink });
    return { base, weights: applyLoraAdapter(base, await loadLoraAdapter(adapterPath)), kvlink };
  }

  it("the adapter runs in prompts with documents only (adapter: documents), everywhere with adapter: always; adapter_scale 0 is the base exactly", async () => {
    const { base, weights, kvlink } = await gateWeights("gate", 31, 12);
    const loraDir = await writeFolder("gate-lora", weights, kvlink);
    const plainDir = await writeFolder("gate-plain", base);
    await using gated = await KvLinkEngine.create({ model: loraDir, inProcess: true, numThreads: 1 });
    await using always = await KvLinkEngine.create({ model: loraDir, inProcess: true, numThreads: 1, adapter: "always" });
    await using plain = await KvLinkEngine.create({ model: plainDir, inProcess: true, numThreads: 1 });

    const chat = { system: "Be brief.", documents: [], question: "Which river is longest?" };
    const gatedChat = await gated.linkPrompt(chat);
    const plainChat = await plain.linkPrompt(chat);
    assertAllClose(gatedChat.logits, plainChat.logits, { atol: 1e-5, what: "no documents: the base model" });
    const alwaysChat = await always.linkPrompt(chat);
    assertAllClose(alwaysChat.logits, referenceLastLogits(weights, alwaysChat), { atol: 1e-4, what: "adapter always: the adapted model" });
    assert.ok(maxAbsDiff(alwaysChat.logits, plainChat.logits).maxAbsDiff > 1e-3, "the adapter changes no-document logits when forced on");

    const withDocs = { ...chat, documents: makeDocuments(2, 10, 7), mode: "kvlink" as const };
    const a = await gated.linkPrompt(withDocs);
    const b = await always.linkPrompt(withDocs);
    assertAllClose(a.logits, referenceLastLogits(weights, a), { atol: 1e-4, what: "documents: the adapted model" });
    assertAllClose(a.logits, b.logits, { atol: 1e-6, what: "documents: the same under both policies" });

    await using model0 = await DecoderModel.load(loraDir, { inProcess: true, numThreads: 1, adapterScale: 0 });
    await using model1 = await DecoderModel.load(loraDir, { inProcess: true, numThreads: 1 });
    await using modelPlain = await DecoderModel.load(plainDir, { inProcess: true, numThreads: 1 });
    const ids = [3, 17, 40, 99, 5];
    const x0 = await model0.forward({ inputIds: ids, numLogitsToKeep: 1 });
    const xp = await modelPlain.forward({ inputIds: ids, numLogitsToKeep: 1 });
    const x1 = await model1.forward({ inputIds: ids, numLogitsToKeep: 1 });
    assertAllClose(x0.logits, xp.logits, { atol: 1e-5, what: "DecoderModel adapterScale 0 = the base graph" });
    assert.ok(maxAbsDiff(x1.logits, xp.logits).maxAbsDiff > 1e-3, "DecoderModel default (1) is the adapted model");
    await assert.rejects(model1.runtime.createSequence({ adapterScale: Number.NaN }), InvalidInputError);
  });

  it("an adapter trained for tools (kvlink.json adapterTasks) also runs in prompts with bound tools; without adapterTasks it does not", async () => {
    const { base, weights, kvlink } = await gateWeights("tools", 41, 14);
    await using tools = await KvLinkEngine.create({ model: await writeFolder("tools-lora", weights, { ...kvlink, adapterTasks: ["documents", "tools"] }), inProcess: true, numThreads: 1 });
    await using docsOnly = await KvLinkEngine.create({ model: await writeFolder("docs-lora", weights, kvlink), inProcess: true, numThreads: 1 });
    await using plain = await KvLinkEngine.create({ model: await writeFolder("tools-plain", base), inProcess: true, numThreads: 1 });
    const responseFormat = { type: "tool_calls" as const, tools: [{ name: "add", parameters: { type: "object", properties: { a: { type: "number" } } } }] };
    const request = { system: "Tools: add.", documents: [], question: "What is 2 plus 3?", responseFormat };
    const adapted = await tools.linkPrompt(request);
    assertAllClose(adapted.logits, referenceLastLogits(weights, adapted), { atol: 1e-4, what: "bound tools, adapterTasks with tools: the adapted model" });
    assertAllClose((await docsOnly.linkPrompt(request)).logits, (await plain.linkPrompt(request)).logits, { atol: 1e-5, what: "bound tools, documents-only adapter: the base" });
    const noTools = { system: "Tools: add.", documents: [], question: "What is 2 plus 3?" };
    assertAllClose((await tools.linkPrompt(noTools)).logits, (await plain.linkPrompt(noTools)).logits, { atol: 1e-5, what: "no tools, no documents: the base" });
  });

  it("merging an adapter into fp32 weights gives the branches' logits; into 4-bit weights it re-quantizes (close, not equal)", async () => {
    const vocabSize = 384;
    const spec = tinySpec({ vocabSize, maxPositionEmbeddings: 1024 });
    const { kvlink, numExtraEmbeddings } = extraRowLinkConfig(vocabSize, 2, 4);
    const adapterPath = join(dir, "merge.safetensors");
    await writeRandomLoraAdapter(adapterPath, spec, { rank: 4, alpha: 8, seed: 6, numExtraEmbeddings, kvlink });
    const adapter = await loadLoraAdapter(adapterPath);
    for (const quant of ["f32", "q4"] as const) {
      const base = createRandomWeights(spec, { seed: 23, quant });
      const branches = applyLoraAdapter(base, adapter);
      const merged = applyLoraAdapter(base, adapter, { merge: true });
      assert.equal(merged.layers[0]!.lora, undefined);
      const request = { documents: makeDocuments(2, 10, 3), question: "Which river?", mode: "kvlink" as const };
      await using a = await KvLinkEngine.create({ model: await writeFolder(`branches-${quant}`, branches, kvlink), inProcess: true, numThreads: 1 });
      await using m = await KvLinkEngine.create({ model: await writeFolder(`merged-${quant}`, merged, kvlink), inProcess: true, numThreads: 1 });
      const la = await a.linkPrompt(request);
      const lm = await m.linkPrompt(request);
      const diff = maxAbsDiff(la.logits, lm.logits).maxAbsDiff;
      if (quant === "f32") assert.ok(diff <= 1e-4, `fp32 merge differs by ${diff}`);
      else assert.ok(diff > 1e-6 && diff < 1, `4-bit merge differs by ${diff}`);
    }
  });

  it("reads rank and alpha from adapter_config.json beside the file, and rejects half pairs and foreign tensors", async () => {
    const spec = tinySpec();
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ r: 2, lora_alpha: 3, target_modules: ["q_proj"] }));
    const a = new Float32Array(2 * spec.hiddenSize).fill(0.1);
    const b = new Float32Array(spec.numHeads * spec.headDim * 2).fill(0.2);
    const name = "base_model.model.model.layers.1.self_attn.q_proj";
    await writeFile(
      join(dir, "peft.safetensors"),
      encodeSafetensors({
        [`${name}.lora_A.weight`]: { shape: [2, spec.hiddenSize], data: a, dtype: "F32" },
        [`${name}.lora_B.weight`]: { shape: [spec.numHeads * spec.headDim, 2], data: b, dtype: "F32" },
      }),
    );
    const adapter = await loadLoraAdapter(join(dir, "peft.safetensors"));
    assert.equal(adapter.scale, 1.5);
    assert.deepEqual([...adapter.layers.keys()], [1]);
    assert.ok(adapter.layers.get(1)?.q);

    await writeFile(join(dir, "half.safetensors"), encodeSafetensors({ [`${name}.lora_A.weight`]: { shape: [2, spec.hiddenSize], data: a, dtype: "F32" } }, { r: "2", lora_alpha: "4" }));
    await assert.rejects(loadLoraAdapter(join(dir, "half.safetensors")), ModelFormatError);
    await writeFile(join(dir, "foreign.safetensors"), encodeSafetensors({ "model.embed_tokens.weight": { shape: [2, 2], data: new Float32Array(4), dtype: "F32" } }, { r: "2", lora_alpha: "4" }));
    await assert.rejects(loadLoraAdapter(join(dir, "foreign.safetensors")), ModelFormatError);
    const big = createRandomWeights(tinySpec({ numLayers: 1 }), { seed: 1 });
    const twoLayers = await loadLoraAdapter(join(dir, "peft.safetensors"));
    assert.throws(() => applyLoraAdapter(big, twoLayers), ModelFormatError);
  });

  it("extra-row ids are input only: the head stays vocabSize wide, and ids past the extra rows are refused before ORT", async () => {
    const vocabSize = 384;
    const spec = tinySpec({ vocabSize });
    const { kvlink, numExtraEmbeddings } = extraRowLinkConfig(vocabSize, 2, 4);
    const adapterPath = join(dir, "rows.safetensors");
    await writeRandomLoraAdapter(adapterPath, spec, { rank: 2, alpha: 2, seed: 9, numExtraEmbeddings, kvlink });
    const weights = applyLoraAdapter(createRandomWeights(spec, { seed: 3 }), await loadLoraAdapter(adapterPath));
    await using engine = await KvLinkEngine.create({ model: await writeFolder("rows", weights, kvlink), inProcess: true, numThreads: 1 });
    const linked = await engine.linkPrompt({ documents: makeDocuments(2, 8, 4), question: "Where?", mode: "kvlink" });
    assert.equal(linked.logits.length, vocabSize);
    await using model = await DecoderModel.load(join(dir, "rows"), { inProcess: true, numThreads: 1 });
    const ok = await model.forward({ inputIds: [5, vocabSize + numExtraEmbeddings - 1], numLogitsToKeep: 1 });
    assert.equal(ok.vocabSize, vocabSize);
    await assert.rejects(model.forward({ inputIds: [vocabSize + numExtraEmbeddings] }), InvalidInputError);
  });
});
