import { readFile } from "node:fs/promises";
import { InvalidInputError } from "../errors/KvLinkError.js";
import { chunkDocument } from "../precompute/chunkDocument.js";

/** One document cut from a file, with where it came from. */
export interface FileDocument {
  readonly path: string;
  /** Index of this document among the file's chunks. */
  readonly chunkIndex: number;
  readonly text: string;
  readonly numTokens: number;
}

/**
 * Reads each file (UTF-8) and cuts it into documents of at most `maxDocTokens` tokens (chunkDocument), in file order.
 * A whitespace-only file gives no document. InvalidInputError for a file that cannot be read.
 */
export async function readDocuments(
  paths: readonly string[],
  options: {
    readonly maxDocTokens: number;
    readonly countTokens: (text: string) => number;
    /** Called for a file that is not text (NUL bytes or invalid UTF-8 in its first 64 KiB); it is skipped. */
    readonly onSkipBinary?: (path: string) => void;
  },
): Promise<FileDocument[]> {
  const documents: FileDocument[] = [];
  for (const path of paths) {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (cause) {
      throw new InvalidInputError(`cannot read document ${path}: ${(cause as Error).message}`, { cause, details: { path } });
    }
    if (looksBinary(bytes)) {
      options.onSkipBinary?.(path);
      continue;
    }
    const text = bytes.toString("utf8");
    const chunks = chunkDocument(text, { maxTokens: options.maxDocTokens, countTokens: options.countTokens });
    chunks.forEach((chunk, chunkIndex) => documents.push({ path, chunkIndex, text: chunk.text, numTokens: chunk.numTokens }));
  }
  return documents;
}

/** A file is taken as binary when its head holds a NUL byte or is not valid UTF-8 (a cut last character allowed). */
export function looksBinary(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 64 * 1024);
  if (head.includes(0)) return true;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(0, Math.max(0, head.length - (head.length === bytes.length ? 0 : 4))));
    return false;
  } catch {
    return true;
  }
}
