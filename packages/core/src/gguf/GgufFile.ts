import * as fs from "node:fs";
import { promisify } from "node:util";
import { ModelFormatError, ModelLoadError, UnsupportedModelError } from "../errors/KvLinkError.js";
import { ggmlByteLength } from "./dequantize.js";
import { GGML_BLOCK_LAYOUT, ggmlTypeName } from "./ggmlType.js";

const readAsync = promisify(fs.read);

/** A metadata value: integers that fit a double become numbers, larger 64-bit ones stay bigint. */
export type GgufValue = number | bigint | string | boolean | readonly GgufValue[];

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml dims, ne[0] fastest: a GGUF [in, out] matrix is torch (out, in). */
  readonly shape: readonly number[];
  readonly type: number;
  readonly numElements: number;
  /** Absolute offset of the tensor's first byte in the file. */
  readonly fileOffset: number;
  readonly byteLength: number;
}

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
const CHUNK_BYTES = 1 << 20;
const MAX_DIMS = 8;

/**
 * Sequential reader over a file descriptor that pulls 1 MiB chunks on demand; every read past the end of
 * the file is a ModelFormatError naming the file, the offset and what was being read.
 */
class HeaderCursor {
  #buf = Buffer.alloc(0);
  #bufStart = 0;
  offset = 0;
  readonly #decoder = new TextDecoder("utf-8", { fatal: false });
  constructor(readonly fd: number, readonly path: string, readonly fileSize: number) {}

  #ensure(n: number, what: string): number {
    if (this.offset + n > this.fileSize) {
      throw new ModelFormatError(
        `${this.path}: truncated GGUF: reading ${what} needs ${n} bytes at offset ${this.offset}, but the file is ${this.fileSize} bytes`,
        { details: { path: this.path, offset: this.offset, needed: n, fileSize: this.fileSize, what } },
      );
    }
    const rel = this.offset - this.#bufStart;
    if (rel + n <= this.#buf.length) return rel;
    const len = Math.min(Math.max(n, CHUNK_BYTES), this.fileSize - this.offset);
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const r = fs.readSync(this.fd, buf, got, len - got, this.offset + got);
      if (r === 0) break;
      got += r;
    }
    if (got < n) {
      throw new ModelFormatError(`${this.path}: short read of ${what} at offset ${this.offset}`, {
        details: { path: this.path, offset: this.offset },
      });
    }
    this.#buf = buf;
    this.#bufStart = this.offset;
    return 0;
  }
  u8(what: string): number { const p = this.#ensure(1, what); this.offset += 1; return this.#buf[p]!; }
  i8(what: string): number { const p = this.#ensure(1, what); this.offset += 1; return this.#buf.readInt8(p); }
  u16(what: string): number { const p = this.#ensure(2, what); this.offset += 2; return this.#buf.readUInt16LE(p); }
  i16(what: string): number { const p = this.#ensure(2, what); this.offset += 2; return this.#buf.readInt16LE(p); }
  u32(what: string): number { const p = this.#ensure(4, what); this.offset += 4; return this.#buf.readUInt32LE(p); }
  i32(what: string): number { const p = this.#ensure(4, what); this.offset += 4; return this.#buf.readInt32LE(p); }
  f32(what: string): number { const p = this.#ensure(4, what); this.offset += 4; return this.#buf.readFloatLE(p); }
  f64(what: string): number { const p = this.#ensure(8, what); this.offset += 8; return this.#buf.readDoubleLE(p); }
  u64(what: string): bigint { const p = this.#ensure(8, what); this.offset += 8; return this.#buf.readBigUInt64LE(p); }
  i64(what: string): bigint { const p = this.#ensure(8, what); this.offset += 8; return this.#buf.readBigInt64LE(p); }
  /** A u64 count or size that must fit in a double and in the rest of the file. */
  size(what: string, minBytesEach = 1): number {
    const v = this.u64(what);
    const remaining = BigInt(this.fileSize - this.offset);
    if (v * BigInt(minBytesEach) > remaining) {
      throw new ModelFormatError(
        `${this.path}: ${what} = ${v} at offset ${this.offset - 8} cannot fit in the ${remaining} bytes left in the file`,
        { details: { path: this.path, what, value: v.toString() } },
      );
    }
    return Number(v);
  }
  string(what: string): string {
    const len = this.size(`${what} length`);
    const p = this.#ensure(len, what);
    this.offset += len;
    return this.#decoder.decode(this.#buf.subarray(p, p + len));
  }
}

const toNumberIfSafe = (v: bigint): number | bigint => (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v);
/** The shortest decimal that reads back as the same fp32 (so 1e-5 stored as f32 reads as 1e-5, not 9.99999974e-6). */
function shortestF32(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(x.toPrecision(digits));
    if (Math.fround(candidate) === x) return candidate;
  }
  return x;
}

/** Smallest encoded size of one value of each GGUF value type, for array-count sanity checks. */
const MIN_VALUE_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 8, 9: 12, 10: 8, 11: 8, 12: 8 };

function readValue(c: HeaderCursor, type: number, key: string): GgufValue {
  switch (type) {
    case 0: return c.u8(key);
    case 1: return c.i8(key);
    case 2: return c.u16(key);
    case 3: return c.i16(key);
    case 4: return c.u32(key);
    case 5: return c.i32(key);
    case 6: return shortestF32(c.f32(key));
    case 7: return c.u8(key) !== 0;
    case 8: return c.string(key);
    case 9: {
      const elemType = c.u32(`${key} array type`);
      const minBytes = MIN_VALUE_BYTES[elemType];
      if (minBytes === undefined) throw badValueType(c, elemType, key);
      const count = c.size(`${key} array count`, minBytes);
      const out = new Array<GgufValue>(count);
      for (let i = 0; i < count; i++) out[i] = readValue(c, elemType, key);
      return out;
    }
    case 10: return toNumberIfSafe(c.u64(key));
    case 11: return toNumberIfSafe(c.i64(key));
    case 12: return c.f64(key);
    default: throw badValueType(c, type, key);
  }
}

function badValueType(c: HeaderCursor, type: number, key: string): ModelFormatError {
  return new ModelFormatError(`${c.path}: metadata key "${key}" has value type ${type}, expected 0..12 (offset ${c.offset})`, {
    details: { path: c.path, key, type },
  });
}

/**
 * An open GGUF file (v2/v3): its metadata and tensor index are parsed by `open()`; tensor bytes are read
 * on demand, one tensor at a time. Close with `close()` or `await using`.
 */
export class GgufFile {
  readonly path: string;
  readonly version: number;
  readonly fileSize: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  readonly #fd: number;
  readonly #byName: ReadonlyMap<string, GgufTensorInfo>;
  #closed = false;

  private constructor(path: string, fd: number, parsed: Parsed) {
    this.path = path;
    this.#fd = fd;
    this.version = parsed.version;
    this.fileSize = parsed.fileSize;
    this.metadata = parsed.metadata;
    this.tensors = parsed.tensors;
    this.alignment = parsed.alignment;
    this.#byName = new Map(parsed.tensors.map((t) => [t.name, t]));
  }

  /** Opens and parses `path`. Missing/unreadable → ModelLoadError; malformed or truncated → ModelFormatError. */
  static async open(path: string): Promise<GgufFile> {
    let fd: number;
    try {
      fd = fs.openSync(path, "r");
    } catch (cause) {
      throw new ModelLoadError(`cannot open GGUF file ${path}`, { cause, details: { path } });
    }
    try {
      return new GgufFile(path, fd, parseHeader(fd, path));
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  tensor(name: string): GgufTensorInfo | undefined {
    return this.#byName.get(name);
  }

  /** The raw bytes of one tensor (a fresh buffer). */
  async readTensorBytes(info: GgufTensorInfo): Promise<Uint8Array> {
    if (this.#closed) throw new ModelLoadError(`${this.path}: GGUF file is closed`, { details: { path: this.path } });
    if (GGML_BLOCK_LAYOUT[info.type] === undefined) {
      throw new UnsupportedModelError(`${this.path}: tensor ${info.name} has unknown ggml type ${info.type}`, {
        details: { path: this.path, tensor: info.name, type: info.type },
      });
    }
    const out = new Uint8Array(info.byteLength);
    let got = 0;
    while (got < out.length) {
      const { bytesRead } = await readAsync(this.#fd, out, got, out.length - got, info.fileOffset + got);
      if (bytesRead === 0) {
        throw new ModelFormatError(`${this.path}: tensor ${info.name} ends past the end of the file`, {
          details: { path: this.path, tensor: info.name },
        });
      }
      got += bytesRead;
    }
    return out;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    fs.closeSync(this.#fd);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

interface Parsed {
  version: number;
  fileSize: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
}

function parseHeader(fd: number, path: string): Parsed {
  const fileSize = fs.fstatSync(fd).size;
  const c = new HeaderCursor(fd, path, fileSize);
  const magic = c.u32("magic");
  if (magic !== GGUF_MAGIC) {
    throw new ModelFormatError(
      `${path}: not a GGUF file: expected magic "GGUF" (0x${GGUF_MAGIC.toString(16)}), got 0x${magic.toString(16).padStart(8, "0")}`,
      { details: { path, magic } },
    );
  }
  const version = c.u32("version");
  if (version !== 2 && version !== 3) {
    throw new ModelFormatError(`${path}: GGUF version ${version} is not supported, expected 2 or 3`, { details: { path, version } });
  }
  const tensorCount = c.size("tensor_count", 24);
  const kvCount = c.size("metadata_kv_count", 12);
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key #${i}`);
    const type = c.u32(`type of "${key}"`);
    metadata.set(key, readValue(c, type, key));
  }
  const alignmentValue = metadata.get("general.alignment") ?? 32;
  if (typeof alignmentValue !== "number" || !Number.isInteger(alignmentValue) || alignmentValue <= 0 || (alignmentValue & (alignmentValue - 1)) !== 0) {
    throw new ModelFormatError(`${path}: general.alignment must be a power of two, got ${String(alignmentValue)}`, { details: { path } });
  }
  const alignment = alignmentValue;
  const raw: { name: string; shape: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor name #${i}`);
    const nDims = c.u32(`n_dims of ${name}`);
    if (nDims < 1 || nDims > MAX_DIMS) {
      throw new ModelFormatError(`${path}: tensor ${name} has ${nDims} dims, expected 1..${MAX_DIMS}`, { details: { path, tensor: name } });
    }
    const shape: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const ne = c.u64(`ne[${d}] of ${name}`);
      if (ne > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new ModelFormatError(`${path}: tensor ${name} dim ${d} = ${ne} is too large`, { details: { path, tensor: name } });
      }
      shape.push(Number(ne));
    }
    const type = c.u32(`type of ${name}`);
    const offset = c.u64(`offset of ${name}`);
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ModelFormatError(`${path}: tensor ${name} offset ${offset} is too large`, { details: { path, tensor: name } });
    }
    raw.push({ name, shape, type, offset: Number(offset) });
  }
  const dataStart = Math.ceil(c.offset / alignment) * alignment;
  const tensors = raw.map((t): GgufTensorInfo => {
    const numElements = t.shape.reduce((a, b) => a * b, 1);
    if (GGML_BLOCK_LAYOUT[t.type] === undefined) {
      // Keep the tensor listed; reading or converting it reports the unsupported type.
      return { name: t.name, shape: t.shape, type: t.type, numElements, fileOffset: dataStart + t.offset, byteLength: 0 };
    }
    const byteLength = ggmlByteLength(t.type, numElements, `${path}: tensor ${t.name}`);
    const fileOffset = dataStart + t.offset;
    if (t.offset % alignment !== 0) {
      throw new ModelFormatError(`${path}: tensor ${t.name} offset ${t.offset} is not a multiple of the alignment ${alignment}`, {
        details: { path, tensor: t.name },
      });
    }
    if (fileOffset + byteLength > fileSize) {
      throw new ModelFormatError(
        `${path}: truncated GGUF: tensor ${t.name} (${ggmlTypeName(t.type)} [${t.shape.join(", ")}]) spans bytes ${fileOffset}..${fileOffset + byteLength}, but the file is ${fileSize} bytes`,
        { details: { path, tensor: t.name, fileOffset, byteLength, fileSize } },
      );
    }
    return { name: t.name, shape: t.shape, type: t.type, numElements, fileOffset, byteLength };
  });
  return { version, fileSize, metadata, tensors, alignment };
}
