import { access } from "node:fs/promises";
import { InferenceSession } from "onnxruntime-node";
import { ModelFormatError, ModelLoadError } from "../errors/KvLinkError.js";
import { executionProviderError, ortExecutionProvider, type ExecutionProviderSettings } from "./executionProvider.js";
import type { ExecutionProvider } from "./Runtime.js";

export interface OrtSessionOptions {
  readonly executionProvider: ExecutionProvider;
  readonly numThreads: number;
  readonly providerSettings?: ExecutionProviderSettings;
}

/**
 * Opens an ONNX model with explicit threads and execution provider. A missing file or an EP that cannot load
 * is a ModelLoadError, an EP that cannot start an ExecutionProviderError (with the reason and a hint); a file
 * ORT cannot parse on the CPU EP is a ModelFormatError.
 */
export async function createOrtSession(modelPath: string, options: OrtSessionOptions): Promise<InferenceSession> {
  try {
    await access(modelPath);
  } catch (cause) {
    throw new ModelLoadError(`model file ${modelPath} is missing or unreadable`, { cause, details: { modelPath } });
  }
  if (!Number.isInteger(options.numThreads) || options.numThreads < 1) {
    throw new ModelLoadError(`numThreads must be a positive integer, got ${options.numThreads}`, { details: { numThreads: options.numThreads } });
  }
  const ep = options.executionProvider;
  try {
    return await InferenceSession.create(modelPath, {
      executionProviders: [ortExecutionProvider(ep, options.providerSettings)],
      intraOpNumThreads: options.numThreads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      // Shapes change every step; the memory-pattern planner would grow native memory without bound.
      enableMemPattern: false,
    });
  } catch (cause) {
    if (ep !== "cpu") throw executionProviderError(ep, modelPath, cause);
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new ModelFormatError(`ONNX Runtime could not load ${modelPath}: ${message}`, { cause, details: { modelPath } });
  }
}
