import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * The PyPI wheel that ships each CUDA 13 / cuDNN 9 library the onnxruntime-gpu 1.30 CUDA provider links
 * (its DT_NEEDED, plus cuDNN, which it loads for the ops that need it). The names follow onnxruntime-gpu's own
 * `cuda` and `cudnn` extras; cuBLAS has its own wheel.
 */
const SONAME_PREFIX_TO_WHEEL: readonly (readonly [RegExp, string])[] = [
  [/^libcudart\.so\.13/, "nvidia-cuda-runtime~=13.0"],
  [/^libcublas(Lt)?\.so\.13/, "nvidia-cublas~=13.0"],
  [/^libcurand\.so\.10/, "nvidia-curand~=10.0"],
  [/^libcufft\.so\.12/, "nvidia-cufft~=12.0"],
  [/^libnvrtc\.so\.13/, "nvidia-cuda-nvrtc~=13.0"],
  [/^libcudnn.*\.so\.9/, "nvidia-cudnn-cu13~=9.0"],
];

/** Libraries the provider opens only when an op needs them (not in its DT_NEEDED): reported, never required. */
export const CUDA_OPTIONAL_LIBRARIES: readonly string[] = ["libcudnn.so.9"];

/** Where to get a missing library: a pip requirement, or the driver for libcuda. */
export function cudaLibrarySource(soname: string): string | undefined {
  if (/^libcuda\.so/.test(soname)) return "the NVIDIA driver (not a wheel): install the driver, or mount it into the container";
  for (const [pattern, wheel] of SONAME_PREFIX_TO_WHEEL) if (pattern.test(soname)) return `pip install "${wheel}"`;
  return undefined;
}

/**
 * The `lib` folders of the nvidia-* wheels installed for each Python (site-packages/nvidia/<pkg>/lib, e.g.
 * nvidia/cu13/lib and nvidia/cudnn/lib, which PyTorch installs too). Pythons that are missing, or have no
 * `nvidia` package, add nothing.
 */
export function findNvidiaWheelLibDirs(pythonCommands: readonly string[] = ["python3", "python"]): string[] {
  const dirs = new Set<string>();
  for (const python of pythonCommands) {
    const result = spawnSync(python, ["-c", "import nvidia; print('\\n'.join(nvidia.__path__))"], { encoding: "utf8", timeout: 20_000 });
    if (result.status !== 0 || typeof result.stdout !== "string") continue;
    for (const root of result.stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "")) {
      for (const dir of libDirsUnder(root)) dirs.add(dir);
    }
  }
  return [...dirs];
}

/** `<root>/<pkg>/lib` folders that hold at least one shared library. */
export function libDirsUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  const found: string[] = [];
  for (const pkg of readdirSync(root, { withFileTypes: true })) {
    if (!pkg.isDirectory()) continue;
    const lib = join(root, pkg.name, "lib");
    if (existsSync(lib) && readdirSync(lib).some((f) => /\.so(\.\d+)*$/.test(f))) found.push(lib);
  }
  return found.sort();
}
