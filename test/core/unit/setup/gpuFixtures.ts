import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** A file of test/fixtures/gpu (made by its make-fixtures.sh). */
export function gpuFixture(...parts: string[]): string {
  return join(dirname(fileURLToPath(import.meta.url)), "../../../fixtures/gpu", ...parts);
}

/** The fake wheel's file name (the real wheel's name for onnxruntime-gpu 1.30.0 on Linux x86-64, CPython 3.12). */
export const FAKE_WHEEL = "onnxruntime_gpu-1.30.0-cp312-cp312-manylinux_2_28_x86_64.whl";
