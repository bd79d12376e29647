import type { Logger } from "../../../../packages/core/src/util/Logger.js";

/** A Logger that keeps what it is given, so tests can count warnings. */
export function recordingLogger(): Logger & { warnings: unknown[]; infos: unknown[] } {
  const warnings: unknown[] = [];
  const infos: unknown[] = [];
  const logger = {
    warnings, infos,
    debug: () => {},
    info: (obj: object) => void infos.push(obj),
    warn: (obj: object) => void warnings.push(obj),
    error: (obj: object) => void warnings.push(obj),
    child: () => logger,
  };
  return logger;
}
