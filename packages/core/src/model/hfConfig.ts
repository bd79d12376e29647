import { z } from "zod";
import { InvalidInputError, ModelFormatError, UnsupportedModelError } from "../errors/KvLinkError.js";
import { parseRopeScaling } from "../rope/parseRopeScaling.js";
import type { ModelSpec, RopeSpec } from "./ModelSpec.js";

/**
 * HF config.json ⇄ ModelSpec. Reads Llama-family configs (Llama 1-3, SmolLM/SmolLM2, Mistral without a
 * sliding window, Qwen2) and writes the fields transformers.js needs to load our ONNX folders.
 */

/** Architectures (config.json `architectures[0]`) this project runs. */
export const SUPPORTED_ARCHITECTURES = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"] as const;
/** `model_type` values this project runs ("smollm" is SmolLM(2)'s Llama alias; SmolLM3 is not Llama). */
export const SUPPORTED_MODEL_TYPES = ["llama", "mistral", "qwen2", "smollm"] as const;

const positiveInt = z.number().int().positive();
const positiveNumber = z.number().positive();

const HfConfigSchema = z.looseObject({
  architectures: z.array(z.string()).optional(),
  model_type: z.string().optional(),
  vocab_size: positiveInt,
  hidden_size: positiveInt,
  intermediate_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.nullish(),
  head_dim: positiveInt.nullish(),
  rms_norm_eps: positiveNumber,
  max_position_embeddings: positiveInt,
  rope_theta: positiveNumber.nullish(),
  rope_scaling: z.unknown().optional(),
  rope_parameters: z.looseObject({ rope_theta: positiveNumber.optional() }).nullish(),
  partial_rotary_factor: positiveNumber.nullish(),
  tie_word_embeddings: z.boolean().nullish(),
  hidden_act: z.string().nullish(),
  attention_bias: z.boolean().nullish(),
  mlp_bias: z.boolean().nullish(),
  sliding_window: z.number().int().nullish(),
  use_sliding_window: z.boolean().nullish(),
  /** Ours: input-only embedding rows after the vocabulary (ModelSpec.numExtraEmbeddings). */
  kvlink_extra_embeddings: z.number().int().nonnegative().nullish(),
});

/**
 * Parses config.json into a ModelSpec. Throws UnsupportedModelError for other architectures or features
 * (sliding window, MLP bias, non-SiLU activation, partial rotary), RopeUnsupportedError for RoPE scalings
 * that cannot be re-rotated (dynamic, yarn, longrope, ...), ModelFormatError for missing or malformed fields.
 */
export function hfConfigToSpec(configJson: unknown, where = "config.json"): ModelSpec {
  const parsed = HfConfigSchema.safeParse(configJson);
  if (!parsed.success) {
    throw new ModelFormatError(`${where}: not a valid Llama-family config:\n${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
      details: { file: where },
    });
  }
  const c = parsed.data;
  const architecture = resolveArchitecture(c.architectures, c.model_type, where);

  const unsupported = (feature: string, details: Record<string, unknown>): never => {
    throw new UnsupportedModelError(`${where}: ${feature} is not supported`, { details: { file: where, ...details } });
  };
  if (c.hidden_act != null && c.hidden_act !== "silu") unsupported(`hidden_act "${c.hidden_act}" (expected "silu")`, { hiddenAct: c.hidden_act });
  if (c.mlp_bias === true) unsupported("mlp_bias: true", { mlpBias: true });
  if (c.partial_rotary_factor != null && c.partial_rotary_factor !== 1) {
    unsupported(`partial_rotary_factor ${c.partial_rotary_factor} (expected 1)`, { partialRotaryFactor: c.partial_rotary_factor });
  }
  const modelType = c.model_type ?? "";
  if (modelType === "qwen2" || c.architectures?.[0] === "Qwen2ForCausalLM") {
    if (c.use_sliding_window === true) unsupported("Qwen2 use_sliding_window: true", { slidingWindow: c.sliding_window });
  } else if (c.sliding_window != null && c.sliding_window < c.max_position_embeddings) {
    unsupported(
      `sliding_window ${c.sliding_window} < max_position_embeddings ${c.max_position_embeddings} (sliding-window attention)`,
      { slidingWindow: c.sliding_window },
    );
  }

  const numKvHeads = c.num_key_value_heads ?? c.num_attention_heads;
  if (c.num_attention_heads % numKvHeads !== 0) {
    throw new ModelFormatError(
      `${where}: num_attention_heads ${c.num_attention_heads} is not a multiple of num_key_value_heads ${numKvHeads}`,
      { details: { file: where } },
    );
  }
  let headDim = c.head_dim;
  if (headDim == null) {
    if (c.hidden_size % c.num_attention_heads !== 0) {
      throw new ModelFormatError(
        `${where}: no head_dim and hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`,
        { details: { file: where } },
      );
    }
    headDim = c.hidden_size / c.num_attention_heads;
  }

  // transformers ≥ 4.56 may put theta and the scaling under `rope_parameters`.
  const theta = c.rope_theta ?? c.rope_parameters?.rope_theta ?? 10000;
  const ropeScaling = c.rope_scaling ?? c.rope_parameters ?? null;
  const rope: RopeSpec = parseRopeScaling(ropeScaling, theta, headDim);

  return {
    architecture,
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads,
    headDim,
    rmsNormEps: c.rms_norm_eps,
    maxPositionEmbeddings: c.max_position_embeddings,
    rope,
    // LlamaConfig / MistralConfig / Qwen2Config all default to untied embeddings.
    tieWordEmbeddings: c.tie_word_embeddings ?? false,
    attentionBias: architecture === "qwen2" ? true : (c.attention_bias ?? false),
    ...(c.kvlink_extra_embeddings ? { numExtraEmbeddings: c.kvlink_extra_embeddings } : {}),
  };
}

function resolveArchitecture(architectures: string[] | undefined, modelType: string | undefined, where: string): ModelSpec["architecture"] {
  const arch = architectures?.[0];
  const fromArch: Record<string, ModelSpec["architecture"]> = {
    LlamaForCausalLM: "llama",
    MistralForCausalLM: "llama",
    Qwen2ForCausalLM: "qwen2",
  };
  const fromType: Record<string, ModelSpec["architecture"]> = { llama: "llama", mistral: "llama", smollm: "llama", qwen2: "qwen2" };
  const byArch = arch === undefined ? undefined : fromArch[arch];
  const byType = modelType === undefined ? undefined : fromType[modelType];
  if (arch !== undefined && byArch === undefined) {
    throw new UnsupportedModelError(
      `${where}: architecture "${arch}" is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(", ")})`,
      { details: { file: where, architecture: arch, modelType } },
    );
  }
  if (modelType !== undefined && byType === undefined) {
    throw new UnsupportedModelError(
      `${where}: model_type "${modelType}" is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(", ")})`,
      { details: { file: where, architecture: arch, modelType } },
    );
  }
  const result = byArch ?? byType;
  if (result === undefined) {
    throw new ModelFormatError(`${where}: neither "architectures" nor "model_type" is set`, { details: { file: where } });
  }
  if (byArch !== undefined && byType !== undefined && byArch !== byType) {
    throw new ModelFormatError(`${where}: architecture "${arch}" contradicts model_type "${modelType}"`, {
      details: { file: where, architecture: arch, modelType },
    });
  }
  return result;
}

export interface HfConfigExtras {
  readonly bosTokenId?: number;
  readonly eosTokenId?: number | readonly number[];
  readonly padTokenId?: number;
  /** Default "float32" (our graphs take and return float32 tensors). */
  readonly torchDtype?: "float32" | "float16" | "bfloat16";
  /** Merged into `transformers.js_config` (e.g. `{ use_external_data_format: true }`). */
  readonly transformersJsConfig?: Readonly<Record<string, unknown>>;
}

/**
 * Writes a config.json object for `spec` in HF's Llama/Qwen2 shape, with what transformers.js reads
 * (model_type, architectures, sizes, heads, head_dim, RoPE, tie_word_embeddings, bos/eos ids, torch_dtype).
 * `hfConfigToSpec(specToHfConfig(spec))` returns an equal spec.
 */
export function specToHfConfig(spec: ModelSpec, extras: HfConfigExtras = {}): Record<string, unknown> {
  if (spec.architecture === "qwen2" && !spec.attentionBias) {
    throw new InvalidInputError("specToHfConfig: a qwen2 spec must have attentionBias (Qwen2 always has q/k/v biases)", {
      details: { architecture: spec.architecture, attentionBias: spec.attentionBias },
    });
  }
  if (spec.rope.rotaryDim !== spec.headDim) {
    throw new InvalidInputError(
      `specToHfConfig: rope.rotaryDim ${spec.rope.rotaryDim} must equal headDim ${spec.headDim} for Llama/Qwen2 configs`,
      { details: { rotaryDim: spec.rope.rotaryDim, headDim: spec.headDim } },
    );
  }
  const scaling = spec.rope.scaling;
  const ropeScaling =
    scaling === undefined
      ? null
      : scaling.type === "linear"
        ? { rope_type: "linear", factor: scaling.factor }
        : {
            rope_type: "llama3",
            factor: scaling.factor,
            low_freq_factor: scaling.lowFreqFactor,
            high_freq_factor: scaling.highFreqFactor,
            original_max_position_embeddings: scaling.originalMaxPositionEmbeddings,
          };
  const isQwen = spec.architecture === "qwen2";
  const config: Record<string, unknown> = {
    architectures: [isQwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
    model_type: isQwen ? "qwen2" : "llama",
    vocab_size: spec.vocabSize,
    hidden_size: spec.hiddenSize,
    intermediate_size: spec.intermediateSize,
    num_hidden_layers: spec.numLayers,
    num_attention_heads: spec.numHeads,
    num_key_value_heads: spec.numKvHeads,
    head_dim: spec.headDim,
    hidden_act: "silu",
    rms_norm_eps: spec.rmsNormEps,
    max_position_embeddings: spec.maxPositionEmbeddings,
    rope_theta: spec.rope.theta,
    rope_scaling: ropeScaling,
    tie_word_embeddings: spec.tieWordEmbeddings,
    ...(isQwen ? { use_sliding_window: false } : { attention_bias: spec.attentionBias, mlp_bias: false }),
    use_cache: true,
    torch_dtype: extras.torchDtype ?? "float32",
  };
  if (extras.bosTokenId !== undefined) config["bos_token_id"] = extras.bosTokenId;
  if (extras.eosTokenId !== undefined) {
    config["eos_token_id"] = typeof extras.eosTokenId === "number" ? extras.eosTokenId : [...extras.eosTokenId];
  }
  if (extras.padTokenId !== undefined) config["pad_token_id"] = extras.padTokenId;
  if (spec.numExtraEmbeddings) config["kvlink_extra_embeddings"] = spec.numExtraEmbeddings;
  if (extras.transformersJsConfig !== undefined) config["transformers.js_config"] = { ...extras.transformersJsConfig };
  return config;
}
