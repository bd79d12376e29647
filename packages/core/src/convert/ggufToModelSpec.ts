import { ModelFormatError, RopeUnsupportedError, UnsupportedModelError } from "../errors/KvLinkError.js";
import type { GgufTensorInfo } from "../gguf/GgufFile.js";
import type { GgufMetadata } from "../gguf/ggufMetadata.js";
import type { ModelSpec, RopeSpec } from "../model/ModelSpec.js";
import { computeInvFreq } from "../rope/computeInvFreq.js";

export const SUPPORTED_GGUF_ARCHITECTURES: readonly string[] = ["llama", "qwen2"];

/**
 * The ModelSpec of a llama- or qwen2-architecture GGUF, from its header (trusted over any online config). Tied
 * embeddings when there is no `output.weight`; qwen2 always has q/k/v biases (`attentionBias`). RoPE: linear scaling from `llama.rope.scaling.*`; Llama-3
 * scaling is recovered from the `rope_freqs.weight` factors (`ropeFreqs`), checked to reproduce them.
 */
export function ggufToModelSpec(meta: GgufMetadata, tensors: ReadonlyMap<string, GgufTensorInfo>, ropeFreqs?: Float32Array): ModelSpec {
  const arch = meta.string("general.architecture");
  if (!SUPPORTED_GGUF_ARCHITECTURES.includes(arch)) {
    throw new UnsupportedModelError(
      `${meta.path}: GGUF architecture "${arch}" is not supported; supported: ${SUPPORTED_GGUF_ARCHITECTURES.join(", ")}`,
      { details: { path: meta.path, architecture: arch, supported: SUPPORTED_GGUF_ARCHITECTURES } },
    );
  }
  const k = (name: string): string => `${arch}.${name}`;
  const hiddenSize = meta.number(k("embedding_length"));
  const numHeads = meta.number(k("attention.head_count"));
  const numKvHeads = meta.optionalNumber(k("attention.head_count_kv")) ?? numHeads;
  const headDim = meta.optionalNumber(k("attention.key_length")) ?? hiddenSize / numHeads;
  const embd = tensors.get("token_embd.weight");
  if (!embd) throw new ModelFormatError(`${meta.path}: tensor token_embd.weight is missing`, { details: { path: meta.path } });
  const vocabSize = meta.optionalNumber(k("vocab_size")) ?? embd.shape[1] ?? 0;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0 || (meta.optionalNumber(k("attention.value_length")) ?? headDim) !== headDim) {
    throw new UnsupportedModelError(`${meta.path}: head dim ${headDim} must be an even integer equal for keys and values`, {
      details: { path: meta.path, headDim },
    });
  }
  const theta = meta.optionalNumber(k("rope.freq_base")) ?? 10000;
  const rotaryDim = meta.optionalNumber(k("rope.dimension_count")) ?? headDim;
  if (rotaryDim !== headDim) {
    throw new UnsupportedModelError(`${meta.path}: partial rotary (rope.dimension_count ${rotaryDim} < head dim ${headDim}) is not supported`, {
      details: { path: meta.path, rotaryDim, headDim },
    });
  }
  return {
    architecture: arch === "qwen2" ? "qwen2" : "llama",
    vocabSize,
    hiddenSize,
    intermediateSize: meta.number(k("feed_forward_length")),
    numLayers: meta.number(k("block_count")),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: meta.optionalNumber(k("attention.layer_norm_rms_epsilon")) ?? 1e-5,
    maxPositionEmbeddings: meta.number(k("context_length")),
    rope: ropeSpec(meta, arch, theta, rotaryDim, ropeFreqs),
    tieWordEmbeddings: !tensors.has("output.weight"),
    attentionBias: arch === "qwen2",
  };
}

function ropeSpec(meta: GgufMetadata, arch: string, theta: number, rotaryDim: number, ropeFreqs?: Float32Array): RopeSpec {
  const type = meta.optionalString(`${arch}.rope.scaling.type`);
  const factor = meta.optionalNumber(`${arch}.rope.scaling.factor`);
  if (ropeFreqs) return fitLlama3(meta, arch, theta, rotaryDim, ropeFreqs);
  if (type === undefined || type === "none" || factor === undefined || factor === 1) return { theta, rotaryDim };
  if (type === "linear") return { theta, rotaryDim, scaling: { type: "linear", factor } };
  throw new RopeUnsupportedError(`${meta.path}: rope scaling "${type}" cannot be re-rotated exactly; supported: linear, llama3`, {
    details: { path: meta.path, type },
  });
}

/**
 * Llama-3 stores its RoPE scaling as per-frequency divisors (`rope_freqs.weight`): 1 at high frequencies,
 * `factor` at low ones and 1/((1−s)/factor + s) between, with s linear in the frequency. Fit factor and the
 * two band edges (taking original_max_position_embeddings from the header, default 8192), then require the
 * fitted spec to reproduce every divisor.
 */
function fitLlama3(meta: GgufMetadata, arch: string, theta: number, rotaryDim: number, divisors: Float32Array): RopeSpec {
  const fail = (why: string): never => {
    throw new RopeUnsupportedError(`${meta.path}: rope_freqs.weight does not describe a Llama-3 RoPE scaling: ${why}`, {
      details: { path: meta.path },
    });
  };
  const half = rotaryDim / 2;
  if (divisors.length !== half) fail(`expected ${half} factors, got ${divisors.length}`);
  const base = computeInvFreq({ theta, rotaryDim });
  const factor = Math.max(...divisors);
  if (!(factor > 1)) return { theta, rotaryDim };
  const originalMax = meta.optionalNumber(`${arch}.rope.scaling.original_context_length`) ?? 8192;
  // smooth s_i = (1/div_i − 1/factor)/(1 − 1/factor) = (originalMax·freq_i/2π − low)/(high − low)
  const points: [number, number][] = [];
  for (let i = 0; i < half; i++) {
    const d = divisors[i]!;
    if (Math.abs(d - 1) > 1e-6 && Math.abs(d - factor) > 1e-6 * factor) {
      points.push([(originalMax * base[i]!) / (2 * Math.PI), (1 / d - 1 / factor) / (1 - 1 / factor)]);
    }
  }
  const x = (i: number): number => (originalMax * base[i]!) / (2 * Math.PI);
  const candidates: [number, number][] = [[1, 4]]; // Llama 3.1/3.2's low/high factors come first
  if (points.length >= 2) {
    const [x0, s0] = points[0]!;
    const [x1, s1] = points[points.length - 1]!;
    const slope = (s1 - s0) / (x1 - x0); // = 1/(high − low)
    const low = x0 - s0 / slope;
    candidates.push([low, low + 1 / slope]);
  } else if (points.length === 0) {
    // No interpolated band: edges between the last divisor-1 frequency and the first divisor-factor one.
    let lastOne = -1;
    for (let i = 0; i < half; i++) if (Math.abs(divisors[i]! - 1) <= 1e-6) lastOne = i;
    const high = lastOne >= 0 ? x(lastOne) : x(0) * 2;
    candidates.push([lastOne + 1 < half ? x(lastOne + 1) : high / 2, high]);
  }
  const mismatch = (spec: RopeSpec): string | undefined => {
    const scaled = computeInvFreq(spec);
    for (let i = 0; i < half; i++) {
      const expected = base[i]! / divisors[i]!;
      if (Math.abs(scaled[i]! - expected) > 1e-4 * expected) return `frequency ${i}: fitted ${scaled[i]} vs stored ${expected}`;
    }
    return undefined;
  };
  // Prefer the short decimals configs use when the f32 divisors only blur them.
  const snap = (v: number): number => Math.round(v * 1000) / 1000;
  let why = "no candidate";
  for (const [low, high] of candidates) {
    for (const r of [snap, (v: number) => v]) {
      const spec: RopeSpec = {
        theta,
        rotaryDim,
        scaling: { type: "llama3", factor: r(factor), lowFreqFactor: r(low), highFreqFactor: r(high), originalMaxPositionEmbeddings: originalMax },
      };
      const m = mismatch(spec);
      if (m === undefined) return spec;
      why = m;
    }
  }
  return fail(why);
}
