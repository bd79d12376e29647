import { readFile, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { makeDirectory } from "../util/makeDirectory.js";
import { z } from "zod";
import { InvalidInputError, ModelFormatError, ModelLoadError } from "../errors/KvLinkError.js";
import { hfConfigToSpec, specToHfConfig } from "./hfConfig.js";
import { numInputTokenIds, type ModelSpec } from "./ModelSpec.js";

/**
 * The model folder, in transformers.js' layout:
 *   config.json · generation_config.json · tokenizer.json · tokenizer_config.json
 *   onnx/model.onnx [+ onnx/model.onnx_data] · kvlink.json (optional, ours)
 */

/** What a LoRA adapter can be trained for (kvlink.json adapterTasks; engine/adapterPolicy.ts runs it there). */
export const ADAPTER_TASKS = ["documents", "tools"] as const;
export type AdapterTask = (typeof ADAPTER_TASKS)[number];

/** kvlink.json: which token ids are KVLink's link tokens (K per document slot) and the memory delimiters. */
export const KvLinkConfigSchema = z
  .strictObject({
    formatVersion: z.literal(1),
    numLinkTokens: z.number().int().nonnegative(),
    /** Per document slot, its K link-token ids. */
    linkTokenIds: z.array(z.array(z.number().int().nonnegative())),
    memStartTokenId: z.number().int().nonnegative().optional(),
    memEndTokenId: z.number().int().nonnegative().optional(),
    /** The LoRA adapter the folder was converted with (copied to the folder as `adapter`), and its sha256. */
    adapter: z.strictObject({ file: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/u) }).optional(),
    /** What the adapter was trained for (engine/adapterPolicy.ts); absent = ["documents"]. */
    adapterTasks: z.array(z.enum(ADAPTER_TASKS)).min(1).optional(),
  })
  .superRefine((value, ctx) => {
    value.linkTokenIds.forEach((ids, slot) => {
      if (ids.length !== value.numLinkTokens) {
        ctx.addIssue({
          code: "custom",
          path: ["linkTokenIds", slot],
          message: `slot ${slot} has ${ids.length} link token ids, expected numLinkTokens = ${value.numLinkTokens}`,
        });
      }
    });
  });
export type KvLinkConfig = z.output<typeof KvLinkConfigSchema>;

/** What an absent kvlink.json means: no link tokens. */
export const NO_KVLINK_CONFIG: KvLinkConfig = Object.freeze({ formatVersion: 1, numLinkTokens: 0, linkTokenIds: [] }) as KvLinkConfig;

const tokenIds = z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]);
/** generation_config.json: the fields we read; others are kept as they are. */
export const GenerationConfigSchema = z.looseObject({
  bos_token_id: z.number().int().nonnegative().nullish(),
  eos_token_id: tokenIds.nullish(),
  pad_token_id: z.number().int().nonnegative().nullish(),
  max_new_tokens: z.number().int().positive().nullish(),
  do_sample: z.boolean().nullish(),
  temperature: z.number().nonnegative().nullish(),
  top_k: z.number().int().nonnegative().nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  repetition_penalty: z.number().positive().nullish(),
});
export type GenerationConfig = z.output<typeof GenerationConfigSchema>;

export interface ModelFolderPaths {
  readonly dir: string;
  readonly config: string;
  /** Undefined when the folder has no generation_config.json. */
  readonly generationConfig: string | undefined;
  readonly tokenizerJson: string;
  readonly tokenizerConfig: string;
  readonly onnxModel: string;
  /** `onnx/<model>.onnx_data` when present. */
  readonly onnxExternalData: string | undefined;
  /** Undefined when the folder has no kvlink.json. */
  readonly kvlink: string | undefined;
}

export interface ModelFolder {
  readonly spec: ModelSpec;
  /** config.json as parsed, for fields the spec does not carry. */
  readonly config: Readonly<Record<string, unknown>>;
  /** `{}` when the folder has no generation_config.json. */
  readonly generationConfig: GenerationConfig;
  /** NO_KVLINK_CONFIG when the folder has no kvlink.json. */
  readonly kvlinkConfig: KvLinkConfig;
  readonly paths: ModelFolderPaths;
}

export interface ReadModelFolderOptions {
  /** File name under onnx/. Default "model.onnx". */
  readonly onnxFileName?: string;
}

/**
 * Reads and checks a model folder's JSON files and locates its ONNX files (their bytes are not read).
 * ModelLoadError when a required file is missing or unreadable, ModelFormatError when a JSON file is
 * corrupt or inconsistent (each names the file); UnsupportedModelError / RopeUnsupportedError from config.json.
 */
export async function readModelFolder(dir: string, options: ReadModelFolderOptions = {}): Promise<ModelFolder> {
  const onnxFileName = options.onnxFileName ?? "model.onnx";
  const folderStat = await stat(dir).catch((error: unknown) => {
    throw new ModelLoadError(`model folder ${dir} cannot be read: ${errorMessage(error)}`, { cause: error, details: { dir } });
  });
  if (!folderStat.isDirectory()) throw new ModelLoadError(`model folder ${dir} is not a directory`, { details: { dir } });

  const configPath = join(dir, "config.json");
  const config = await readJsonFile(configPath);
  const spec = hfConfigToSpec(config, configPath);

  const tokenizerJson = join(dir, "tokenizer.json");
  const tokenizerConfig = join(dir, "tokenizer_config.json");
  const onnxModel = join(dir, "onnx", onnxFileName);
  for (const required of [tokenizerJson, tokenizerConfig, onnxModel]) {
    if (!(await fileExists(required))) throw new ModelLoadError(`model folder file missing: ${required}`, { details: { file: required } });
  }
  const optional = async (path: string): Promise<string | undefined> => ((await fileExists(path)) ? path : undefined);
  const paths: ModelFolderPaths = {
    dir,
    config: configPath,
    generationConfig: await optional(join(dir, "generation_config.json")),
    tokenizerJson,
    tokenizerConfig,
    onnxModel,
    onnxExternalData: await optional(join(dir, "onnx", `${onnxFileName}_data`)),
    kvlink: await optional(join(dir, "kvlink.json")),
  };

  const generationConfig =
    paths.generationConfig === undefined
      ? {}
      : parseWith(GenerationConfigSchema, await readJsonFile(paths.generationConfig), paths.generationConfig, ModelFormatError);
  const kvlinkConfig =
    paths.kvlink === undefined
      ? NO_KVLINK_CONFIG
      : parseWith(KvLinkConfigSchema, await readJsonFile(paths.kvlink), paths.kvlink, ModelFormatError);
  const idsToCheck = [
    ...kvlinkConfig.linkTokenIds.flat(),
    ...(kvlinkConfig.memStartTokenId === undefined ? [] : [kvlinkConfig.memStartTokenId]),
    ...(kvlinkConfig.memEndTokenId === undefined ? [] : [kvlinkConfig.memEndTokenId]),
  ];
  const numIds = numInputTokenIds(spec);
  const outOfVocab = idsToCheck.find((id) => id >= numIds);
  if (outOfVocab !== undefined) {
    throw new ModelFormatError(
      `${paths.kvlink}: token id ${outOfVocab} is outside the model's input ids (vocab_size ${spec.vocabSize} + ${spec.numExtraEmbeddings ?? 0} extra embeddings)`,
      { details: { file: paths.kvlink, tokenId: outOfVocab, vocabSize: spec.vocabSize, numExtraEmbeddings: spec.numExtraEmbeddings ?? 0 } },
    );
  }
  return { spec, config, generationConfig, kvlinkConfig, paths };
}

export interface WriteModelFolderInput {
  readonly spec: ModelSpec;
  readonly onnx: {
    readonly model: Uint8Array;
    /** The external-data file the ONNX model refers to (written under onnx/). */
    readonly externalData?: { readonly fileName: string; readonly bytes: Uint8Array };
  };
  readonly tokenizerJson: Readonly<Record<string, unknown>>;
  readonly tokenizerConfig: Readonly<Record<string, unknown>>;
  /** bos/eos ids here are also written into config.json. */
  readonly generationConfig: z.input<typeof GenerationConfigSchema>;
  readonly kvlink?: z.input<typeof KvLinkConfigSchema>;
}

/**
 * Writes a model folder that readModelFolder and transformers.js both load (onnx/model.onnx, and
 * `use_external_data_format` in config.json when the external data is onnx/model.onnx_data). Creates `dir`;
 * overwrites files of the same names. Returns the written paths.
 */
export async function writeModelFolder(dir: string, input: WriteModelFolderInput): Promise<ModelFolderPaths> {
  const generationConfig = parseWith(GenerationConfigSchema, input.generationConfig, "writeModelFolder generationConfig", InvalidInputError);
  const kvlink =
    input.kvlink === undefined ? undefined : parseWith(KvLinkConfigSchema, input.kvlink, "writeModelFolder kvlink", InvalidInputError);
  const external = input.onnx.externalData;
  if (external !== undefined && (basename(external.fileName) !== external.fileName || external.fileName === "model.onnx")) {
    throw new InvalidInputError(`writeModelFolder: externalData.fileName must be a plain file name, got "${external.fileName}"`, {
      details: { fileName: external.fileName },
    });
  }
  const config = specToHfConfig(input.spec, {
    ...(generationConfig.bos_token_id != null ? { bosTokenId: generationConfig.bos_token_id } : {}),
    ...(generationConfig.eos_token_id != null ? { eosTokenId: generationConfig.eos_token_id } : {}),
    ...(generationConfig.pad_token_id != null ? { padTokenId: generationConfig.pad_token_id } : {}),
    ...(external?.fileName === "model.onnx_data" ? { transformersJsConfig: { use_external_data_format: true } } : {}),
  });

  const paths: ModelFolderPaths = {
    dir,
    config: join(dir, "config.json"),
    generationConfig: join(dir, "generation_config.json"),
    tokenizerJson: join(dir, "tokenizer.json"),
    tokenizerConfig: join(dir, "tokenizer_config.json"),
    onnxModel: join(dir, "onnx", "model.onnx"),
    onnxExternalData: external === undefined ? undefined : join(dir, "onnx", external.fileName),
    kvlink: kvlink === undefined ? undefined : join(dir, "kvlink.json"),
  };
  try {
    await makeDirectory(join(dir, "onnx"));
    const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
    await writeFile(paths.config, json(config));
    await writeFile(paths.generationConfig as string, json(generationConfig));
    await writeFile(paths.tokenizerJson, JSON.stringify(input.tokenizerJson));
    await writeFile(paths.tokenizerConfig, json(input.tokenizerConfig));
    await writeFile(paths.onnxModel, input.onnx.model);
    if (external !== undefined) await writeFile(paths.onnxExternalData as string, external.bytes);
    if (kvlink !== undefined) await writeFile(paths.kvlink as string, json(kvlink));
  } catch (error) {
    throw new ModelLoadError(`writeModelFolder: cannot write model folder ${dir}: ${errorMessage(error)}`, {
      cause: error,
      details: { dir },
    });
  }
  return paths;
}

async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ModelLoadError(`cannot read ${path}: ${errorMessage(error)}`, { cause: error, details: { file: path } });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ModelFormatError(`${path} is not valid JSON: ${errorMessage(error)}`, { cause: error, details: { file: path } });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ModelFormatError(`${path}: expected a JSON object, got ${Array.isArray(value) ? "an array" : typeof value}`, {
      details: { file: path },
    });
  }
  return value as Record<string, unknown>;
}

function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: string,
  ErrorClass: typeof ModelFormatError | typeof InvalidInputError,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ErrorClass(`${where} is invalid:\n${z.prettifyError(parsed.error)}`, { cause: parsed.error, details: { file: where } });
  }
  return parsed.data;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
