import { InvalidInputError } from "../errors/KvLinkError.js";
import type { ModelSpec } from "./ModelSpec.js";
import type { LayerWeights, LinearWeight, ModelWeights } from "./ModelWeights.js";
import { quantizeLinear } from "./quantizeLinear.js";

export interface RandomWeightsOptions {
  /** Same seed, same spec and options → bit-identical weights. */
  readonly seed: number;
  /** "q4"/"q8" store the 7 per-layer linears (and an untied lm head) as MatMulNBits, block 32. Default "f32". */
  readonly quant?: "f32" | "q4" | "q8";
  /** Multiplies every weight's standard deviation (norm weights excepted). Default 1. */
  readonly scale?: number;
  /** For tied specs: also emit `tiedHead`, a quantized copy of the embedding with these bits. */
  readonly tiedHeadBits?: 4 | 8;
}

/**
 * Deterministic random weights for `spec` (mulberry32 + Box–Muller; no Math.random). Linear weights are
 * N(0, scale²/fanIn) so activations, attention scores and logits stay O(1) and softmax is not saturated;
 * embeddings and the head are N(0, scale²/hiddenSize); RMSNorm weights are 1 + N(0, 0.1²); biases N(0, (0.1·scale)²).
 */
export function createRandomWeights(spec: ModelSpec, options: RandomWeightsOptions): ModelWeights {
  const { seed, quant = "f32", scale = 1, tiedHeadBits } = options;
  if (!Number.isFinite(seed)) throw new InvalidInputError(`createRandomWeights: seed must be a finite number, got ${seed}`);
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new InvalidInputError(`createRandomWeights: scale must be a positive finite number, got ${scale}`);
  }
  if (quant !== "f32" && quant !== "q4" && quant !== "q8") {
    throw new InvalidInputError(`createRandomWeights: quant must be "f32", "q4" or "q8", got ${String(quant)}`);
  }
  const rng = normalSource(seed);
  const H = spec.hiddenSize;
  const qDim = spec.numHeads * spec.headDim;
  const kvDim = spec.numKvHeads * spec.headDim;
  const I = spec.intermediateSize;

  const gaussian = (n: number, std: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = rng() * std;
    return out;
  };
  const norm = (n: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = 1 + 0.1 * rng();
    return out;
  };
  const linear = (outFeatures: number, inFeatures: number): LinearWeight => {
    const data = gaussian(outFeatures * inFeatures, scale / Math.sqrt(inFeatures));
    if (quant === "f32") return { kind: "f32", outFeatures, inFeatures, data };
    return quantizeLinear(data, outFeatures, inFeatures, { bits: quant === "q4" ? 4 : 8 });
  };

  const embedTokens = gaussian(spec.vocabSize * H, scale / Math.sqrt(H));
  const layers: LayerWeights[] = [];
  for (let l = 0; l < spec.numLayers; l++) {
    const inputNorm = norm(H);
    const q = linear(qDim, H);
    const k = linear(kvDim, H);
    const v = linear(kvDim, H);
    const biases = spec.attentionBias
      ? { qBias: gaussian(qDim, 0.1 * scale), kBias: gaussian(kvDim, 0.1 * scale), vBias: gaussian(kvDim, 0.1 * scale) }
      : {};
    const o = linear(H, qDim);
    const postAttentionNorm = norm(H);
    const gate = linear(I, H);
    const up = linear(I, H);
    const down = linear(H, I);
    layers.push({ inputNorm, postAttentionNorm, q, k, v, o, gate, up, down, ...biases });
  }
  const finalNorm = norm(H);

  if (spec.tieWordEmbeddings) {
    if (tiedHeadBits === undefined) return { spec, embedTokens, layers, finalNorm };
    const tiedHead = quantizeLinear(embedTokens, spec.vocabSize, H, { bits: tiedHeadBits });
    return { spec, embedTokens, layers, finalNorm, tiedHead };
  }
  if (tiedHeadBits !== undefined) {
    throw new InvalidInputError("createRandomWeights: tiedHeadBits given but spec.tieWordEmbeddings is false");
  }
  const lmHead = linear(spec.vocabSize, H);
  return { spec, embedTokens, layers, finalNorm, lmHead };
}

/** Standard normal samples from a mulberry32 stream seeded with `seed` (Box–Muller, cosine branch). */
function normalSource(seed: number): () => number {
  let state = Math.trunc(seed) >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const u1 = 1 - uniform(); // (0, 1]
    const u2 = uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  };
}
