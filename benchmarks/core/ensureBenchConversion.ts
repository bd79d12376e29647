import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CONVERTER_VERSION, resolveKvlinkHome } from "../../packages/core/src/setup/ensureModel.js";

/**
 * A benchmark's or script's own model conversion, `<KVLINK_HOME>/models/<folder>`, built once per converter
 * version by `convert(outDir)` into a temporary folder and renamed into place (a marker file is written last).
 */
export async function ensureBenchConversion(folder: string, log: (m: string) => void, convert: (outDir: string) => Promise<unknown>): Promise<string> {
  const modelsDir = join(resolveKvlinkHome(), "models");
  const dir = join(modelsDir, folder);
  const marker = join(dir, `.kvlink-bench-complete-v${CONVERTER_VERSION}.json`);
  if (existsSync(marker)) return dir;
  log(`converting ${dir} (once per converter version)`);
  await mkdir(modelsDir, { recursive: true });
  const work = await mkdtemp(join(modelsDir, `.${folder}.tmp-`));
  try {
    const out = join(work, "model");
    await convert(out);
    await writeFile(join(out, `.kvlink-bench-complete-v${CONVERTER_VERSION}.json`), `${JSON.stringify({ folder, createdAt: new Date().toISOString() })}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(out, dir);
    return dir;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
