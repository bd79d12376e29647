import { pino } from "pino";
import type { Logger } from "../util/Logger.js";

/**
 * pino to stderr at debug level when verbose. Otherwise warnings and errors only, one plain line each
 * (`warning: <what> (<cause>)`), so a store that never answers (a wrong Redis password, port or db, a corrupt sqlite
 * file) is said once instead of looking like a silent success; stdout stays for command output.
 */
export function createCliLogger(verbose: boolean, stderr: { write(text: string): unknown } = process.stderr): Logger {
  if (verbose) return pino({ name: "kvlink", level: "debug" }, pino.destination(2));
  const line = (kind: string) => (obj: object, msg?: string): void => {
    const err = (obj as { err?: unknown }).err;
    const cause = err instanceof Error ? err.message : err === undefined ? "" : String(err);
    stderr.write(`${kind}: ${msg ?? ""}${cause ? ` (${cause})` : ""}\n`);
  };
  const noop = (): void => {};
  const logger: Logger = { debug: noop, info: noop, warn: line("warning"), error: line("error"), child: () => logger };
  return logger;
}
