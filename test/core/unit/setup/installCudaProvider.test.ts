import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, DownloadError, ModelFormatError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { installCudaProvider } from "../../../../packages/core/src/setup/installCudaProvider.js";
import type { FetchJson } from "../../../../packages/core/src/setup/pypiWheelFiles.js";
import { FAKE_WHEEL, gpuFixture } from "./gpuFixtures.js";

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const providerNames = ["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"];

describe("installCudaProvider (fixture wheel, no network)", () => {
  let dir: string;
  let nativeDir: string;
  let wheelSha: string;
  const unreachable: FetchJson = async () => Promise.reject(new DownloadError("registry unreachable (test)"));
  const registryWith =
    (digest: string): FetchJson =>
    async () => ({ urls: [{ filename: FAKE_WHEEL, digests: { sha256: digest }, size: 942 }] });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "kvlink-cuda-setup-"));
    nativeDir = join(dir, "native");
    await mkdir(nativeDir);
    wheelSha = sha256(await readFile(gpuFixture(FAKE_WHEEL)));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  const base = () => ({ downloadDir: join(dir, "downloads"), onnxRuntime: { version: "1.30.0", nativeDir } });

  it("installs both libraries from a local wheel, checked against the registry's sha256 and the RECORD", async () => {
    const result = await installCudaProvider({ ...base(), wheel: gpuFixture(FAKE_WHEEL), fetchJson: registryWith(wheelSha) });
    assert.equal(result.verification, "registry");
    assert.equal(result.wheelSha256, wheelSha);
    assert.deepEqual((await readdir(nativeDir)).sort(), providerNames);
    assert.equal(await readFile(join(nativeDir, providerNames[0]!), "utf8"), "fake cuda provider\n".repeat(100));
    assert.equal(result.libraries[1]?.sha256, sha256(Buffer.from("fake shared provider\n")));
  });

  it("a registry sha256 that differs is a DownloadError and installs nothing", async () => {
    await assert.rejects(installCudaProvider({ ...base(), wheel: gpuFixture(FAKE_WHEEL), fetchJson: registryWith("0".repeat(64)) }), DownloadError);
    await assert.rejects(installCudaProvider({ ...base(), wheel: gpuFixture(FAKE_WHEEL), expectedSha256: "1".repeat(64) }), DownloadError);
    assert.deepEqual(await readdir(nativeDir), []);
  });

  it("an unreachable registry falls back to the RECORD check; a given sha256 needs no registry", async () => {
    assert.equal((await installCudaProvider({ ...base(), wheel: gpuFixture(FAKE_WHEEL), fetchJson: unreachable })).verification, "record");
    assert.equal((await installCudaProvider({ ...base(), wheel: gpuFixture(FAKE_WHEEL), expectedSha256: wheelSha, fetchJson: unreachable })).verification, "sha256");
  });

  it("a library that does not match the wheel's RECORD is a ModelFormatError and nothing is placed", async () => {
    await assert.rejects(installCudaProvider({ ...base(), wheel: gpuFixture("tampered", FAKE_WHEEL), fetchJson: unreachable }), ModelFormatError);
    assert.deepEqual(await readdir(nativeDir), []);
  });

  it("a wheel of another onnxruntime version is a ConfigError", async () => {
    await assert.rejects(
      installCudaProvider({ ...base(), onnxRuntime: { version: "1.31.0", nativeDir }, wheel: gpuFixture(FAKE_WHEEL), fetchJson: unreachable }),
      ConfigError,
    );
  });

  it("downloads with pip for Linux x86-64 CPython 3.12 (explicit platform flags) and checks the registry's digest", async () => {
    const log = join(dir, "pip.log");
    process.env["FAKE_PIP_LOG"] = log;
    process.env["FAKE_PIP_WHEEL"] = gpuFixture(FAKE_WHEEL);
    try {
      const fakePip = fileURLToPath(new URL("./fakePip.mjs", import.meta.url));
      const result = await installCudaProvider({ ...base(), fetchJson: registryWith(wheelSha), pipCommands: [{ command: process.execPath, args: [fakePip] }] });
      assert.equal(result.verification, "registry");
      const args = JSON.parse((await readFile(log, "utf8")).trim()) as string[];
      for (const a of ["download", "--no-deps", "--only-binary=:all:", "onnxruntime-gpu==1.30.0", "manylinux_2_28_x86_64", "3.12", "cp312"]) assert.ok(args.includes(a), `${a} in ${args.join(" ")}`);
      // The temporary download folder is gone; the libraries are in place.
      assert.deepEqual(await readdir(join(dir, "downloads")), []);
      assert.deepEqual((await readdir(nativeDir)).sort(), providerNames);
    } finally {
      delete process.env["FAKE_PIP_LOG"];
      delete process.env["FAKE_PIP_WHEEL"];
    }
  });

  it("copies the libraries from a folder (verification none); a folder missing one is a ConfigError", async () => {
    const libs = join(dir, "libs");
    await mkdir(libs);
    await writeFile(join(libs, providerNames[0]!), "a");
    await assert.rejects(installCudaProvider({ ...base(), providerDir: libs }), ConfigError);
    await writeFile(join(libs, providerNames[1]!), "b");
    const result = await installCudaProvider({ ...base(), providerDir: libs });
    assert.equal(result.verification, "none");
    assert.equal(await readFile(join(nativeDir, providerNames[1]!), "utf8"), "b");
  });
});
