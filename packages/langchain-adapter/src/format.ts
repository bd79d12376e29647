import { randomBytes } from "node:crypto";
import type { DocumentInterface } from "@langchain/core/documents";
import { InvalidInputError } from "@kvlink/core";
import type { KvLinkDocumentInput } from "./engine.js";

/**
 * Document marks: a prompt string loses document boundaries, so `formatDocumentsForKVLink` wraps each document as
 *
 *     ⟦kvlink:<nonce>:<length>[:<id>]⟧<document text>⟦/kvlink:<nonce>⟧
 *
 * and the KVLink models cut the marked documents back out (`parseKVLinkPrompt`) and pass them to the engine as
 * cached segments. `<nonce>` is random per process, so text from elsewhere (a user's question, a web page) cannot
 * produce a mark; `<length>` is the document's length in UTF-16 code units, and the parser skips exactly that
 * many characters, so a document's own text is never read as a mark, whatever it contains. `<id>` is the
 * Document's id, URI-encoded (reporting only). Marks survive f-string and mustache prompt templates, which insert
 * values verbatim; a template that changes the text inside a mark makes the parser throw InvalidInputError.
 */
const NONCE = randomBytes(9).toString("hex");
const BEGIN_PREFIX = `⟦kvlink:${NONCE}:`;
const BEGIN_SUFFIX = "⟧";
const END_MARK = `⟦/kvlink:${NONCE}⟧`;

export interface FormatDocumentsOptions {
  /** Text between marked documents (dropped again when the prompt is parsed). Default "\n\n". */
  readonly separator?: string;
}

/** A document for formatting: a LangChain Document, or plain text. */
export type FormattableDocument = DocumentInterface | string;

/**
 * Marks each document inside one string, for prompt templates (`{context}`), stuff-documents chains and agents:
 * a KVLink model given the prompt recovers the documents and reuses their caches. Without a KVLink model on the
 * other end the marks are visible in the prompt.
 */
export function formatDocumentsForKVLink(docs: readonly FormattableDocument[], options: FormatDocumentsOptions = {}): string {
  if (!Array.isArray(docs)) {
    throw new InvalidInputError(`formatDocumentsForKVLink: expected an array of Documents or strings, got ${describe(docs)}`);
  }
  const separator = options.separator ?? "\n\n";
  return docs
    .map((doc, index) => {
      const { text, id } = documentText(doc, index);
      const idPart = id === undefined || id.length === 0 ? "" : `:${encodeURIComponent(id)}`;
      return `${BEGIN_PREFIX}${text.length}${idPart}${BEGIN_SUFFIX}${text}${END_MARK}`;
    })
    .join(separator);
}

/** A prompt with its marked documents cut out. */
export interface ParsedKVLinkPrompt {
  /** The prompt without the marked documents (and without the whitespace between adjacent marks). */
  readonly text: string;
  /** The marked documents, in prompt order. */
  readonly documents: readonly KvLinkDocumentInput[];
}

/** True when the text holds at least one document mark made by this process. */
export function hasKVLinkMarks(text: string): boolean {
  return text.includes(BEGIN_PREFIX);
}

/**
 * Cuts documents marked by `formatDocumentsForKVLink` out of a prompt. Text without marks comes back unchanged.
 * InvalidInputError when a mark is damaged: a wrong length, a missing end mark, or an end mark with no start.
 */
export function parseKVLinkPrompt(prompt: string): ParsedKVLinkPrompt {
  if (!prompt.includes(BEGIN_PREFIX) && !prompt.includes(END_MARK)) return { text: prompt, documents: [] };
  const documents: KvLinkDocumentInput[] = [];
  let text = "";
  let cursor = 0;
  for (;;) {
    const begin = prompt.indexOf(BEGIN_PREFIX, cursor);
    const gap = prompt.slice(cursor, begin === -1 ? undefined : begin);
    const strayEnd = gap.indexOf(END_MARK);
    if (strayEnd !== -1) {
      throw new InvalidInputError(`parseKVLinkPrompt: an end-of-document mark at index ${cursor + strayEnd} has no start mark`, {
        details: { index: cursor + strayEnd },
      });
    }
    if (begin === -1) {
      text = appendPiece(text, gap, documents.length > 0);
      break;
    }
    // Whitespace between two adjacent documents is the separator: drop it.
    text = appendPiece(text, documents.length > 0 && gap.trim().length === 0 ? "" : gap, documents.length > 0);
    const headerStart = begin + BEGIN_PREFIX.length;
    const headerEnd = prompt.indexOf(BEGIN_SUFFIX, headerStart);
    const header = headerEnd === -1 ? "" : prompt.slice(headerStart, headerEnd);
    const match = /^(\d+)(?::([^:]*))?$/.exec(header);
    if (match === null || match[1] === undefined) {
      throw new InvalidInputError(`parseKVLinkPrompt: malformed document mark at index ${begin}: expected "<length>[:<id>]", got "${header.slice(0, 40)}"`, {
        details: { index: begin },
      });
    }
    const length = Number(match[1]);
    const textStart = headerEnd + BEGIN_SUFFIX.length;
    const textEnd = textStart + length;
    if (!prompt.startsWith(END_MARK, textEnd)) {
      throw new InvalidInputError(
        `parseKVLinkPrompt: document ${documents.length} (mark at index ${begin}) should be ${length} characters followed by its end mark, ` +
          `but the end mark is not at index ${textEnd}: the prompt changed the document text, or the mark was cut`,
        { details: { index: begin, expectedLength: length, documentIndex: documents.length } },
      );
    }
    const id = match[2] === undefined ? undefined : safeDecode(match[2], begin);
    const docText = prompt.slice(textStart, textEnd);
    documents.push(id === undefined ? { text: docText } : { id, text: docText });
    cursor = textEnd + END_MARK.length;
  }
  return { text, documents };
}

/**
 * Appends prompt text. Where a document block was cut out, the whitespace on its two sides is merged into the
 * one with more line breaks (so "Context:\n{docs}\n\nQuestion" keeps one blank line), and none is kept at the start.
 */
function appendPiece(before: string, piece: string, afterDocument: boolean): string {
  if (!afterDocument) return before + piece;
  if (before.length === 0) return piece.trimStart();
  const left = /\s*$/.exec(before)?.[0] ?? "";
  const right = /^\s*/.exec(piece)?.[0] ?? "";
  const breaks = (ws: string): number => ws.split("\n").length - 1;
  const keep = breaks(left) > breaks(right) || (breaks(left) === breaks(right) && left.length >= right.length) ? left : right;
  return before.slice(0, before.length - left.length) + keep + piece.slice(right.length);
}

function documentText(doc: FormattableDocument, index: number): { text: string; id: string | undefined } {
  if (typeof doc === "string") return { text: doc, id: undefined };
  if (doc !== null && typeof doc === "object" && typeof doc.pageContent === "string") {
    return { text: doc.pageContent, id: typeof doc.id === "string" ? doc.id : undefined };
  }
  throw new InvalidInputError(`formatDocumentsForKVLink: document ${index} must be a Document or a string, got ${describe(doc)}`, {
    details: { index },
  });
}

function safeDecode(encoded: string, index: number): string {
  try {
    return decodeURIComponent(encoded);
  } catch (error) {
    throw new InvalidInputError(`parseKVLinkPrompt: document id in the mark at index ${index} is not URI-encoded`, { cause: error, details: { index } });
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? `an object with keys [${Object.keys(value).slice(0, 5).join(", ")}]` : typeof value;
}
