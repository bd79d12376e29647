import { Command } from "commander";
import { resolveKvlinkHome } from "../../setup/ensureModel.js";
import { DEFAULT_PRESET_NAME, findModelPreset, MODEL_PRESETS } from "../../setup/modelPresets.js";
import { ensureModel } from "../../setup/ensureModel.js";
import { CliExit } from "../CliExit.js";
import { isVerbose } from "../commonOptions.js";
import { createCliLogger } from "../createCliLogger.js";
import { interruptSignal } from "../interruptSignal.js";
import { printJson } from "../printJson.js";
import { ProgressDisplay } from "../ProgressDisplay.js";
import { setupProgressUpdate } from "../setupProgressUpdate.js";

interface SetupFlags {
  model: string;
  gguf?: string;
  home?: string;
  keepGguf?: boolean;
  printDir?: boolean;
  json?: boolean;
}

/** `kvlink setup [--model <preset>]`: downloads and converts a preset once (idempotent, resumable), with progress on stderr. */
export function setupCommand(): Command {
  return new Command("setup")
    .description("download and convert a model preset (default smollm2-135m-instruct; see `kvlink models`); a no-op once done")
    .option("--model <preset>", `the preset: ${MODEL_PRESETS.map((p) => p.name).join(", ")}`, DEFAULT_PRESET_NAME)
    .option("--gguf <path>", "use this GGUF instead of downloading (checked against the preset's sha256)")
    .option("--home <dir>", "KVLINK_HOME (default $KVLINK_HOME, else ~/.cache/kvlink)")
    .option("--keep-gguf", "keep the GGUF as <home>/models/<folder>.gguf after converting")
    .option("--print-dir", "print only the model folder path on stdout")
    .option("--json", "print one JSON object {model_dir, prepared, seconds}")
    .action(async (flags: SetupFlags, command: Command) => {
      const preset = findModelPreset(flags.model);
      if (!preset) {
        process.stderr.write(`error: unknown preset "${flags.model}"; presets: ${MODEL_PRESETS.map((p) => p.name).join(", ")}\n`);
        throw new CliExit(2, "unknown preset");
      }
      const logger = createCliLogger(isVerbose(command));
      const display = new ProgressDisplay();
      const interrupt = interruptSignal();
      const t0 = performance.now();
      let modelDir: string;
      try {
        modelDir = await ensureModel(preset.source, {
          home: resolveKvlinkHome(flags.home),
          ...(flags.gguf !== undefined ? { gguf: flags.gguf } : {}),
          ...(flags.keepGguf ? { keepGguf: true } : {}),
          onProgress: (p) => display.update(setupProgressUpdate(p)),
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
