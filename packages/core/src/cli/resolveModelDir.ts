import { resolveModel } from "../setup/resolveModel.js";
import type { Logger } from "../util/Logger.js";
import { ProgressDisplay } from "./ProgressDisplay.js";
import { setupProgressUpdate } from "./setupProgressUpdate.js";

/**
 * The model folder a command runs on: `--model <preset|folder|file.gguf>` (default: the default preset), set up
 * or converted on first use with progress on stderr; at once and offline afterwards.
 */
export async function resolveModelDir(model: string | undefined, options: { readonly logger: Logger; readonly signal?: AbortSignal }): Promise<string> {
  const display = new ProgressDisplay();
  try {
    return await resolveModel(model, {
      logger: options.logger,
      onProgress: (p) => display.update(setupProgressUpdate(p)),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    display.stop();
  }
}
