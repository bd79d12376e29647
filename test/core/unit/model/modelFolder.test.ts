import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ModelFormatError,
  ModelLoadError,
  RopeUnsupportedError,
  UnsupportedModelError,
  InvalidInputError,
} from "../../../../packages/core/src/errors/KvLinkError.js";
import { hfConfigToSpec, specToHfConfig } from "../../../../packages/core/src/model/hfConfig.js";
import type { ModelSpec } from "../../../../packages/core/src/model/ModelSpec.js";
import { NO_KVLINK_CONFIG, readModelFolder, writeModelFolder } from "../../../../packages/core/src/model/modelFolder.js";
import { createTinyTokenizer } from "../../../../packages/core/src/tokenizer/createTinyTokenizer.js";

/** SmolLM2-135M-Instruct's config.json fields (see notes gguf-onnx.md §2). */
const SMOLLM2_CONFIG = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_act: "silu",
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  rope_scaling: null,
  tie_word_embeddings: true,
  vocab_size: 49152,
  bos_token_id: 1,
  eos_token_id: 2,
  attention_bias: false,
  mlp_bias: false,
  torch_dtype: "bfloat16",
};

const LLAMA31_SCALING = { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };

describe("hfConfigToSpec", () => {
  it("reads SmolLM2-135M: head_dim from hidden/heads, tied embeddings, plain RoPE", () => {
    const spec = hfConfigToSpec(SMOLLM2_CONFIG);
    assert.deepEqual(spec, {
      architecture: "llama",
      vocabSize: 49152,
      hiddenSize: 576,
      intermediateSize: 1536,
      numLayers: 30,
      numHeads: 9,
      numKvHeads: 3,
      headDim: 64,
      rmsNormEps: 1e-5,
      maxPositionEmbeddings: 8192,
      rope: { theta: 100000, rotaryDim: 64 },
      tieWordEmbeddings: true,
      attentionBias: false,
    });
  });

  it("reads llama3 and linear scaling, an explicit head_dim and the rope_parameters form", () => {
    const llama3 = hfConfigToSpec({ ...SMOLLM2_CONFIG, rope_scaling: LLAMA31_SCALING, head_dim: 32 });
    assert.equal(llama3.headDim, 32);
    assert.deepEqual(llama3.rope.scaling, { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    const linear = hfConfigToSpec({ ...SMOLLM2_CONFIG, rope_scaling: { type: "linear", factor: 2 } });
    assert.deepEqual(linear.rope.scaling, { type: "linear", factor: 2 });
    const { rope_theta: _theta, rope_scaling: _scaling, ...rest } = SMOLLM2_CONFIG;
    const params = hfConfigToSpec({ ...rest, rope_parameters: { rope_type: "default", rope_theta: 500000 } });
    assert.deepEqual(params.rope, { theta: 500000, rotaryDim: 64 });
  });

  it("reads Qwen2 (q/k/v biases, sliding window off) and model_type-only Mistral", () => {
    const qwen = hfConfigToSpec({ ...SMOLLM2_CONFIG, architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", sliding_window: 4096, use_sliding_window: false });
    assert.equal(qwen.architecture, "qwen2");
    assert.equal(qwen.attentionBias, true);
    const { architectures: _a, ...noArch } = SMOLLM2_CONFIG;
    const mistral = hfConfigToSpec({ ...noArch, model_type: "mistral", sliding_window: null });
    assert.equal(mistral.architecture, "llama");
  });

  it("refuses RoPE it cannot re-rotate, unknown architectures and unsupported features", () => {
    for (const rope_type of ["dynamic", "yarn", "longrope"]) {
      assert.throws(() => hfConfigToSpec({ ...SMOLLM2_CONFIG, rope_scaling: { rope_type, factor: 2 } }), RopeUnsupportedError);
    }
    assert.throws(() => hfConfigToSpec({ ...SMOLLM2_CONFIG, architectures: ["GPT2LMHeadModel"], model_type: "gpt2" }), UnsupportedModelError);
    assert.throws(() => hfConfigToSpec({ ...SMOLLM2_CONFIG, model_type: "gemma3" }), UnsupportedModelError);
    assert.throws(() => hfConfigToSpec({ ...SMOLLM2_CONFIG, model_type: "mistral", sliding_window: 4096 }), UnsupportedModelError);
    assert.throws(() => hfConfigToSpec({ ...SMOLLM2_CONFIG, hidden_act: "gelu" }), UnsupportedModelError);
    assert.throws(() => hfConfigToSpec({ ...SMOLLM2_CONFIG, mlp_bias: true }), UnsupportedModelError);
  });

  it("throws ModelFormatError naming missing or malformed fields", () => {
    const { hidden_size: _h, ...noHidden } = SMOLLM2_CONFIG;
    assert.throws(() => hfConfigToSpec(noHidden), ModelFormatError);
    assert.throws(() => hfConfigToSpec({ ...SMOLLM2_CONFIG, num_key_value_heads: 4 }), ModelFormatError);
    assert.throws(() => hfConfigToSpec({ ...SMOLLM2_CONFIG, vocab_size: "49152" }), ModelFormatError);
    assert.throws(() => hfConfigToSpec("not an object"), ModelFormatError);
  });
});

describe("specToHfConfig", () => {
  const specs: ModelSpec[] = [
    hfConfigToSpec(SMOLLM2_CONFIG),
    hfConfigToSpec({ ...SMOLLM2_CONFIG, rope_scaling: LLAMA31_SCALING, tie_word_embeddings: false, head_dim: 32 }),
    hfConfigToSpec({ ...SMOLLM2_CONFIG, rope_scaling: { rope_type: "linear", factor: 4 }, attention_bias: true }),
    hfConfigToSpec({ ...SMOLLM2_CONFIG, architectures: ["Qwen2ForCausalLM"], model_type: "qwen2" }),
  ];
  it("round-trips through hfConfigToSpec", () => {
    for (const spec of specs) assert.deepEqual(hfConfigToSpec(JSON.parse(JSON.stringify(specToHfConfig(spec)))), spec);
  });
  it("writes the fields transformers.js reads", () => {
    const config = specToHfConfig(specs[0] as ModelSpec, { bosTokenId: 1, eosTokenId: [2, 0] });
    assert.equal(config["model_type"], "llama");
    assert.deepEqual(config["architectures"], ["LlamaForCausalLM"]);
    assert.equal(config["num_key_value_heads"], 3);
    assert.equal(config["head_dim"], 64);
    assert.equal(config["tie_word_embeddings"], true);
    assert.deepEqual(config["eos_token_id"], [2, 0]);
    assert.equal(config["torch_dtype"], "float32");
  });
  it("refuses a spec HF configs cannot express", () => {
    const qwen = specs[3] as ModelSpec;
    assert.throws(() => specToHfConfig({ ...qwen, attentionBias: false }), InvalidInputError);
  });
});

describe("readModelFolder / writeModelFolder", () => {
  let dir: string;
  const tiny = createTinyTokenizer({ vocabSize: 300 });
  const spec: ModelSpec = { ...hfConfigToSpec(SMOLLM2_CONFIG), vocabSize: 300, numLayers: 2, hiddenSize: 64, headDim: 8, numHeads: 8, numKvHeads: 4, rope: { theta: 10000, rotaryDim: 8 } };
  const onnxBytes = new Uint8Array([8, 9, 18, 3]);
  const kvlink = { formatVersion: 1 as const, numLinkTokens: 2, linkTokenIds: [[5, 6], [7, 8]], memStartTokenId: 3, memEndTokenId: 4 };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "kvlink-folder-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = (extra: Partial<Parameters<typeof writeModelFolder>[1]> = {}) =>
    writeModelFolder(dir, {
      spec,
      onnx: { model: onnxBytes, externalData: { fileName: "model.onnx_data", bytes: new Uint8Array([1, 2, 3]) } },
      tokenizerJson: tiny.tokenizerJson,
      tokenizerConfig: tiny.tokenizerConfig,
      generationConfig: { bos_token_id: 1, eos_token_id: 2 },
      kvlink,
      ...extra,
    });

  it("writes a folder that reads back to the same spec, configs and files", async () => {
    const written = await write();
    const folder = await readModelFolder(dir);
    assert.deepEqual(folder.spec, spec);
    assert.deepEqual(folder.kvlinkConfig, kvlink);
    assert.equal(folder.generationConfig.eos_token_id, 2);
    assert.deepEqual(folder.paths, written);
    assert.deepEqual(new Uint8Array(await readFile(folder.paths.onnxModel)), onnxBytes);
    assert.equal(folder.config["eos_token_id"], 2);
    assert.deepEqual(folder.config["transformers.js_config"], { use_external_data_format: true });
    assert.deepEqual(JSON.parse(await readFile(folder.paths.tokenizerJson, "utf8")), tiny.tokenizerJson);
  });

  it("writes a config.json that transformers.js reads as this architecture", async function () {
    this.timeout(60_000);
    await write();
    const { AutoConfig, env } = await import("@huggingface/transformers");
    env.allowRemoteModels = false;
    const config = (await AutoConfig.from_pretrained(dir)) as unknown as {
      model_type: string;
      normalized_config: Record<string, unknown>;
      "transformers.js_config": Record<string, unknown>;
    };
    assert.equal(config.model_type, "llama");
    assert.equal(config.normalized_config["num_heads"], spec.numKvHeads);
    assert.equal(config.normalized_config["num_layers"], spec.numLayers);
    assert.equal(config.normalized_config["dim_kv"], spec.headDim);
    assert.equal(config["transformers.js_config"]["use_external_data_format"], true);
  });

  it("treats absent kvlink.json / generation_config.json / external data as empty", async () => {
    await write({ kvlink: undefined, onnx: { model: onnxBytes } });
    await rm(join(dir, "generation_config.json"));
    const folder = await readModelFolder(dir);
    assert.deepEqual(folder.kvlinkConfig, NO_KVLINK_CONFIG);
    assert.equal(folder.kvlinkConfig.numLinkTokens, 0);
    assert.deepEqual(folder.generationConfig, {});
    assert.equal(folder.paths.kvlink, undefined);
    assert.equal(folder.paths.onnxExternalData, undefined);
    assert.equal(folder.paths.generationConfig, undefined);
  });

  it("throws ModelLoadError for a missing folder or file", async () => {
    await assert.rejects(readModelFolder(join(dir, "nope")), ModelLoadError);
    await write();
    await rm(join(dir, "onnx", "model.onnx"));
    await assert.rejects(readModelFolder(dir), ModelLoadError);
    await write();
    await rm(join(dir, "tokenizer_config.json"));
    await assert.rejects(readModelFolder(dir), ModelLoadError);
  });

  it("throws ModelFormatError for corrupt JSON and an inconsistent kvlink.json", async () => {
    await write();
    await writeFile(join(dir, "config.json"), "{ not json");
    await assert.rejects(readModelFolder(dir), ModelFormatError);
    await write();
    await writeFile(join(dir, "kvlink.json"), JSON.stringify({ ...kvlink, linkTokenIds: [[5]] }));
    await assert.rejects(readModelFolder(dir), ModelFormatError);
    await write();
    await writeFile(join(dir, "kvlink.json"), JSON.stringify({ ...kvlink, linkTokenIds: [[5, 300]] }));
    await assert.rejects(readModelFolder(dir), ModelFormatError);
    await write();
    await writeFile(join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: "two" }));
    await assert.rejects(readModelFolder(dir), ModelFormatError);
  });

  it("rejects invalid inputs to writeModelFolder", async () => {
    await assert.rejects(write({ kvlink: { ...kvlink, numLinkTokens: 3 } }), InvalidInputError);
    await assert.rejects(write({ onnx: { model: onnxBytes, externalData: { fileName: "../x", bytes: onnxBytes } } }), InvalidInputError);
  });
});
