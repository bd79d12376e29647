import { pino } from "pino";
import { silentLogger, type Logger } from "../util/Logger.js";

/** pino to stderr at debug level when verbose, else silent; stdout stays for command output. */
export function createCliLogger(verbose: boolean): Logger {
  if (!verbose) return silentLogger;
  return pino({ name: "kvlink", level: "debug" }, pino.destination(2));
}
