import { Command } from "commander";
import { join } from "node:path";
import { isModelSetUp, resolveKvlinkHome } from "../../setup/ensureModel.js";
import { DEFAULT_PRESET_NAME, MODEL_PRESETS } from "../../setup/modelPresets.js";
import { printJson } from "../printJson.js";

interface ModelsFlags {
  home?: string;
  json?: boolean;
}

/** `kvlink models`: the presets with their GGUF size and whether each is set up. */
export function modelsCommand(): Command {
  return new Command("models")
    .description("list the model presets (`--model <name>`), their size and whether they are installed")
    .option("--home <dir>", "KVLINK_HOME (default $KVLINK_HOME, else ~/.cache/kvlink)")
    .option("--json", "print {models: [{name, size_bytes, installed, default, dir, description}]}")
    .action(async (flags: ModelsFlags) => {
      const home = resolveKvlinkHome(flags.home);
      const rows = await Promise.all(
        MODEL_PRESETS.map(async (p) => ({
          name: p.name,
          size_bytes: p.ggufSizeBytes,
          installed: await isModelSetUp(p.source, home),
          default: p.name === DEFAULT_PRESET_NAME,
          dir: join(home, "models", p.source.folderName),
          description: p.description,
        })),
      );
      if (flags.json) {
        printJson({ models: rows });
        return;
      }
      const width = Math.max(...rows.map((r) => r.name.length));
      for (const r of rows) {
        const size = `${(r.size_bytes / 2 ** 20).toFixed(0)} MiB`.padStart(9);
        const state = (r.installed ? "installed" : "not installed").padEnd(13);
        process.stdout.write(`${r.name.padEnd(width)}  ${size}  ${state}  ${r.description}${r.default ? " [default]" : ""}\n`);
      }
    });
}
