import { stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { ModelLoadError } from "../errors/KvLinkError.js";
import { ensureModel, resolveKvlinkHome, type EnsureModelOptions, type WheelModelSource } from "./ensureModel.js";
import { DEFAULT_PRESET_NAME, findModelPreset, MODEL_PRESETS, type ModelPreset } from "./modelPresets.js";
import { sha256FilesCached } from "./sha256FilesCached.js";

export type ResolveModelOptions = Omit<EnsureModelOptions, "gguf">;

/** Sets up a preset (download, check, convert on first use, with its shipped adapter if any) and returns its model folder. */
export async function ensurePresetModel(preset: ModelPreset, options: ResolveModelOptions = {}): Promise<string> {
  return ensureModel(preset.source, options);
}

/**
 * The model folder for what `--model` (or KvLinkEngine's `model` option) names:
 * - undefined: the default preset (smollm2-135m-instruct);
 * - a preset name (`MODEL_PRESETS`): set up on first use;
 * - a `.gguf` file: converted once into `<home>/models/gguf-<sha256 prefix>` (the hash is cached by size and mtime);
 * - anything else: a model folder, resolved against the working directory.
 */
export async function resolveModel(model: string | undefined, options: ResolveModelOptions = {}): Promise<string> {
  const preset = findModelPreset(model ?? DEFAULT_PRESET_NAME);
  if (preset) return ensurePresetModel(preset, options);
  const path = resolve(model!);
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (cause) {
    throw new ModelLoadError(
      `model "${model}" is neither a preset (${MODEL_PRESETS.map((p) => p.name).join(", ")}) nor an existing folder or .gguf file`,
      { cause, details: { model, presets: MODEL_PRESETS.map((p) => p.name) } },
    );
  }
  if (!isFile) return path;
  if (!path.endsWith(".gguf")) {
    throw new ModelLoadError(`model file ${path} is not a .gguf; pass a model folder, a .gguf file or a preset name`, { details: { model: path } });
  }
  const home = resolveKvlinkHome(options.home);
  const sha256 = await sha256FilesCached([path], join(home, "models", `.gguf-hashes.json`)).catch(async () => sha256FilesCached([path], "/dev/null"));
  const source: WheelModelSource = {
    folderName: `gguf-${sha256.slice(0, 16)}`,
    requirement: "",
    wheelFileName: "",
    wheelSha256: "",
    ggufEntry: basename(path),
    ggufSha256: sha256,
  };
  return ensureModel(source, { ...options, home, gguf: path });
}
