import { InvalidInputError } from "../errors/KvLinkError.js";
import type { ModelSpec } from "./ModelSpec.js";

/**
 * A tiny Llama-shaped spec for tests and generated models: vocab 96, hidden 32, intermediate 64, 2 layers,
 * 4 heads over 2 kv heads (GQA), headDim 8, 256 positions, theta 10000, tied embeddings. `overrides` replace
 * fields shallowly; when `headDim` is overridden without `rope`, rotaryDim follows headDim.
 */
export function tinySpec(overrides: Partial<ModelSpec> = {}): ModelSpec {
  const headDim = overrides.headDim ?? 8;
  const spec: ModelSpec = {
    architecture: "llama",
    vocabSize: 96,
    hiddenSize: 32,
    intermediateSize: 64,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim,
    rmsNormEps: 1e-5,
    maxPositionEmbeddings: 256,
    rope: { theta: 10000, rotaryDim: headDim },
    tieWordEmbeddings: true,
    attentionBias: false,
    ...overrides,
  };
  const ints = ["vocabSize", "hiddenSize", "intermediateSize", "numLayers", "numHeads", "numKvHeads", "headDim", "maxPositionEmbeddings"] as const;
  for (const key of ints) {
    const value = spec[key];
    if (!Number.isInteger(value) || value <= 0) {
      throw new InvalidInputError(`tinySpec: ${key} must be a positive integer, got ${value}`, { details: { key, value } });
    }
  }
  if (spec.numHeads % spec.numKvHeads !== 0) {
    throw new InvalidInputError(`tinySpec: numHeads ${spec.numHeads} is not a multiple of numKvHeads ${spec.numKvHeads}`);
  }
  const { rotaryDim } = spec.rope;
  if (!Number.isInteger(rotaryDim) || rotaryDim <= 0 || rotaryDim % 2 !== 0 || rotaryDim > spec.headDim) {
    throw new InvalidInputError(`tinySpec: rope.rotaryDim ${rotaryDim} must be even, positive and ≤ headDim ${spec.headDim}`);
  }
  return spec;
}
