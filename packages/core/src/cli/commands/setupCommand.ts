import { Command } from "commander";
import { ensureDefaultModel } from "../../setup/ensureDefaultModel.js";
import { resolveKvlinkHome } from "../../setup/ensureModel.js";
import { isVerbose } from "../commonOptions.js";
import { createCliLogger } from "../createCliLogger.js";
import { interruptSignal } from "../interruptSignal.js";
import { printJson } from "../printJson.js";
import { ProgressDisplay } from "../ProgressDisplay.js";

interface SetupFlags {
  gguf?: string;
  home?: string;
  printDir?: boolean;
  json?: boolean;
}

/** `kvlink setup`: downloads and converts the default model once (idempotent), with progress on stderr. */
export function setupCommand(): Command {
  return new Command("setup")
    .description("download and convert the default model (SmolLM2-135M-Instruct, 4-bit, KVLink signature); a no-op once done")
    .option("--gguf <path>", "use this SmolLM2-135M-Instruct.Q4_1.gguf instead of downloading (checked by sha256)")
    .option("--home <dir>", "KVLINK_HOME (default $KVLINK_HOME, else ~/.cache/kvlink)")
    .option("--print-dir", "print only the model folder path on stdout")
    .option("--json", "print one JSON object {model_dir, prepared, seconds}")
    .action(async (flags: SetupFlags, command: Command) => {
      const logger = createCliLogger(isVerbose(command));
      const display = new ProgressDisplay();
      const interrupt = interruptSignal();
      const t0 = performance.now();
      let modelDir: string;
      try {
        modelDir = await ensureDefaultModel({
          home: resolveKvlinkHome(flags.home),
          ...(flags.gguf !== undefined ? { gguf: flags.gguf } : {}),
          onProgress: (p) => display.update({ phase: p.phase, done: p.done, total: p.total }),
          signal: interrupt.signal,
          logger,
        });
      } finally {
        display.stop();
        interrupt.dispose();
      }
      const seconds = (performance.now() - t0) / 1000;
      if (flags.printDir) process.stdout.write(`${modelDir}\n`);
      else if (flags.json) printJson({ model_dir: modelDir, prepared: display.started, seconds });
      else process.stdout.write(`${display.started ? "model ready" : "model already set up"}: ${modelDir}\n`);
    });
}
