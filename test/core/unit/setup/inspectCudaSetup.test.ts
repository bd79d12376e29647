import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cudaLibrarySource, libDirsUnder } from "../../../../packages/core/src/setup/cudaLibraryHints.js";
import { inspectCudaSetup } from "../../../../packages/core/src/setup/inspectCudaSetup.js";
import { gpuFixture } from "./gpuFixtures.js";

describe("inspectCudaSetup", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "kvlink-doctor-"));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  const options = (nativeDir: string, extra: Partial<Parameters<typeof inspectCudaSetup>[0]> = {}) => ({
    onnxRuntime: { version: "1.30.0", nativeDir },
    libraryPath: [],
    loaderCache: new Map<string, string>(),
    systemDirs: [],
    wheelLibDirs: [],
    procGpuDir: join(dir, "no-proc"),
    devDir: join(dir, "no-dev"),
    ...extra,
  });

  it("without the provider libraries: not installed, nothing linked, no GPU, not ready", () => {
    const report = inspectCudaSetup(options(join(dir, "empty")));
    assert.deepEqual(report.providerLibraries.map((l) => l.path), [undefined, undefined]);
    assert.deepEqual(report.dependencies, []);
    assert.equal(report.gpu.visible, false);
    assert.equal(report.ready, false);
  });

  it("lists what the provider links, missing ones with a wheel folder that has them and the LD_LIBRARY_PATH to use", async () => {
    const nativeDir = join(dir, "native");
    await mkdir(nativeDir);
    // The fixture library stands in for the CUDA provider: it links libkvlink-missing.so.7.
    await cp(gpuFixture("libneeds-missing.so"), join(nativeDir, "libonnxruntime_providers_cuda.so"));
    await writeFile(join(nativeDir, "libonnxruntime_providers_shared.so"), "x");
    const wheelDir = gpuFixture("found");
    const report = inspectCudaSetup(options(nativeDir, { wheelLibDirs: [wheelDir], libraryPath: ["/opt/other"] }));
    assert.equal(report.dependencies.length, 1);
    assert.equal(report.dependencies[0]?.name, "libkvlink-missing.so.7");
    assert.equal(report.dependencies[0]?.path, undefined);
    assert.equal(report.dependencies[0]?.foundIn, wheelDir);
    assert.equal(report.suggestedLibraryPath, `${wheelDir}:/opt/other`);
    assert.equal(report.ready, false);
    const fixed = inspectCudaSetup(options(nativeDir, { libraryPath: [wheelDir], procGpuDir: await fakeGpu() }));
    assert.equal(fixed.dependencies[0]?.path, join(wheelDir, "libkvlink-missing.so.7"));
    assert.deepEqual(fixed.gpu.devices, ["NVIDIA H200 (0000:01:00.0)"]);
    assert.equal(fixed.ready, true);
  });

  async function fakeGpu(): Promise<string> {
    const proc = join(dir, "proc");
    await mkdir(join(proc, "0000:01:00.0"), { recursive: true });
    await writeFile(join(proc, "0000:01:00.0", "information"), "Model: \t\t NVIDIA H200\nIRQ: 1\n");
    return proc;
  }

  it("names where each CUDA library comes from", () => {
    assert.match(cudaLibrarySource("libcublasLt.so.13") ?? "", /nvidia-cublas/);
    assert.match(cudaLibrarySource("libcudart.so.13") ?? "", /nvidia-cuda-runtime/);
    assert.match(cudaLibrarySource("libcudnn.so.9") ?? "", /nvidia-cudnn-cu13/);
    assert.match(cudaLibrarySource("libcuda.so.1") ?? "", /driver/);
    assert.equal(cudaLibrarySource("libc.so.6"), undefined);
  });

  it("finds the lib folders of nvidia-* wheels (nvidia/<pkg>/lib with a shared library)", async () => {
    await mkdir(join(dir, "nvidia", "cu13", "lib"), { recursive: true });
    await writeFile(join(dir, "nvidia", "cu13", "lib", "libcublas.so.13"), "");
    await mkdir(join(dir, "nvidia", "empty", "lib"), { recursive: true });
    assert.deepEqual(libDirsUnder(join(dir, "nvidia")), [join(dir, "nvidia", "cu13", "lib")]);
  });
});
