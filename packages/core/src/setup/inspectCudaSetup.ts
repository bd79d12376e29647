import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { locateOnnxRuntimeNode, providerLibraryNames } from "../runtime/executionProvider.js";
import { CUDA_OPTIONAL_LIBRARIES, cudaLibrarySource, findNvidiaWheelLibDirs } from "./cudaLibraryHints.js";
import { readLoaderCache, resolveSharedLibraries, splitPath, type ResolvedLibrary } from "./resolveSharedLibraries.js";

const DRIVER_LIB_DIRS = ["/usr/local/nvidia/lib64", "/usr/lib/wsl/lib"];

export interface CudaDependency extends ResolvedLibrary {
  /** Where to get it when missing (a pip requirement, or the driver). */
  readonly source?: string;
  /** A folder of an installed nvidia-* wheel (or a driver folder) that holds it: missing from the loader's path only. */
  readonly foundIn?: string;
}

/** What `kvlink doctor` prints about the CUDA provider: its libraries, what they need, and the GPU. */
export interface CudaSetupReport {
  readonly onnxRuntimeNode: { readonly version: string; readonly nativeDir: string };
  /** The provider's own libraries next to libonnxruntime.so.1 (path absent: not installed). */
  readonly providerLibraries: readonly { readonly name: string; readonly path?: string; readonly sizeBytes?: number }[];
  /** Every library the CUDA provider links, transitively (empty when it is not installed). */
  readonly dependencies: readonly CudaDependency[];
  /** Libraries loaded only by some ops (cuDNN). */
  readonly optional: readonly CudaDependency[];
  readonly libraryPath: readonly string[];
  /** LD_LIBRARY_PATH that would find the missing libraries in installed nvidia-* wheels; absent when none helps. */
  readonly suggestedLibraryPath?: string;
  readonly gpu: { readonly visible: boolean; readonly devices: readonly string[] };
  /** Installed, nothing required missing, and a GPU visible. */
  readonly ready: boolean;
}

export interface InspectCudaSetupOptions {
  readonly onnxRuntime?: { readonly version: string; readonly nativeDir: string };
  readonly libraryPath?: readonly string[];
  readonly loaderCache?: ReadonlyMap<string, string>;
  readonly systemDirs?: readonly string[];
  /**
   * Folders to look in for missing libraries; default: the lib folders of python3's / python's nvidia-* wheels,
   * then driver folders that containers mount (/usr/local/nvidia/lib64, WSL's /usr/lib/wsl/lib).
   */
  readonly wheelLibDirs?: readonly string[];
  /** Default /proc/driver/nvidia/gpus and /dev. */
  readonly procGpuDir?: string;
  readonly devDir?: string;
}

/** Inspects the CUDA provider's installation without loading it (so a broken setup cannot crash the process). */
export function inspectCudaSetup(options: InspectCudaSetupOptions = {}): CudaSetupReport {
  const onnxRuntimeNode = options.onnxRuntime ?? locateOnnxRuntimeNode();
  const libraryPath = options.libraryPath ?? splitPath(process.env["LD_LIBRARY_PATH"]);
  const loaderCache = options.loaderCache ?? readLoaderCache();
  const resolveOptions = { libraryPath, loaderCache, ...(options.systemDirs ? { systemDirs: options.systemDirs } : {}) };
  const providerLibraries = providerLibraryNames("cuda").map((name) => {
    const path = join(onnxRuntimeNode.nativeDir, name);
    return existsSync(path) ? { name, path, sizeBytes: statSync(path).size } : { name };
  });
  const cudaProvider = providerLibraries[0]?.path;
  const resolved = cudaProvider !== undefined ? resolveSharedLibraries([cudaProvider], resolveOptions) : [];
  const optionalResolved = CUDA_OPTIONAL_LIBRARIES.map((name) => findOne(name, libraryPath, loaderCache, options.systemDirs));
  const anyMissing = [...resolved, ...optionalResolved].some((d) => d.path === undefined);
  const wheelDirs = anyMissing ? (options.wheelLibDirs ?? [...findNvidiaWheelLibDirs(), ...DRIVER_LIB_DIRS]) : [];
  const annotate = (d: ResolvedLibrary): CudaDependency => {
    if (d.path !== undefined) return d;
    const source = cudaLibrarySource(d.name);
    const foundIn = wheelDirs.find((dir) => existsSync(join(dir, d.name)));
    return { ...d, ...(source !== undefined ? { source } : {}), ...(foundIn !== undefined ? { foundIn } : {}) };
  };
  const dependencies = resolved.map(annotate);
  const optional = optionalResolved.map(annotate);
  const extraDirs = [...new Set([...dependencies, ...optional].flatMap((d) => (d.foundIn !== undefined ? [d.foundIn] : [])))];
  const gpu = findGpus(options.procGpuDir ?? "/proc/driver/nvidia/gpus", options.devDir ?? "/dev");
  return {
    onnxRuntimeNode,
    providerLibraries,
    dependencies,
    optional,
    libraryPath,
    ...(extraDirs.length > 0 ? { suggestedLibraryPath: [...extraDirs, ...libraryPath].join(":") } : {}),
    gpu,
    ready: providerLibraries.every((l) => l.path !== undefined) && dependencies.every((d) => d.path !== undefined) && gpu.visible,
  };
}

function findOne(name: string, libraryPath: readonly string[], cache: ReadonlyMap<string, string>, systemDirs?: readonly string[]): ResolvedLibrary {
  const dirs = [...libraryPath, ...(systemDirs ?? ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"])];
  const inDir = dirs.find((d) => existsSync(join(d, name)));
  const path = inDir !== undefined ? join(inDir, name) : cache.get(name);
  return { name, neededBy: [], ...(path !== undefined ? { path } : {}) };
}

/** NVIDIA GPUs the driver shows: /proc/driver/nvidia/gpus/<pci>/information ("Model: …"), else /dev/nvidia<N>. */
function findGpus(procGpuDir: string, devDir: string): { visible: boolean; devices: string[] } {
  if (existsSync(procGpuDir)) {
    const devices = readdirSync(procGpuDir).map((pci) => {
      const info = join(procGpuDir, pci, "information");
      const model = existsSync(info) ? /^Model:\s*(.+)$/m.exec(readFileSync(info, "utf8"))?.[1]?.trim() : undefined;
      return model !== undefined ? `${model} (${pci})` : pci;
    });
    if (devices.length > 0) return { visible: true, devices };
  }
  const nodes = existsSync(devDir) ? readdirSync(devDir).filter((n) => /^nvidia\d+$/.test(n)) : [];
  return { visible: nodes.length > 0, devices: nodes.map((n) => join(devDir, n)) };
}
