import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { InferenceSession } from "onnxruntime-node";
import { ExecutionProviderError } from "../errors/KvLinkError.js";
import type { ExecutionProvider } from "./Runtime.js";

/** Execution-provider settings that onnxruntime-node 1.30 can pass on (its CUDA binding takes only a device id). */
export interface ExecutionProviderSettings {
  /** GPU ordinal for cuda (default 0). */
  readonly deviceId?: number;
  /**
   * CUDA only: allow TF32 tensor-core math in cuBLAS (ORT's default, ~1e-3 relative error per MatMul). false sets
   * NVIDIA_TF32_OVERRIDE=0 in this process before the session is created, which makes cuBLAS and cuDNN use
   * full fp32; it is process-wide and is read when CUDA creates its handles, so set it before the first CUDA
   * session of the process. undefined leaves the environment as it is.
   */
  readonly tf32?: boolean;
}

/** The settings among `deviceId` and `tf32` that are given, or undefined when neither is (no key is set to undefined). */
export function providerSettingsOf(given: { readonly deviceId?: number | undefined; readonly tf32?: boolean | undefined }): ExecutionProviderSettings | undefined {
  if (given.deviceId === undefined && given.tf32 === undefined) return undefined;
  return { ...(given.deviceId !== undefined ? { deviceId: given.deviceId } : {}), ...(given.tf32 !== undefined ? { tf32: given.tf32 } : {}) };
}

/** Why a provider could not start. */
export type ExecutionProviderFailure =
  /** The provider's own libraries (libonnxruntime_providers_*.so) are not next to libonnxruntime.so.1. */
  | "providerLibraryMissing"
  /** The provider library is there but a library it links (CUDA, cuDNN, Vulkan) is not found. */
  | "dependencyMissing"
  /** Libraries load but no usable device (no GPU, no driver, no WebGPU adapter). */
  | "noDevice"
  /** onnxruntime-node does not know this provider name. */
  | "unknownProvider"
  | "other";

/** The executionProviders entry for ORT, with the settings it can take. */
export function ortExecutionProvider(ep: ExecutionProvider, settings: ExecutionProviderSettings = {}): InferenceSession.ExecutionProviderConfig {
  if (ep === "cuda") return { name: "cuda", deviceId: settings.deviceId ?? 0 };
  return ep;
}

/**
 * Applies the process-wide CUDA numerics (see ExecutionProviderSettings.tf32). Call on the main thread, before
 * a worker that creates the session starts: a worker's `process.env` is a copy, while cuBLAS reads the real one.
 */
export function applyCudaNumerics(settings: ExecutionProviderSettings, env: NodeJS.ProcessEnv = process.env): void {
  if (settings.tf32 === false) env["NVIDIA_TF32_OVERRIDE"] = "0";
}

/**
 * Classifies ONNX Runtime's message for a provider that failed to start. ORT reports these only as text, so
 * this is the one place that reads native messages; callers branch on the resulting `reason`.
 */
export function classifyExecutionProviderFailure(message: string, providerLibrariesPresent = true): ExecutionProviderFailure {
  if (/backend not found|is unsupported|not (?:a )?(?:supported|registered) (?:execution )?provider/i.test(message)) return "unknownProvider";
  const missingLibrary = /([\w.+-]+\.so(?:\.\d+)*): cannot open shared object file/.exec(message);
  if (missingLibrary) return /libonnxruntime_providers_/.test(missingLibrary[1]!) ? "providerLibraryMissing" : "dependencyMissing";
  // onnxruntime-node's CUDA binding throws only "Failed to load shared library" (the file is named in ORT's log).
  if (/Failed to load (?:shared )?library/i.test(message)) return providerLibrariesPresent ? "dependencyMissing" : "providerLibraryMissing";
  if (/no CUDA-capable device|cudaErrorNoDevice|CUDA driver version is insufficient|no supported adapters|Failed to get a WebGPU adapter/i.test(message)) {
    return "noDevice";
  }
  return "other";
}

const HINTS: Readonly<Record<ExecutionProviderFailure, (ep: string) => string>> = {
  providerLibraryMissing: (ep) =>
    ep === "cuda"
      ? "install it with `kvlink setup --gpu cuda` (fetches onnxruntime-gpu from PyPI, or --wheel <file>)"
      : `onnxruntime-node does not ship the ${ep} provider for this platform`,
  dependencyMissing: (ep) =>
    ep === "cuda"
      ? "`kvlink doctor` lists the missing CUDA 13 / cuDNN 9 libraries; install the nvidia-* wheels (e.g. pip install nvidia-cublas nvidia-cuda-runtime nvidia-curand) and add their lib folders to LD_LIBRARY_PATH"
      : "a library the provider needs is missing (for webgpu: the Vulkan loader and libglvnd)",
  noDevice: (ep) => (ep === "cuda" ? "no CUDA GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)" : "no GPU adapter is visible to the provider"),
  unknownProvider: () => "use cpu, webgpu or cuda",
  other: () => "run with KVLINK_DEBUG=1 for the native message's stack, and `kvlink doctor`",
};

/** The typed error for a provider that could not start, with `details.reason` and `details.hint`. */
export function executionProviderError(ep: ExecutionProvider, modelPath: string, cause: unknown): ExecutionProviderError {
  const message = cause instanceof Error ? cause.message : String(cause);
  const reason = classifyExecutionProviderFailure(message, providerLibrariesInstalled(ep));
  const hint = HINTS[reason](ep);
  return new ExecutionProviderError(`execution provider "${ep}" could not start for ${modelPath} (${reason}): ${firstLine(message)}. ${hint}`, {
    cause,
    details: { executionProvider: ep, modelPath, reason, hint },
  });
}

/** onnxruntime-node's version and the folder holding libonnxruntime.so.1 (where ORT looks for provider libraries). */
export function locateOnnxRuntimeNode(): { readonly version: string; readonly nativeDir: string } {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve("onnxruntime-node/package.json");
  const { version } = require(packageJson) as { version: string };
  return { version, nativeDir: join(dirname(packageJson), "bin", "napi-v6", process.platform, process.arch) };
}

/** The provider libraries ORT loads for `ep` from its native folder (none for the bundled cpu and webgpu). */
export function providerLibraryNames(ep: ExecutionProvider): readonly string[] {
  if (ep === "cuda" || ep === "tensorrt") return [`libonnxruntime_providers_${ep}.so`, "libonnxruntime_providers_shared.so"];
  return [];
}

function providerLibrariesInstalled(ep: ExecutionProvider): boolean {
  const names = providerLibraryNames(ep);
  if (names.length === 0) return true;
  const { nativeDir } = locateOnnxRuntimeNode();
  return names.every((n) => existsSync(join(nativeDir, n)));
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0]!.slice(0, 400);
}
