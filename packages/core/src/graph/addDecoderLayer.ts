import type { ModelSpec } from "../model/ModelSpec.js";
import type { LayerWeights, LoraTarget } from "../model/ModelWeights.js";
import { InvariantError } from "../errors/KvLinkError.js";
import type { OnnxGraphBuilder } from "./OnnxGraphBuilder.js";
import { addDecomposedAttention, type DecomposedAttentionMask } from "./addDecomposedAttention.js";
import { addHybridAttention, type HybridAttentionShared } from "./addHybridAttention.js";
import { addLinear, type Int8WeightMode, type NBitsAccuracy } from "./addLinear.js";
import { fuseLinears } from "./fuseLinears.js";

/**
 * How a layer attends: ORT's Attention-23 node (past keys [B,KVH,P,D]), or the decomposed MatMul/Softmax form
 * over past keys fed transposed [B,KVH,D,P] with no copy of the past (addDecomposedAttention.ts; "new" KV
 * outputs only), with its once-per-graph mask values, or the hybrid form (addHybridAttention.ts: MatMuls for
 * one-token steps over a long past, Attention-23 otherwise), with its once-per-graph condition and split sizes.
 */
export type LayerAttention =
  | { readonly kind: "onnx" }
  | { readonly kind: "decomposed"; readonly mask: DecomposedAttentionMask }
  | { readonly kind: "hybrid"; readonly shared: HybridAttentionShared };

/** Graph values every layer reads. */
export interface DecoderLayerInputs {
  readonly spec: ModelSpec;
  /** RotaryEmbedding cos/sin caches [maxPositions, rotaryDim/2]. */
  readonly cosCache: string;
  readonly sinCache: string;
  /** int64 [B,S]. */
  readonly positionIds: string;
  /** float32 additive mask [B,1,S,P+S]. */
  readonly attentionBias: string;
  readonly int8Weights: Int8WeightMode;
  readonly accuracyLevel: NBitsAccuracy;
  readonly attention: LayerAttention;
  /** float32 [B,1,1] multiplier of every LoRA branch (the adapter_scale input), when the weights carry LoRA. */
  readonly adapterScale?: string;
}

/** Names of the layer's cache tensors in the graph. */
export interface DecoderLayerKv {
  /** Inputs float32: keys [B,KVH,P,D] ([B,KVH,D,P] for decomposed attention), values [B,KVH,P,D]. */
  readonly pastKey: string;
  readonly pastValue: string;
  /** Outputs: `present` gives Attention's concatenated [B,KVH,P+S,D]; `new` gives only the S new tokens. */
  readonly outputMode: "present" | "new";
  readonly keyOutput: string;
  readonly valueOutput: string;
}

/**
 * Adds one Llama block and returns the new hidden state [B,S,H]:
 * h += o(Attention(rope(q(n1)), rope(k(n1)), v(n1), bias, past)); h += down(silu(gate(n2)) · up(n2)),
 * with n1/n2 = RMSNormalization (opset 23) of h. Q/K/V stay 3-D [B,S,heads·D] for RotaryEmbedding and
 * Attention (q_num_heads/kv_num_heads do the GQA grouping); keys leave the graph post-RoPE. Attention is
 * Attention-23 or the decomposed form, per `inputs.attention`.
 */
export function addDecoderLayer(
  b: OnnxGraphBuilder,
  inputs: DecoderLayerInputs,
  layerIndex: number,
  weights: LayerWeights,
  hidden: string,
  kv: DecoderLayerKv,
): string {
  const { spec } = inputs;
  const p = `layers.${layerIndex}`;
  const rmsNorm = (x: string, scale: Float32Array, name: string): string => {
    const w = b.addInitializer(`${name}.weight`, "float32", [scale.length], scale);
    return b.op("RMSNormalization", [x, w], {
      name,
      attrs: { epsilon: { float: spec.rmsNormEps }, axis: { int: -1 } },
    });
  };

  const linear = (x: string, target: LoraTarget, name: string, bias?: Float32Array): string => {
    const lora = weights.lora?.[target];
    return addLinear(b, x, weights[target], {
      name,
      int8Weights: inputs.int8Weights,
      accuracyLevel: inputs.accuracyLevel,
      ...(bias ? { bias } : {}),
      ...(lora ? { lora } : {}),
      ...(inputs.adapterScale !== undefined ? { adapterScale: inputs.adapterScale } : {}),
    });
  };

  // Projections reading one input run as one fused linear where they can (fuseLinears.ts), split back after.
  const linears = (x: string, targets: readonly LoraTarget[], names: readonly string[], biases: readonly (Float32Array | undefined)[]): string[] => {
    const parts = targets.map((t, i) => ({
      weight: weights[t],
      ...(biases[i] !== undefined && { bias: biases[i] }),
      ...(weights.lora?.[t] !== undefined && { lora: weights.lora[t] }),
    }));
    const fused = fuseLinears(parts);
    if (fused === undefined) return targets.map((t, i) => linear(x, t, names[i]!, biases[i]));
    const name = names.join("+");
    const y = addLinear(b, x, fused.weight, {
      name,
      int8Weights: inputs.int8Weights,
      accuracyLevel: inputs.accuracyLevel,
      ...(fused.bias !== undefined && { bias: fused.bias }),
      ...(fused.lora !== undefined && { lora: fused.lora }),
      ...(inputs.adapterScale !== undefined ? { adapterScale: inputs.adapterScale } : {}),
    });
    const outs = names.map((n) => b.uniqueName(n));
    b.addNode("Split", [y, b.constInt64(fused.splits)], outs, { name: `${name}.split`, attrs: { axis: { int: -1 } } });
    return outs;
  };

  const n1 = rmsNorm(hidden, weights.inputNorm, `${p}.input_layernorm`);
  const [q, k, v] = linears(n1, ["q", "k", "v"], [`${p}.attn.q_proj`, `${p}.attn.k_proj`, `${p}.attn.v_proj`], [weights.qBias, weights.kBias, weights.vBias]) as [
    string,
    string,
    string,
  ];

  const rope = (x: string, numHeads: number, name: string): string =>
    b.op("RotaryEmbedding", [x, inputs.cosCache, inputs.sinCache, inputs.positionIds], {
      name,
      attrs: {
        interleaved: { int: 0 },
        num_heads: { int: numHeads },
        ...(spec.rope.rotaryDim < spec.headDim ? { rotary_embedding_dim: { int: spec.rope.rotaryDim } } : {}),
      },
    });
  const qRot = rope(q, spec.numHeads, `${p}.attn.q_rope`);
  const kRot = rope(k, spec.numKvHeads, `${p}.attn.k_rope`);

  const qkv: LayerQkv = { prefix: p, qRot, kRot, v };
  const attention = inputs.attention;
  const attn =
    attention.kind === "decomposed"
      ? decomposedAttention(b, inputs, attention.mask, qkv, kv)
      : attention.kind === "hybrid"
        ? hybridAttention(b, inputs, attention.shared, qkv, kv)
        : onnxAttention(b, inputs, qkv, kv);
  const o = linear(attn, "o", `${p}.attn.o_proj`);
  const h1 = b.op("Add", [hidden, o], { name: `${p}.attn.residual` });

  const n2 = rmsNorm(h1, weights.postAttentionNorm, `${p}.post_attention_layernorm`);
  const [gate, up] = linears(n2, ["gate", "up"], [`${p}.mlp.gate_proj`, `${p}.mlp.up_proj`], [undefined, undefined]) as [string, string];
  const silu = b.op("Mul", [gate, b.op("Sigmoid", [gate], { name: `${p}.mlp.sigmoid` })], { name: `${p}.mlp.silu` });
  const act = b.op("Mul", [silu, up], { name: `${p}.mlp.act` });
  const down = linear(act, "down", `${p}.mlp.down_proj`);
  return b.op("Add", [h1, down], { name: `${p}.mlp.residual` });
}

/** A layer's node-name prefix and its attention inputs: post-RoPE q [B,S,H·D] and k, and v [B,S,KVH·D]. */
interface LayerQkv {
  readonly prefix: string;
  readonly qRot: string;
  readonly kRot: string;
  readonly v: string;
}

function decomposedAttention(b: OnnxGraphBuilder, inputs: DecoderLayerInputs, mask: DecomposedAttentionMask, qkv: LayerQkv, kv: DecoderLayerKv): string {
  const { prefix: p, qRot, kRot, v } = qkv;
  if (kv.outputMode !== "new") {
    throw new InvariantError(`layer ${p}: decomposed attention outputs only the new tokens' KV, got outputMode "${kv.outputMode}"`, {
      details: { layer: p, outputMode: kv.outputMode },
    });
  }
  const { spec } = inputs;
  return addDecomposedAttention(b, {
    q: qRot,
    k: kRot,
    v,
    pastKeyT: kv.pastKey,
    pastValue: kv.pastValue,
    mask,
    numHeads: spec.numHeads,
    numKvHeads: spec.numKvHeads,
    headDim: spec.headDim,
    newKeyOutput: kv.keyOutput,
    newValueOutput: kv.valueOutput,
    name: `${p}.attn`,
  });
}

function onnxAttention(b: OnnxGraphBuilder, inputs: DecoderLayerInputs, qkv: LayerQkv, kv: DecoderLayerKv): string {
  const present: readonly [string, string] = kv.outputMode === "present" ? [kv.keyOutput, kv.valueOutput] : unreadPresent(b, qkv.prefix);
  const attn = addAttention23(b, inputs, qkv, kv, present);
  if (kv.outputMode === "new") addNewKvOutputs(b, inputs, qkv, kv);
  return attn;
}

/** ORT's Attention-23 kernel insists on present outputs whenever past inputs are given: in "new" mode nobody reads them. */
function unreadPresent(b: OnnxGraphBuilder, prefix: string): [string, string] {
  return [b.uniqueName(`${prefix}.attn.present_key`), b.uniqueName(`${prefix}.attn.present_value`)];
}

/** The layer's Attention-23 node over its past; returns the attention output [B,S,H·D]. */
function addAttention23(b: OnnxGraphBuilder, inputs: DecoderLayerInputs, qkv: LayerQkv, kv: DecoderLayerKv, present: readonly [string, string]): string {
  const { spec } = inputs;
  const attn = b.uniqueName(`${qkv.prefix}.attn.out`);
  b.addNode("Attention", [qkv.qRot, qkv.kRot, qkv.v, inputs.attentionBias, kv.pastKey, kv.pastValue], [attn, ...present], {
    name: `${qkv.prefix}.attn.attention`,
    attrs: {
      q_num_heads: { int: spec.numHeads },
      kv_num_heads: { int: spec.numKvHeads },
      scale: { float: 1 / Math.sqrt(spec.headDim) },
    },
  });
  return attn;
}

/** The new tokens' post-RoPE keys and values as the layer's [B,KVH,S,D] outputs. */
function addNewKvOutputs(b: OnnxGraphBuilder, inputs: DecoderLayerInputs, qkv: LayerQkv, kv: DecoderLayerKv): void {
  const { spec } = inputs;
  const toBnsh = (x: string, out: string, name: string) => {
    const bsnh = b.op("Reshape", [x, b.constInt64([0, 0, spec.numKvHeads, spec.headDim])], { name: `${name}.reshape` });
    b.addNode("Transpose", [bsnh], [out], { name: `${name}.transpose`, attrs: { perm: { ints: [0, 2, 1, 3] } } });
  };
  toBnsh(qkv.kRot, kv.keyOutput, `${qkv.prefix}.attn.new_key`);
  toBnsh(qkv.v, kv.valueOutput, `${qkv.prefix}.attn.new_value`);
}

function hybridAttention(b: OnnxGraphBuilder, inputs: DecoderLayerInputs, shared: HybridAttentionShared, qkv: LayerQkv, kv: DecoderLayerKv): string {
  if (kv.outputMode !== "new") {
    throw new InvariantError(`layer ${qkv.prefix}: hybrid attention outputs only the new tokens' KV, got outputMode "${kv.outputMode}"`, {
      details: { layer: qkv.prefix, outputMode: kv.outputMode },
    });
  }
  const { spec } = inputs;
  const attn = addHybridAttention(b, {
    q: qkv.qRot,
    k: qkv.kRot,
    v: qkv.v,
    pastKey: kv.pastKey,
    pastValue: kv.pastValue,
    attentionBias: inputs.attentionBias,
    shared,
    attention23: () => addAttention23(b, inputs, qkv, kv, unreadPresent(b, qkv.prefix)),
    numHeads: spec.numHeads,
    numKvHeads: spec.numKvHeads,
    headDim: spec.headDim,
    name: `${qkv.prefix}.attn`,
  });
  addNewKvOutputs(b, inputs, qkv, kv);
  return attn;
}
