import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { ModelFormatError } from "../errors/KvLinkError.js";

/** What the dynamic loader reads from a shared library: the libraries it links and where it looks first. */
export interface ElfDynamicInfo {
  /** DT_NEEDED sonames, in file order. */
  readonly needed: readonly string[];
  /** DT_RUNPATH (or DT_RPATH when there is no RUNPATH), split at ':'; may contain $ORIGIN. */
  readonly runpath: readonly string[];
  readonly soname?: string;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;
const DT_SONAME = 14n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;

/**
 * Reads the dynamic section of a 64-bit little-endian ELF file (x86-64, aarch64 Linux) without loading it: the
 * ELF header, the program headers, PT_DYNAMIC and the dynamic string table, a few KiB of a file of any size.
 * Anything else (not ELF, 32-bit, big-endian, no dynamic section) throws ModelFormatError naming the file.
 */
export function readElfDynamic(path: string): ElfDynamicInfo {
  const fd = openSync(path, "r");
  try {
    const fileSize = fstatSync(fd).size;
    const bad = (why: string): never => {
      throw new ModelFormatError(`${path}: ${why}`, { details: { path } });
    };
    const read = (offset: number, length: number): Buffer => {
      if (offset < 0 || length < 0 || offset + length > fileSize) bad(`reads [${offset}, ${offset + length}) past the end of the ${fileSize}-byte file`);
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, offset);
      return buf;
    };
    const header = read(0, 64);
    if (header.readUInt32BE(0) !== 0x7f454c46) bad("not an ELF file");
    if (header[4] !== 2) bad(`ELF class ${header[4]}, expected 2 (64-bit)`);
    if (header[5] !== 1) bad(`ELF data encoding ${header[5]}, expected 1 (little-endian)`);
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const phdrs = read(phoff, phentsize * phnum);
    const loads: { vaddr: bigint; offset: bigint; filesz: bigint }[] = [];
    let dynamic: { offset: number; size: number } | undefined;
    for (let i = 0; i < phnum; i++) {
      const p = i * phentsize;
      const type = phdrs.readUInt32LE(p);
      const offset = phdrs.readBigUInt64LE(p + 8);
      const vaddr = phdrs.readBigUInt64LE(p + 16);
      const filesz = phdrs.readBigUInt64LE(p + 32);
      if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
      if (type === PT_DYNAMIC) dynamic = { offset: Number(offset), size: Number(filesz) };
    }
    if (dynamic === undefined) return bad("no PT_DYNAMIC segment (a static executable, not a shared library)");
    const dyn = read(dynamic.offset, dynamic.size);
    const entries: { tag: bigint; value: bigint }[] = [];
    for (let p = 0; p + 16 <= dyn.length; p += 16) {
      const tag = dyn.readBigInt64LE(p);
      if (tag === DT_NULL) break;
      entries.push({ tag, value: dyn.readBigUInt64LE(p + 8) });
    }
    const strtabAddr = entries.find((e) => e.tag === DT_STRTAB)?.value;
    const strsz = entries.find((e) => e.tag === DT_STRSZ)?.value;
    if (strtabAddr === undefined || strsz === undefined) return bad("the dynamic section has no string table");
    const segment = loads.find((l) => strtabAddr >= l.vaddr && strtabAddr < l.vaddr + l.filesz);
    if (segment === undefined) return bad(`the dynamic string table's address 0x${strtabAddr.toString(16)} lies in no loaded segment`);
    const strtab = read(Number(strtabAddr - segment.vaddr + segment.offset), Number(strsz));
    const str = (offset: bigint): string => {
      const start = Number(offset);
      if (start >= strtab.length) bad(`string offset ${start} beyond the ${strtab.length}-byte string table`);
      const end = strtab.indexOf(0, start);
      return strtab.toString("utf8", start, end < 0 ? strtab.length : end);
    };
    const needed = entries.filter((e) => e.tag === DT_NEEDED).map((e) => str(e.value));
    const runpathEntry = entries.find((e) => e.tag === DT_RUNPATH) ?? entries.find((e) => e.tag === DT_RPATH);
    const runpath = runpathEntry === undefined ? [] : str(runpathEntry.value).split(":").filter((d) => d !== "");
    const sonameEntry = entries.find((e) => e.tag === DT_SONAME);
    return { needed, runpath, ...(sonameEntry !== undefined ? { soname: str(sonameEntry.value) } : {}) };
  } finally {
    closeSync(fd);
  }
}
