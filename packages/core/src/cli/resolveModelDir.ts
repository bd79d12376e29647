import { resolve } from "node:path";
import { ensureDefaultModel } from "../setup/ensureDefaultModel.js";
import type { Logger } from "../util/Logger.js";
import { ProgressDisplay } from "./ProgressDisplay.js";

/**
 * The model folder a command runs on: `--model <dir>` resolved against the working directory, else the default
 * model (downloaded and converted on first use, with progress on stderr; at once and offline afterwards).
 */
export async function resolveModelDir(model: string | undefined, options: { readonly logger: Logger; readonly signal?: AbortSignal }): Promise<string> {
  if (model !== undefined) return resolve(model);
  const display = new ProgressDisplay();
  try {
    return await ensureDefaultModel({
      logger: options.logger,
      onProgress: (p) => display.update({ phase: p.phase, done: p.done, total: p.total, ...(p.phase === "extract" ? { detail: "bytes" } : {}) }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    display.stop();
  }
}
