import { join } from "node:path";
import { Command } from "commander";
import { installCudaProvider } from "../../setup/installCudaProvider.js";
import { inspectCudaSetup } from "../../setup/inspectCudaSetup.js";
import { formatCudaReport } from "./doctorCommand.js";
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
  gpu?: string;
  wheel?: string;
  providerDir?: string;
  sha256?: string;
  check?: boolean;
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
    .option("--gpu <provider>", "install a GPU execution provider instead of a model: cuda (onnxruntime-gpu of onnxruntime-node's version, from PyPI)")
    .option("--wheel <file>", "with --gpu cuda: install from this onnxruntime-gpu wheel (no download)")
    .option("--provider-dir <dir>", "with --gpu cuda: copy the two provider libraries from this folder (not verified)")
    .option("--sha256 <hex>", "with --gpu cuda --wheel: the wheel's expected sha256 (else the registry's, when reachable)")
    .option("--check", "with --gpu cuda: install nothing, report what is found (as kvlink doctor --no-probe)")
    .action(async (flags: SetupFlags, command: Command) => {
      if (flags.gpu !== undefined) {
        await setupGpu(flags, isVerbose(command));
        return;
      }
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

/** `setup --gpu cuda`: installs (or with --check only inspects) the CUDA provider, then reports its libraries. */
async function setupGpu(flags: SetupFlags, verbose: boolean): Promise<void> {
  if (flags.gpu !== "cuda") {
    process.stderr.write(`error: --gpu ${flags.gpu}: only cuda needs installing (webgpu ships with onnxruntime-node)\n`);
    throw new CliExit(2, "unknown --gpu");
  }
  if (!flags.check) {
    const logger = createCliLogger(verbose);
    const display = new ProgressDisplay();
    const interrupt = interruptSignal();
    try {
      const result = await installCudaProvider({
        downloadDir: join(resolveKvlinkHome(flags.home), "downloads"),
        ...(flags.wheel !== undefined ? { wheel: flags.wheel } : {}),
        ...(flags.providerDir !== undefined ? { providerDir: flags.providerDir } : {}),
        ...(flags.sha256 !== undefined ? { expectedSha256: flags.sha256 } : {}),
        onProgress: (p) => display.update({ phase: p.phase, done: p.done, total: p.total }),
        signal: interrupt.signal,
        logger,
      });
      display.stop();
      if (flags.json) printJson({ ...result });
      else {
        const from = result.wheel !== undefined ? `${result.wheel} (sha256 ${result.wheelSha256?.slice(0, 16)}…, verified: ${result.verification})` : `${flags.providerDir} (not verified)`;
        process.stdout.write(`installed the cuda provider for onnxruntime-node ${result.version} from ${from}:\n`);
        for (const lib of result.libraries) process.stdout.write(`  ${lib.path} (${(lib.sizeBytes / 2 ** 20).toFixed(1)} MiB)\n`);
      }
    } finally {
      display.stop();
      interrupt.dispose();
    }
  }
  const report = inspectCudaSetup();
  if (flags.json && flags.check) printJson({ ...report });
  else if (!flags.json) process.stdout.write(formatCudaReport(report));
}
