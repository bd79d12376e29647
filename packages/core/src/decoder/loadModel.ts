import { DecoderModel, type LoadModelOptions } from "./DecoderModel.js";

/**
 * Loads a model folder (config.json, tokenizer files, onnx/model.onnx; see model/modelFolder.ts): starts the
 * runtime, detects the graph signature. ModelLoadError for missing files or an execution provider that cannot
 * load, ModelFormatError for corrupt ones.
 */
export function loadModel(dir: string, options: LoadModelOptions = {}): Promise<DecoderModel> {
  return DecoderModel.load(dir, options);
}
