/** Random PEFT-style LoRA adapters (with KVLink link-token rows) for tests, written as one .safetensors file. */
import { writeFile } from "node:fs/promises";
import { mulberry32 } from "./mulberry32.js";
import { LORA_TARGETS } from "../../packages/core/src/model/ModelWeights.js";
import type { ModelSpec } from "../../packages/core/src/model/ModelSpec.js";
import type { KvLinkConfig } from "../../packages/core/src/model/modelFolder.js";
import { encodeSafetensors, representable, type StDtype } from "../core/unit/convert/safetensorsFixture.js";

export interface LoraFixtureOptions {
  readonly rank: number;
  readonly alpha: number;
  readonly seed: number;
  /** Extra input-only embedding rows (link tokens + markers). */
  readonly numExtraEmbeddings: number;
  readonly kvlink?: KvLinkConfig;
  readonly dtype?: StDtype;
  /** Scale of the random B weights (PEFT starts B at 0; tests need a visible effect). Default 0.2. */
  readonly bScale?: number;
}

/** Shapes [out, in] of each projection of `spec`. */
function projectionShapes(spec: ModelSpec): Record<(typeof LORA_TARGETS)[number], [number, number]> {
  const h = spec.hiddenSize, q = spec.numHeads * spec.headDim, kv = spec.numKvHeads * spec.headDim, ff = spec.intermediateSize;
  return { q: [q, h], k: [kv, h], v: [kv, h], o: [h, q], gate: [ff, h], up: [ff, h], down: [h, ff] };
}

/** Encodes a random adapter for `spec` (every layer, every projection) in PEFT's key names, rank/alpha in metadata. */
export function encodeRandomLoraAdapter(spec: ModelSpec, options: LoraFixtureOptions): Buffer {
  const uniform = mulberry32(options.seed);
  const rand = (): number => uniform() - 0.5;
  const dtype = options.dtype ?? "F32";
  const fill = (n: number, scale: number): Float32Array => representable(Float32Array.from({ length: n }, () => rand() * scale), dtype);
  const tensors: Record<string, { shape: number[]; data: Float32Array; dtype: StDtype }> = {};
  const shapes = projectionShapes(spec);
  for (let l = 0; l < spec.numLayers; l++) {
    for (const target of LORA_TARGETS) {
      const [out, inp] = shapes[target];
      const module = ["q", "k", "v", "o"].includes(target) ? "self_attn" : "mlp";
      const base = `base_model.model.model.layers.${l}.${module}.${target}_proj`;
      tensors[`${base}.lora_A.weight`] = { shape: [options.rank, inp], data: fill(options.rank * inp, 0.5), dtype };
      tensors[`${base}.lora_B.weight`] = { shape: [out, options.rank], data: fill(out * options.rank, options.bScale ?? 0.2), dtype };
    }
  }
  if (options.numExtraEmbeddings > 0) {
    tensors["kvlink.extra_embeddings"] = {
      shape: [options.numExtraEmbeddings, spec.hiddenSize],
      data: fill(options.numExtraEmbeddings * spec.hiddenSize, 2),
      dtype,
    };
  }
  const metadata: Record<string, string> = { r: String(options.rank), lora_alpha: String(options.alpha) };
  if (options.kvlink !== undefined) metadata["kvlink"] = JSON.stringify(options.kvlink);
  return encodeSafetensors(tensors, metadata);
}

export async function writeRandomLoraAdapter(path: string, spec: ModelSpec, options: LoraFixtureOptions): Promise<void> {
  await writeFile(path, encodeRandomLoraAdapter(spec, options));
}

/** A kvlink config whose link tokens and markers are the extra rows after the vocabulary: slot i uses V + K·i + j. */
export function extraRowLinkConfig(vocabSize: number, numLinkTokens: number, numSlots: number): { kvlink: KvLinkConfig; numExtraEmbeddings: number } {
  const linkTokenIds = Array.from({ length: numSlots }, (_, i) => Array.from({ length: numLinkTokens }, (_, j) => vocabSize + numLinkTokens * i + j));
  const memStart = vocabSize + numLinkTokens * numSlots;
  return {
    kvlink: { formatVersion: 1, numLinkTokens, linkTokenIds, memStartTokenId: memStart, memEndTokenId: memStart + 1 },
    numExtraEmbeddings: numLinkTokens * numSlots + 2,
  };
}
