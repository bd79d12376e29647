import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { ModelFormatError, ModelLoadError } from "../errors/KvLinkError.js";
import { KvLinkConfigSchema, type KvLinkConfig } from "../model/modelFolder.js";
import { dequantizeLinear, LORA_TARGETS, type LayerWeights, type LinearWeight, type LoraBranch, type LoraTarget, type ModelWeights } from "../model/ModelWeights.js";
import { quantizeLinear } from "../model/quantizeLinear.js";
import { SafetensorsFile } from "./SafetensorsFile.js";

/**
 * A LoRA adapter as converted into a model: branches per layer and projection, plus (for KVLink adapters) the
 * trained input-only embedding rows of the link tokens and the kvlink.json they need.
 */
export interface LoraAdapter {
  readonly path: string;
  readonly sha256: string;
  readonly rank: number;
  readonly scale: number;
  /** layers[i][target] */
  readonly layers: ReadonlyMap<number, Partial<Record<LoraTarget, LoraBranch>>>;
  /** [n, hiddenSize] rows for token ids vocabSize… (tensor `kvlink.extra_embeddings`). */
  readonly extraEmbeddings?: { readonly numRows: number; readonly data: Float32Array };
  /** From the safetensors metadata key `kvlink` (JSON): link-token ids and markers. */
  readonly kvlink?: KvLinkConfig;
}

const AdapterConfigSchema = z.looseObject({
  r: z.coerce.number().int().positive(),
  lora_alpha: z.coerce.number().positive(),
  use_rslora: z.union([z.boolean(), z.stringbool()]).optional(),
});

/** PEFT names: `[base_model.model.]model.layers.{i}.{self_attn|mlp}.{target}_proj.lora_{A|B}[.default].weight`. */
const KEY = /^(?:base_model\.model\.)?model\.layers\.(\d+)\.(?:self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj\.lora_([AB])(?:\.default)?\.weight$/u;
const EXTRA_EMBEDDINGS = "kvlink.extra_embeddings";

/**
 * Reads a PEFT-style LoRA adapter from one .safetensors file. Rank and alpha come from the file's
 * `__metadata__` (`r`, `lora_alpha`) or, failing that, from `adapter_config.json` beside it (PEFT's layout);
 * scale = alpha / r (alpha / √r with use_rslora). Only the projections of Llama-family decoder layers are
 * understood; any other tensor → ModelFormatError naming it.
 */
export async function loadLoraAdapter(path: string): Promise<LoraAdapter> {
  await using file = await SafetensorsFile.open(path);
  const meta = file.metadata;
  let config: z.output<typeof AdapterConfigSchema>;
  if (meta["r"] !== undefined && meta["lora_alpha"] !== undefined) {
    config = parseConfig({ r: meta["r"], lora_alpha: meta["lora_alpha"], use_rslora: meta["use_rslora"] }, `${path} (__metadata__)`);
  } else {
    const configPath = join(dirname(path), "adapter_config.json");
    let text: string;
    try {
      text = await readFile(configPath, "utf8");
    } catch (cause) {
      throw new ModelLoadError(`${path}: no r/lora_alpha in its metadata and no readable ${configPath}`, { cause, details: { path } });
    }
    config = parseConfig(JSON.parse(text) as unknown, configPath);
  }
  const scale = config.use_rslora === true ? config.lora_alpha / Math.sqrt(config.r) : config.lora_alpha / config.r;

  const pairs = new Map<string, { a?: { data: Float32Array; shape: readonly number[] }; b?: { data: Float32Array; shape: readonly number[] } }>();
  let extraEmbeddings: LoraAdapter["extraEmbeddings"];
  for (const [name, info] of file.tensors) {
    if (name === EXTRA_EMBEDDINGS) {
      if (info.shape.length !== 2) throw new ModelFormatError(`${path}: ${name} must be 2-D [rows, hidden], got [${info.shape.join(", ")}]`, { details: { path } });
      extraEmbeddings = { numRows: info.shape[0]!, data: await file.readF32(name) };
      continue;
    }
    const m = KEY.exec(name);
    if (m === null) {
      throw new ModelFormatError(`${path}: tensor ${name} is not a LoRA weight of a decoder projection (q/k/v/o/gate/up/down_proj)`, {
        details: { path, tensor: name },
      });
    }
    const key = `${m[1]}.${m[2]}`;
    const entry = pairs.get(key) ?? {};
    if (info.shape.length !== 2) throw new ModelFormatError(`${path}: ${name} must be 2-D, got [${info.shape.join(", ")}]`, { details: { path } });
    entry[m[3] === "A" ? "a" : "b"] = { data: await file.readF32(name), shape: info.shape };
    pairs.set(key, entry);
  }

  const layers = new Map<number, Partial<Record<LoraTarget, LoraBranch>>>();
  for (const [key, { a, b }] of pairs) {
    const [layerText, target] = key.split(".") as [string, LoraTarget];
    if (a === undefined || b === undefined) {
      throw new ModelFormatError(`${path}: layer ${layerText} ${target}_proj has lora_${a ? "A" : "B"} but not lora_${a ? "B" : "A"}`, { details: { path, key } });
    }
    const rank = a.shape[0]!;
    if (rank !== config.r || b.shape[1] !== rank) {
      throw new ModelFormatError(
        `${path}: layer ${layerText} ${target}_proj has lora_A [${a.shape.join(", ")}] and lora_B [${b.shape.join(", ")}], expected rank r = ${config.r}`,
        { details: { path, key } },
      );
    }
    const layer = Number(layerText);
    const branches = layers.get(layer) ?? {};
    branches[target] = { rank, scale, a: a.data, b: b.data };
    layers.set(layer, branches);
  }

  let kvlink: KvLinkConfig | undefined;
  if (meta["kvlink"] !== undefined) {
    let value: unknown;
    try {
      value = JSON.parse(meta["kvlink"]);
    } catch (cause) {
      throw new ModelFormatError(`${path}: metadata "kvlink" is not JSON`, { cause, details: { path } });
    }
    const parsed = KvLinkConfigSchema.safeParse(value);
    if (!parsed.success) throw new ModelFormatError(`${path}: metadata "kvlink" is invalid:\n${z.prettifyError(parsed.error)}`, { details: { path } });
    kvlink = parsed.data;
  }
  return {
    path,
    sha256: createHash("sha256").update(await readFile(path)).digest("hex"),
    rank: config.r,
    scale,
    layers,
    ...(extraEmbeddings !== undefined && { extraEmbeddings }),
    ...(kvlink !== undefined && { kvlink }),
  };
}

/**
 * The model with the adapter's branches attached (base weights untouched) and its extra embedding rows appended
 * as input-only ids vocabSize…; ModelFormatError when a branch does not fit the model's projections.
 */
export function applyLoraAdapter(weights: ModelWeights, adapter: LoraAdapter, options: { readonly merge?: boolean } = {}): ModelWeights {
  const { spec } = weights;
  for (const layer of adapter.layers.keys()) {
    if (layer >= spec.numLayers) {
      throw new ModelFormatError(`${adapter.path}: LoRA for layer ${layer}, but the model has ${spec.numLayers} layers`, { details: { layer } });
    }
  }
  const layers: LayerWeights[] = weights.layers.map((layer, i) => {
    const branches = adapter.layers.get(i);
    if (branches === undefined) return layer;
    for (const target of LORA_TARGETS) {
      const br = branches[target];
      if (br === undefined) continue;
      const base = layer[target];
      if (br.a.length !== br.rank * base.inFeatures || br.b.length !== base.outFeatures * br.rank) {
        throw new ModelFormatError(
          `${adapter.path}: layer ${i} ${target}_proj LoRA does not fit the model's [${base.outFeatures}, ${base.inFeatures}] weight`,
          { details: { layer: i, target } },
        );
      }
    }
    if (options.merge) {
      const merged: Partial<Record<LoraTarget, LinearWeight>> = {};
      for (const target of LORA_TARGETS) {
        const br = branches[target];
        if (br !== undefined) merged[target] = mergeBranch(layer[target], br);
      }
      return { ...layer, ...merged };
    }
    return { ...layer, lora: { ...layer.lora, ...branches } };
  });
  const extra = adapter.extraEmbeddings;
  if (extra !== undefined && extra.data.length !== extra.numRows * spec.hiddenSize) {
    throw new ModelFormatError(`${adapter.path}: ${EXTRA_EMBEDDINGS} rows are not ${spec.hiddenSize} wide`, { details: { hiddenSize: spec.hiddenSize } });
  }
  return {
    ...weights,
    spec: extra === undefined ? spec : { ...spec, numExtraEmbeddings: extra.numRows },
    layers,
    ...(extra !== undefined && { extraEmbeddings: extra.data }),
  };
}

/**
 * W + scale·B·A folded into the base weight: dequantized, summed in fp32, and for a quantized base re-quantized to
 * its bits and block size (round-to-nearest per block, quantizeLinear), which loses both the GGUF's exact values and
 * some of the branch. The alternative to branches beside the weight (see convertModel's `mergeLora`).
 */
function mergeBranch(base: LinearWeight, br: LoraBranch): LinearWeight {
  const { outFeatures: n, inFeatures: k } = base;
  const w = Float32Array.from(dequantizeLinear(base));
  for (let o = 0; o < n; o++) {
    for (let r = 0; r < br.rank; r++) {
      const b = br.b[o * br.rank + r]! * br.scale;
      if (b === 0) continue;
      const row = o * k;
      const aRow = r * k;
      for (let c = 0; c < k; c++) w[row + c] = w[row + c]! + b * br.a[aRow + c]!;
    }
  }
  if (base.kind === "f32") return { kind: "f32", outFeatures: n, inFeatures: k, data: w };
  return quantizeLinear(w, n, k, { bits: base.bits, blockSize: base.blockSize });
}

function parseConfig(value: unknown, where: string): z.output<typeof AdapterConfigSchema> {
  const parsed = AdapterConfigSchema.safeParse(value);
  if (!parsed.success) throw new ModelFormatError(`${where}: not a LoRA adapter config:\n${z.prettifyError(parsed.error)}`, { details: { where } });
  return parsed.data;
}
