import * as fs from "node:fs";
import { promisify } from "node:util";
import { ModelFormatError, ModelLoadError, UnsupportedModelError } from "../errors/KvLinkError.js";
import { bf16ToF32, fp16ToF32 } from "../gguf/fp16.js";

const readAsync = promisify(fs.read);

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Absolute byte range in the file. */
  readonly fileOffset: number;
  readonly byteLength: number;
}

const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};
/** Dtypes readF32() converts; the others can be listed but not read as weights. */
export const SUPPORTED_SAFETENSORS_DTYPES: readonly string[] = ["F32", "F16", "BF16"];
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/**
 * One .safetensors file: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`, then the data. `open()` parses and
 * checks the header (every range inside the file and matching dtype × shape); tensors are read one at a time.
 */
export class SafetensorsFile {
  readonly path: string;
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly #fd: number;
  #closed = false;

  private constructor(path: string, fd: number, tensors: Map<string, SafetensorsTensorInfo>, metadata: Record<string, string>) {
    this.path = path;
    this.#fd = fd;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  static async open(path: string): Promise<SafetensorsFile> {
    let fd: number;
    try {
      fd = fs.openSync(path, "r");
    } catch (cause) {
      throw new ModelLoadError(`cannot open safetensors file ${path}`, { cause, details: { path } });
    }
    try {
      const { tensors, metadata } = parseHeader(fd, path);
      return new SafetensorsFile(path, fd, tensors, metadata);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Reads tensor `name` as fp32 (F32, F16 and BF16 are converted; others → UnsupportedModelError). */
  async readF32(name: string): Promise<Float32Array> {
    const info = this.tensors.get(name);
    if (!info) throw new ModelFormatError(`${this.path}: tensor ${name} is missing`, { details: { path: this.path, tensor: name } });
    if (!SUPPORTED_SAFETENSORS_DTYPES.includes(info.dtype)) {
      throw new UnsupportedModelError(
        `${this.path}: tensor ${name} has dtype ${info.dtype}; supported: ${SUPPORTED_SAFETENSORS_DTYPES.join(", ")}`,
        { details: { path: this.path, tensor: name, dtype: info.dtype } },
      );
    }
    if (this.#closed) throw new ModelLoadError(`${this.path}: safetensors file is closed`, { details: { path: this.path } });
    const bytes = new Uint8Array(info.byteLength);
    let got = 0;
    while (got < bytes.length) {
      const { bytesRead } = await readAsync(this.#fd, bytes, got, bytes.length - got, info.fileOffset + got);
      if (bytesRead === 0) throw new ModelFormatError(`${this.path}: tensor ${name} ends past the end of the file`, { details: { path: this.path } });
      got += bytesRead;
    }
    const n = info.byteLength / DTYPE_BYTES[info.dtype]!;
    const out = new Float32Array(n);
    const view = new DataView(bytes.buffer);
    if (info.dtype === "F32") for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
    else if (info.dtype === "F16") for (let i = 0; i < n; i++) out[i] = fp16ToF32(view.getUint16(i * 2, true));
    else for (let i = 0; i < n; i++) out[i] = bf16ToF32(view.getUint16(i * 2, true));
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

function parseHeader(fd: number, path: string): { tensors: Map<string, SafetensorsTensorInfo>; metadata: Record<string, string> } {
  const fileSize = fs.fstatSync(fd).size;
  const bad = (why: string, details: Record<string, unknown> = {}): never => {
    throw new ModelFormatError(`${path}: not a valid safetensors file: ${why}`, { details: { path, ...details } });
  };
  if (fileSize < 8) bad(`the file is ${fileSize} bytes, expected at least the 8-byte header length`);
  const lenBuf = Buffer.alloc(8);
  fs.readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = lenBuf.readBigUInt64LE(0);
  if (headerLen > BigInt(Math.min(MAX_HEADER_BYTES, fileSize - 8))) {
    bad(`header length ${headerLen} exceeds the ${fileSize - 8} bytes after it (or the ${MAX_HEADER_BYTES}-byte limit)`);
  }
  const headerBuf = Buffer.alloc(Number(headerLen));
  fs.readSync(fd, headerBuf, 0, headerBuf.length, 8);
  let header: unknown;
  try {
    header = JSON.parse(headerBuf.toString("utf8"));
  } catch (cause) {
    throw new ModelFormatError(`${path}: safetensors header is not valid JSON`, { cause, details: { path } });
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) return bad("the header is not a JSON object");
  const dataStart = 8 + Number(headerLen);
  const tensors = new Map<string, SafetensorsTensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const bytesPer = typeof e?.dtype === "string" ? DTYPE_BYTES[e.dtype] : undefined;
    if (bytesPer === undefined) bad(`tensor ${name} has unknown dtype ${JSON.stringify(e?.dtype)}`, { tensor: name });
    const shape = e.shape;
    const offsets = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) bad(`tensor ${name} has a bad shape`, { tensor: name });
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isInteger(d) && d >= 0)) {
      bad(`tensor ${name} has bad data_offsets`, { tensor: name });
    }
    const [begin, end] = offsets as [number, number];
    const numElements = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== numElements * bytesPer!) {
      bad(`tensor ${name} spans ${end - begin} bytes, expected ${numElements} × ${bytesPer} for ${String(e.dtype)} [${String(shape)}]`, { tensor: name });
    }
    if (dataStart + end > fileSize) {
      bad(`tensor ${name} ends at byte ${dataStart + end}, past the end of the ${fileSize}-byte file (truncated?)`, { tensor: name });
    }
    tensors.set(name, { name, dtype: e.dtype as string, shape: shape as number[], fileOffset: dataStart + begin, byteLength: end - begin });
  }
  return { tensors, metadata };
}
