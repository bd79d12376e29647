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
  options: { readonly maxDocTokens: number; readonly countTokens: (text: string) => number },
): Promise<FileDocument[]> {
  const documents: FileDocument[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (cause) {
      throw new InvalidInputError(`cannot read document ${path}: ${(cause as Error).message}`, { cause, details: { path } });
    }
    const chunks = chunkDocument(text, { maxTokens: options.maxDocTokens, countTokens: options.countTokens });
    chunks.forEach((chunk, chunkIndex) => documents.push({ path, chunkIndex, text: chunk.text, numTokens: chunk.numTokens }));
  }
  return documents;
}
