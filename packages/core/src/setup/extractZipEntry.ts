import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { createInflateRaw } from "node:zlib";
import { ModelFormatError } from "../errors/KvLinkError.js";

export interface ExtractZipEntryOptions {
  /** Called as uncompressed bytes are written. */
  readonly onBytes?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

export interface ExtractedEntry {
  readonly sizeBytes: number;
  /** Hex sha256 of the extracted bytes. */
  readonly sha256: string;
}

const EOCD_SIG = 0x06054b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

/**
 * Streams one member of a zip archive (e.g. a wheel) to `destPath`, hashing it on the way: finds the
 * end-of-central-directory record, walks the central directory for `entryName`, then inflates (method 8)
 * or copies (method 0) its data. No ZIP64 (archives under 4 GiB). Malformed archives, a missing entry or a
 * size mismatch throw ModelFormatError naming the archive.
 */
export async function extractZipEntry(zipPath: string, entryName: string, destPath: string, options: ExtractZipEntryOptions = {}): Promise<ExtractedEntry> {
  const bad = (why: string): never => {
    throw new ModelFormatError(`${zipPath}: ${why}`, { details: { path: zipPath, entry: entryName } });
  };
  const fd = fs.openSync(zipPath, "r");
  let method: number, compressedSize: number, size: number, dataStart: number;
  try {
    const fileSize = fs.fstatSync(fd).size;
    const tailLen = Math.min(fileSize, 22 + 0xffff);
    const tail = Buffer.alloc(tailLen);
    fs.readSync(fd, tail, 0, tailLen, fileSize - tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIG) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) bad("not a zip archive: no end-of-central-directory record");
    const numEntries = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset + cdSize > fileSize) bad(`central directory (${cdOffset}+${cdSize}) lies past the end of the ${fileSize}-byte file`);
    const cd = Buffer.alloc(cdSize);
    fs.readSync(fd, cd, 0, cdSize, cdOffset);
    let found: { method: number; compressedSize: number; size: number; localOffset: number } | undefined;
    for (let p = 0, i = 0; i < numEntries; i++) {
      if (p + 46 > cdSize || cd.readUInt32LE(p) !== CENTRAL_SIG) bad(`central directory entry #${i} is malformed`);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const name = cd.toString("utf8", p + 46, p + 46 + nameLen);
      if (name === entryName) {
        found = { method: cd.readUInt16LE(p + 10), compressedSize: cd.readUInt32LE(p + 20), size: cd.readUInt32LE(p + 24), localOffset: cd.readUInt32LE(p + 42) };
        break;
      }
      p += 46 + nameLen + extraLen + commentLen;
    }
    if (!found) return bad(`no entry named ${entryName}`);
    ({ method, compressedSize, size } = found);
    if (method !== 0 && method !== 8) bad(`entry ${entryName} uses compression method ${method}, expected 0 (stored) or 8 (deflate)`);
    const local = Buffer.alloc(30);
    fs.readSync(fd, local, 0, 30, found.localOffset);
    if (local.readUInt32LE(0) !== LOCAL_SIG) bad(`local header of ${entryName} at ${found.localOffset} is malformed`);
    dataStart = found.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (dataStart + compressedSize > fileSize) bad(`data of ${entryName} runs past the end of the file (truncated archive?)`);
  } finally {
    fs.closeSync(fd);
  }

  const hash = createHash("sha256");
  if (compressedSize === 0 && size === 0) {
    fs.writeFileSync(destPath, new Uint8Array(0));
    return { sizeBytes: 0, sha256: hash.digest("hex") };
  }
  let written = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      written += chunk.length;
      options.onBytes?.(written, size);
      done(null, chunk);
    },
  });
  const source = fs.createReadStream(zipPath, { start: dataStart, end: dataStart + compressedSize - 1 });
  const stages: NodeJS.ReadWriteStream[] = method === 8 ? [createInflateRaw(), tap] : [tap];
  try {
    await pipeline([source, ...stages, fs.createWriteStream(destPath)], options.signal ? { signal: options.signal } : {});
  } catch (cause) {
    if (options.signal?.aborted) throw cause;
    throw new ModelFormatError(`${zipPath}: cannot extract ${entryName}: ${(cause as Error).message}`, { cause, details: { path: zipPath, entry: entryName } });
  }
  if (written !== size) bad(`entry ${entryName} inflated to ${written} bytes, expected ${size}`);
  return { sizeBytes: written, sha256: hash.digest("hex") };
}
