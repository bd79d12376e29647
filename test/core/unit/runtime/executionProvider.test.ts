import assert from "node:assert/strict";
import { ExecutionProviderError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { fromWireError, toWireError } from "../../../../packages/core/src/errors/wire.js";
import {
  applyCudaNumerics,
  classifyExecutionProviderFailure,
  executionProviderError,
  ortExecutionProvider,
  providerSettingsOf,
} from "../../../../packages/core/src/runtime/executionProvider.js";
import { providerOptionsFromFlags } from "../../../../packages/core/src/cli/commonOptions.js";

describe("execution providers", () => {
  it("classifies the native messages onnxruntime-node 1.30 gives (as seen on a machine without a GPU)", () => {
    // No provider libraries next to libonnxruntime.so.1: the binding names no file.
    assert.equal(classifyExecutionProviderFailure("OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library", false), "providerLibraryMissing");
    // The provider libraries installed, libcublasLt.so.13 missing: the same message.
    assert.equal(classifyExecutionProviderFailure("OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library", true), "dependencyMissing");
    assert.equal(classifyExecutionProviderFailure("libcublasLt.so.13: cannot open shared object file: No such file or directory"), "dependencyMissing");
    assert.equal(classifyExecutionProviderFailure("x/libonnxruntime_providers_shared.so: cannot open shared object file: No such file"), "providerLibraryMissing");
    assert.equal(classifyExecutionProviderFailure("adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters"), "noDevice");
    assert.equal(classifyExecutionProviderFailure("CUDA failure 100: no CUDA-capable device is detected ; GPU=0"), "noDevice");
    assert.equal(classifyExecutionProviderFailure("no available backend found. ERR: [foo] backend not found."), "unknownProvider");
    assert.equal(classifyExecutionProviderFailure("something else entirely"), "other");
  });

  it("the typed error carries reason and hint, and survives the worker boundary", () => {
    const error = executionProviderError("cuda", "/m/model.onnx", new Error("no CUDA-capable device is detected"));
    assert.ok(error instanceof ExecutionProviderError);
    assert.equal(error.code, "EXECUTION_PROVIDER");
    assert.equal(error.details["reason"], "noDevice");
    assert.equal(typeof error.details["hint"], "string");
    const rebuilt = fromWireError(toWireError(error));
    assert.ok(rebuilt instanceof ExecutionProviderError);
    assert.equal((rebuilt as ExecutionProviderError).details["reason"], "noDevice");
  });

  it("cuda gets its device id; tf32 false sets NVIDIA_TF32_OVERRIDE=0, otherwise the environment is untouched", () => {
    assert.deepEqual(ortExecutionProvider("cuda", { deviceId: 1 }), { name: "cuda", deviceId: 1 });
    assert.equal(ortExecutionProvider("webgpu"), "webgpu");
    const env: NodeJS.ProcessEnv = {};
    applyCudaNumerics({ tf32: true }, env);
    assert.deepEqual(env, {});
    applyCudaNumerics({ tf32: false }, env);
    assert.equal(env["NVIDIA_TF32_OVERRIDE"], "0");
  });

  it("provider settings keep only what is given; the CLI's tf32 counts only when --no-tf32 is given", () => {
    assert.equal(providerSettingsOf({}), undefined);
    assert.deepEqual(providerSettingsOf({ deviceId: 2 }), { deviceId: 2 });
    assert.deepEqual(providerSettingsOf({ deviceId: undefined, tf32: true }), { tf32: true });
    assert.deepEqual(providerOptionsFromFlags({ executionProvider: "cuda", tf32: true }), { executionProvider: "cuda" });
    assert.deepEqual(providerOptionsFromFlags({ executionProvider: "cuda", deviceId: 1, tf32: false }), {
      executionProvider: "cuda",
      providerSettings: { deviceId: 1, tf32: false },
    });
  });
});
