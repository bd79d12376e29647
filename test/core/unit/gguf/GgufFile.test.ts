import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelFormatError, ModelLoadError, UnsupportedModelError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { GgufFile } from "../../../../packages/core/src/gguf/GgufFile.js";
import { GgufMetadata } from "../../../../packages/core/src/gguf/ggufMetadata.js";
import { GgmlType } from "../../../../packages/core/src/gguf/ggmlType.js";
import { encodeF32, encodeGguf, quantizeQ8_0 } from "../../../support/ggufWriter.js";

describe("gguf/GgufFile", () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "kvlink-gguf-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const q8Values = Float32Array.from({ length: 64 }, (_, i) => (i - 32) / 10);
  const sample = (alignment?: number): Buffer =>
    encodeGguf({
      ...(alignment !== undefined && { alignment }),
      metadata: {
        "general.architecture": "llama",
        "a.u32": 7,
        "a.i32": -3,
        "a.f32": { f32: 1e-5 },
        "a.bool": true,
        "a.u64": { u64: 2n ** 60n },
        "a.strings": ["x", "ÿ", ""],
        "a.ints": [1, 2, 3],
      },
      tensors: [
        { name: "q8", shape: [32, 2], type: GgmlType.Q8_0, data: quantizeQ8_0(q8Values) },
        { name: "f32", shape: [3], type: GgmlType.F32, data: encodeF32([1, 2, 3]) },
      ],
    });

  it("parses metadata of every kind, tensor infos and aligned offsets, and reads tensor bytes", async () => {
    for (const alignment of [undefined, 64]) {
      const path = join(dir, `ok-${alignment ?? 32}.gguf`);
      writeFileSync(path, sample(alignment));
      await using file = await GgufFile.open(path);
      assert.equal(file.version, 3);
      assert.equal(file.alignment, alignment ?? 32);
      const m = new GgufMetadata(file.metadata, path);
      assert.equal(m.string("general.architecture"), "llama");
      assert.equal(m.number("a.u32"), 7);
      assert.equal(m.number("a.i32"), -3);
      assert.equal(m.number("a.f32"), 1e-5, "f32 metadata reads back as its shortest decimal");
      assert.equal(m.optionalBoolean("a.bool"), true);
      assert.equal(file.metadata.get("a.u64"), 2n ** 60n);
      assert.deepEqual(m.stringArray("a.strings"), ["x", "ÿ", ""]);
      assert.deepEqual(m.optionalNumberArray("a.ints"), [1, 2, 3]);
      assert.throws(() => m.string("a.u32"), ModelFormatError);
      assert.throws(() => m.number("missing.key"), ModelFormatError);
      const [q8, f32] = file.tensors;
      assert.deepEqual(q8!.shape, [32, 2]);
      assert.equal(q8!.byteLength, 68);
      assert.equal(f32!.fileOffset - q8!.fileOffset, Math.ceil(68 / (alignment ?? 32)) * (alignment ?? 32));
      assert.equal(q8!.fileOffset % (alignment ?? 32), 0);
      assert.deepEqual([...new Float32Array((await file.readTensorBytes(f32!)).buffer)], [1, 2, 3]);
      assert.deepEqual(await file.readTensorBytes(q8!), quantizeQ8_0(q8Values));
    }
  });

  it("a truncated file is a ModelFormatError, at any cut point", async () => {
    const bytes = sample();
    // The file ends with 20 bytes of padding after the 12-byte F32 tensor; cutting into the tensor must fail.
    for (const cut of [3, 10, 40, 150, bytes.length - 300, bytes.length - 21]) {
      const path = join(dir, `cut-${cut}.gguf`);
      writeFileSync(path, bytes.subarray(0, cut));
      await assert.rejects(GgufFile.open(path), ModelFormatError, `cut at ${cut}`);
    }
  });

  it("bad magic and bad version are ModelFormatError; a missing file is ModelLoadError", async () => {
    const bytes = Buffer.from(sample());
    const path = join(dir, "magic.gguf");
    bytes.write("GGML", 0, "latin1");
    writeFileSync(path, bytes);
    await assert.rejects(GgufFile.open(path), ModelFormatError);
    const v = Buffer.from(sample());
    v.writeUInt32LE(9, 4);
    writeFileSync(path, v);
    await assert.rejects(GgufFile.open(path), ModelFormatError);
    await assert.rejects(GgufFile.open(join(dir, "nope.gguf")), ModelLoadError);
  });

  it("an absurd array count or string length is a ModelFormatError, not an allocation", async () => {
    const path = join(dir, "huge.gguf");
    const head = Buffer.alloc(24 + 8 + 4 + 4 + 4 + 8);
    let o = head.writeUInt32LE(0x46554747, 0);
    o = head.writeUInt32LE(3, o);
    o = head.writeBigUInt64LE(0n, o);
    o = head.writeBigUInt64LE(1n, o);
    o = head.writeBigUInt64LE(1n, o); // key length
    head.write("k", o, "latin1");
    o += 1;
    o = head.writeUInt32LE(9, o); // array
    o = head.writeUInt32LE(4, o); // of u32
    head.writeBigUInt64LE(2n ** 40n, o);
    writeFileSync(path, head);
    await assert.rejects(GgufFile.open(path), ModelFormatError);
  });

  it("reading a tensor of an unknown ggml type is UnsupportedModelError", async () => {
    const path = join(dir, "unknown-type.gguf");
    writeFileSync(path, encodeGguf({ metadata: {}, tensors: [{ name: "w", shape: [32], type: 77, data: new Uint8Array(32) }] }));
    await using file = await GgufFile.open(path);
    await assert.rejects(file.readTensorBytes(file.tensors[0]!), UnsupportedModelError);
  });
});
