import { ModelFormatError, UnsupportedModelError } from "../errors/KvLinkError.js";
import { LORA_TARGETS, type LinearWeight, type LoraBranch, type ModelWeights } from "../model/ModelWeights.js";

/**
 * Checks that every tensor of `weights` has the size its `spec` implies, before any graph is built, so a bad
 * GGUF conversion fails with the tensor's name instead of an ORT shape error at run time.
 * Throws ModelFormatError (wrong sizes, missing tensors) or UnsupportedModelError (shapes the graph cannot express).
 */
export function validateModelWeights(weights: ModelWeights): void {
  const { spec } = weights;
  const { hiddenSize: h, numHeads, numKvHeads, headDim, intermediateSize, vocabSize } = spec;
  for (const [name, value] of Object.entries({ hiddenSize: h, numHeads, numKvHeads, headDim, intermediateSize, vocabSize })) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new ModelFormatError(`spec.${name} must be a positive integer, got ${value}`, { details: { [name]: value } });
    }
  }
  if (numHeads % numKvHeads !== 0) {
    throw new UnsupportedModelError(`numHeads (${numHeads}) must be a multiple of numKvHeads (${numKvHeads})`, {
      details: { numHeads, numKvHeads },
    });
  }
  if (spec.rope.rotaryDim > headDim) {
    throw new UnsupportedModelError(`rope.rotaryDim (${spec.rope.rotaryDim}) exceeds headDim (${headDim})`, {
      details: { rotaryDim: spec.rope.rotaryDim, headDim },
    });
  }
  if (weights.layers.length !== spec.numLayers) {
    throw new ModelFormatError(`weights hold ${weights.layers.length} layers, spec.numLayers is ${spec.numLayers}`, {
      details: { numLayers: spec.numLayers, actual: weights.layers.length },
    });
  }
  checkLength("embedTokens", weights.embedTokens, vocabSize * h);
  checkLength("finalNorm", weights.finalNorm, h);
  const numExtra = spec.numExtraEmbeddings ?? 0;
  if (!Number.isInteger(numExtra) || numExtra < 0) {
    throw new ModelFormatError(`spec.numExtraEmbeddings must be a non-negative integer, got ${numExtra}`, { details: { numExtra } });
  }
  if (numExtra > 0 || weights.extraEmbeddings !== undefined) checkLength("extraEmbeddings", weights.extraEmbeddings ?? [], numExtra * h);
  weights.layers.forEach((layer, i) => {
    const p = `layers.${i}`;
    checkLength(`${p}.inputNorm`, layer.inputNorm, h);
    checkLength(`${p}.postAttentionNorm`, layer.postAttentionNorm, h);
    checkLinear(`${p}.q`, layer.q, numHeads * headDim, h);
    checkLinear(`${p}.k`, layer.k, numKvHeads * headDim, h);
    checkLinear(`${p}.v`, layer.v, numKvHeads * headDim, h);
    checkLinear(`${p}.o`, layer.o, h, numHeads * headDim);
    checkLinear(`${p}.gate`, layer.gate, intermediateSize, h);
    checkLinear(`${p}.up`, layer.up, intermediateSize, h);
    checkLinear(`${p}.down`, layer.down, h, intermediateSize);
    for (const target of LORA_TARGETS) {
      const branch = layer.lora?.[target];
      if (branch !== undefined) checkLora(`${p}.${target}.lora`, branch, layer[target]);
    }
    const biases = { qBias: [layer.qBias, numHeads * headDim], kBias: [layer.kBias, numKvHeads * headDim], vBias: [layer.vBias, numKvHeads * headDim] } as const;
    for (const [name, [bias, size]] of Object.entries(biases)) {
      if (bias === undefined) {
        if (spec.attentionBias) {
          throw new ModelFormatError(`${p}.${name} is missing but spec.attentionBias is true`, { details: { tensor: `${p}.${name}` } });
        }
        continue;
      }
      checkLength(`${p}.${name}`, bias, size);
    }
  });
  if (spec.tieWordEmbeddings) {
    if (weights.tiedHead !== undefined) checkLinear("tiedHead", weights.tiedHead, vocabSize, h);
  } else {
    if (weights.lmHead === undefined) {
      throw new ModelFormatError("lmHead is missing and spec.tieWordEmbeddings is false", { details: { tensor: "lmHead" } });
    }
    checkLinear("lmHead", weights.lmHead, vocabSize, h);
  }
}

function checkLength(tensor: string, data: { readonly length: number }, expected: number): void {
  if (data.length !== expected) {
    throw new ModelFormatError(`${tensor} has ${data.length} elements, expected ${expected}`, {
      details: { tensor, expected, actual: data.length },
    });
  }
}

function checkLora(tensor: string, branch: LoraBranch, base: LinearWeight): void {
  if (!Number.isInteger(branch.rank) || branch.rank <= 0 || !Number.isFinite(branch.scale)) {
    throw new ModelFormatError(`${tensor}: rank must be a positive integer and scale finite, got rank ${branch.rank}, scale ${branch.scale}`, {
      details: { tensor, rank: branch.rank, scale: branch.scale },
    });
  }
  checkLength(`${tensor}.a`, branch.a, branch.rank * base.inFeatures);
  checkLength(`${tensor}.b`, branch.b, base.outFeatures * branch.rank);
}

function checkLinear(tensor: string, w: LinearWeight, outFeatures: number, inFeatures: number): void {
  if (w.outFeatures !== outFeatures || w.inFeatures !== inFeatures) {
    throw new ModelFormatError(
      `${tensor} is [${w.outFeatures}, ${w.inFeatures}] ([out, in]), expected [${outFeatures}, ${inFeatures}]`,
      { details: { tensor, expected: [outFeatures, inFeatures], actual: [w.outFeatures, w.inFeatures] } },
    );
  }
  if (w.kind === "f32") {
    checkLength(`${tensor}.data`, w.data, outFeatures * inFeatures);
    return;
  }
  const { bits, blockSize } = w;
  if (bits !== 4 && bits !== 8) {
    throw new UnsupportedModelError(`${tensor}: MatMulNBits bits must be 4 or 8, got ${String(bits)}`, { details: { tensor, bits } });
  }
  // MatMulNBits accepts power-of-two block sizes from 16 up.
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new UnsupportedModelError(`${tensor}: blockSize must be a power of two >= 16, got ${blockSize}`, {
      details: { tensor, blockSize },
    });
  }
  const numBlocks = Math.ceil(inFeatures / blockSize);
  checkLength(`${tensor}.packed`, w.packed, (outFeatures * numBlocks * blockSize * bits) / 8);
  checkLength(`${tensor}.scales`, w.scales, outFeatures * numBlocks);
  checkLength(`${tensor}.zeroPoints`, w.zeroPoints, outFeatures * numBlocks);
}
