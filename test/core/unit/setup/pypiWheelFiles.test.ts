import assert from "node:assert/strict";
import { DownloadError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { loadPypiFiles, pickLinuxX64Wheel, pipArgsForWheel, type PypiFile } from "../../../../packages/core/src/setup/pypiWheelFiles.js";
import { parseWheelRecord } from "../../../../packages/core/src/setup/parseWheelRecord.js";

const sha = (c: string): string => c.repeat(64);
// File names as the registry lists them for onnxruntime-gpu 1.30.0 (a subset).
const files = [
  { filename: "onnxruntime_gpu-1.30.0-cp312-cp312-manylinux_2_34_aarch64.whl", digests: { sha256: sha("a") }, size: 1 },
  { filename: "onnxruntime_gpu-1.30.0-cp314-cp314t-manylinux_2_28_x86_64.whl", digests: { sha256: sha("b") }, size: 2 },
  { filename: "onnxruntime_gpu-1.30.0-cp312-cp312-win_amd64.whl", digests: { sha256: sha("c") }, size: 3 },
  { filename: "onnxruntime_gpu-1.30.0-cp313-cp313-manylinux_2_28_x86_64.whl", digests: { sha256: sha("d") }, size: 4 },
  { filename: "onnxruntime_gpu-1.30.0-cp312-cp312-manylinux_2_28_x86_64.whl", digests: { sha256: sha("e") }, size: 5 },
];

describe("PyPI wheel files", () => {
  it("reads the release URL's file list", async () => {
    const urls: string[] = [];
    const got = await loadPypiFiles("onnxruntime-gpu", "1.30.0", { fetchJson: async (url) => (urls.push(url), { urls: files }) });
    assert.deepEqual(urls, ["https://pypi.org/pypi/onnxruntime-gpu/1.30.0/json"]);
    assert.equal(got.length, 5);
    assert.deepEqual(got[4], { filename: files[4]!.filename, sha256: sha("e"), sizeBytes: 5 });
  });

  it("falls back to the project URL's releases[version] when the release URL fails", async () => {
    const got = await loadPypiFiles("onnxruntime-gpu", "1.30.0", {
      fetchJson: async (url) => {
        if (url.endsWith("/1.30.0/json")) throw new DownloadError(`GET ${url}: HTTP 404`);
        return { releases: { "1.30.0": files, "1.31.1": [] } };
      },
    });
    assert.equal(got.length, 5);
  });

  it("an unreachable registry or an absent version is a DownloadError", async () => {
    await assert.rejects(loadPypiFiles("onnxruntime-gpu", "1.30.0", { fetchJson: async () => Promise.reject(new TypeError("fetch failed")) }), DownloadError);
    await assert.rejects(loadPypiFiles("onnxruntime-gpu", "9.9.9", { fetchJson: async () => ({ releases: { "1.30.0": files } }) }), DownloadError);
  });

  it("picks the CPython 3.12 manylinux x86-64 wheel, never a free-threaded or other-platform one", () => {
    const parsed: PypiFile[] = files.map((f) => ({ filename: f.filename, sha256: f.digests.sha256, sizeBytes: f.size }));
    assert.equal(pickLinuxX64Wheel(parsed)?.filename, "onnxruntime_gpu-1.30.0-cp312-cp312-manylinux_2_28_x86_64.whl");
    assert.equal(pickLinuxX64Wheel(parsed.filter((f) => !f.filename.includes("cp312-cp312-manylinux")))?.filename, "onnxruntime_gpu-1.30.0-cp313-cp313-manylinux_2_28_x86_64.whl");
    assert.equal(pickLinuxX64Wheel(parsed.slice(0, 3)), undefined);
  });

  it("pip arguments select that exact wheel whatever the local Python", () => {
    assert.deepEqual(pipArgsForWheel("onnxruntime_gpu-1.30.0-cp312-cp312-manylinux_2_28_x86_64.whl"), [
      "--platform", "manylinux_2_28_x86_64", "--python-version", "3.12", "--implementation", "cp", "--abi", "cp312",
    ]);
    assert.deepEqual(pipArgsForWheel("x-1.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"), [
      "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64", "--python-version", "3",
    ]);
  });
});

describe("parseWheelRecord", () => {
  it("decodes RECORD's urlsafe base64 sha256 to hex (lines of the real onnxruntime-gpu 1.30.0 RECORD)", () => {
    const record = parseWheelRecord(
      [
        "onnxruntime/capi/libonnxruntime_providers_cuda.so,sha256=NdouftDdDRrsXNsWzhGlHQbAxIz2LRsckzKUak-uFPw,272049904",
        "onnxruntime/capi/libonnxruntime_providers_shared.so,sha256=CG7B1TiPZBU9nGNHDRJmk9uaGCyM4jbToRGQaEcbig0,14632",
        '"odd,name.py",sha256=CG7B1TiPZBU9nGNHDRJmk9uaGCyM4jbToRGQaEcbig0,1',
        "onnxruntime_gpu-1.30.0.dist-info/RECORD,,",
      ].join("\r\n"),
    );
    // The hex digests of the libraries as extracted from the real wheel (sha256sum).
    assert.deepEqual(record.get("onnxruntime/capi/libonnxruntime_providers_cuda.so"), {
      sha256: "35da2e7ed0dd0d1aec5cdb16ce11a51d06c0c48cf62d1b1c9332946a4fae14fc",
      sizeBytes: 272049904,
    });
    assert.equal(record.get("onnxruntime/capi/libonnxruntime_providers_shared.so")?.sha256, "086ec1d5388f64153d9c63470d126693db9a182c8ce236d3a1119068471b8a0d");
    assert.ok(record.has("odd,name.py"));
    assert.equal(record.has("onnxruntime_gpu-1.30.0.dist-info/RECORD"), false);
  });
});
