import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { KvLinkError } from "../errors/KvLinkError.js";
import { CliExit } from "./CliExit.js";
import { InterruptedError, wasInterrupted } from "./interruptSignal.js";
import { askCommand } from "./commands/askCommand.js";
import { benchCommand } from "./commands/benchCommand.js";
import { cacheCommand } from "./commands/cacheCommand.js";
import { chatCommand } from "./commands/chatCommand.js";
import { convertCommand } from "./commands/convertCommand.js";
import { doctorCommand } from "./commands/doctorCommand.js";
import { generateCommand } from "./commands/generateCommand.js";
import { precomputeCommand } from "./commands/precomputeCommand.js";
import { modelsCommand } from "./commands/modelsCommand.js";
import { setupCommand } from "./commands/setupCommand.js";
import { tinyModelCommand } from "./commands/tinyModelCommand.js";
import { workerCommand } from "./commands/workerCommand.js";

/** The package version, from packages/core/package.json (same relative place from src/cli and dist/cli). */
function packageVersion(): string {
  const json = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
  return json.version ?? "unknown";
}

/** Builds the `kvlink` program (commands registered, not yet parsed). */
export function createProgram(): Command {
  const program = new Command("kvlink")
    .description("share precomputed document KV caches between LLM calls (KVLink) on ONNX Runtime")
    .version(packageVersion())
    .option("--verbose", "log to stderr (pino)")
    .showHelpAfterError()
    .exitOverride();
  program.addCommand(setupCommand());
  program.addCommand(modelsCommand());
  program.addCommand(doctorCommand());
  program.addCommand(convertCommand());
  program.addCommand(generateCommand());
  program.addCommand(chatCommand());
  program.addCommand(askCommand());
  program.addCommand(precomputeCommand());
  program.addCommand(workerCommand());
  program.addCommand(cacheCommand());
  program.addCommand(tinyModelCommand());
  program.addCommand(benchCommand());
  exitOverrideAll(program.commands);
  return program;
}

/** commander exits the process by default; every (sub)command throws instead, so runCli returns the code. */
function exitOverrideAll(commands: readonly Command[]): void {
  for (const command of commands) {
    command.exitOverride();
    exitOverrideAll(command.commands);
  }
}

/** Prints `error: <message> (<code>)` to stderr (the stack only with KVLINK_DEBUG=1) and returns the exit code. */
export function reportError(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode; // commander already printed it (or it is --help/--version)
  if (error instanceof CliExit) return error.exitCode; // the command printed its outcome
  if (error instanceof InterruptedError || wasInterrupted()) {
    process.stderr.write("interrupted\n");
    return 130; // 128 + SIGINT, as shells expect
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof KvLinkError ? ` (${error.code})` : "";
  process.stderr.write(`error: ${message}${code}\n`);
  if (process.env["KVLINK_DEBUG"] === "1" && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return 1;
}

/** Parses `argv` (process.argv form) and runs the command; resolves to the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    await createProgram().parseAsync([...argv]);
    return 0;
  } catch (error) {
    return reportError(error);
  }
}
