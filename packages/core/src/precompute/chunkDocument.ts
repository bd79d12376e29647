import { InvalidInputError } from "../errors/KvLinkError.js";

/** One document cut from a longer text. */
export interface DocumentChunk {
  readonly text: string;
  /** `countTokens(text)`: at most the budget. */
  readonly numTokens: number;
}

export interface ChunkDocumentOptions {
  /** Most tokens per chunk, as `countTokens` measures them (≥ 1). */
  readonly maxTokens: number;
  /** Tokens of a text as the engine would cache it (e.g. `engine.countTokens`). Must not be additive. */
  readonly countTokens: (text: string) => number;
}

interface Paragraph {
  readonly text: string;
  /** A markdown heading opens this paragraph (and the section that runs to the next heading). */
  readonly startsSection: boolean;
}

const HEADING = /^ {0,3}#{1,6}(?:\s|$)/;
const SETEXT_UNDERLINE = /^ {0,3}(?:=+|-+)\s*$/;
const PARAGRAPH_SEPARATOR = "\n\n";
const MAX_CHARS_PER_TOKEN = 64;

/**
 * Cuts a text into documents of at most `maxTokens` tokens each. The text is split at markdown headings and blank
 * lines into paragraphs; paragraphs are packed in order, a section (heading to next heading) starting a new chunk
 * when it does not fit into the current one; a paragraph larger than the budget is split at sentence ends, then at
 * whitespace, then (for a run of text without whitespace) at code-point boundaries found by binary search, so every
 * chunk's real token count (not an estimate) stays within the budget. Chunks keep the text's words, with blank lines
 * between packed paragraphs. An empty (whitespace-only) text gives no chunk. Pure: no I/O.
 */
export function chunkDocument(text: string, options: ChunkDocumentOptions): DocumentChunk[] {
  const { maxTokens, countTokens } = options;
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 1) {
    throw new InvalidInputError(`chunkDocument: maxTokens must be a positive integer, got ${maxTokens}`, { details: { maxTokens } });
  }
  if (text.trim() === "") return [];
  const whole = countTokens(text.trim());
  if (whole <= maxTokens) return [{ text: text.trim(), numTokens: whole }];

  const paragraphs = splitParagraphs(text);
  const chunks: DocumentChunk[] = [];
  let current: { text: string; numTokens: number } | undefined;
  const flush = (): void => {
    if (current !== undefined) chunks.push(current);
    current = undefined;
  };
  /** Appends `piece` to the current chunk when the joined text fits, else returns false. */
  const tryAppend = (piece: string, separator: string): boolean => {
    const joined = current === undefined ? piece : `${current.text}${separator}${piece}`;
    const numTokens = countTokens(joined);
    if (numTokens > maxTokens) return false;
    current = { text: joined, numTokens };
    return true;
  };
  const addPiece = (piece: string, separator: string): void => {
    if (tryAppend(piece, separator)) return;
    flush();
    if (tryAppend(piece, separator)) return;
    for (const part of splitOversize(piece, maxTokens, countTokens)) {
      if (!tryAppend(part.text, part.separator)) {
        flush();
        current = { text: part.text, numTokens: countTokens(part.text) };
      }
    }
  };

  for (let i = 0; i < paragraphs.length; i++) {
    const paragraph = paragraphs[i]!;
    if (paragraph.startsSection && current !== undefined) {
      // Keep a section whole when it fits in the rest of this chunk; otherwise start it in a new one.
      let end = i + 1;
      while (end < paragraphs.length && !paragraphs[end]!.startsSection) end++;
      const section = paragraphs.slice(i, end).map((p) => p.text).join(PARAGRAPH_SEPARATOR);
      if (countTokens(`${current.text}${PARAGRAPH_SEPARATOR}${section}`) > maxTokens) flush();
    }
    addPiece(paragraph.text, PARAGRAPH_SEPARATOR);
  }
  flush();
  return chunks;
}

/** Paragraphs: runs of non-blank lines; a heading line (ATX `#`, or setext underline) also starts one. */
function splitParagraphs(text: string): Paragraph[] {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const paragraphs: Paragraph[] = [];
  let buffer: string[] = [];
  let startsSection = false;
  const flush = (): void => {
    const joined = buffer.join("\n").trim();
    if (joined !== "") paragraphs.push({ text: joined, startsSection });
    buffer = [];
    startsSection = false;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") {
      flush();
      continue;
    }
    const next = lines[i + 1];
    const setextHeading = buffer.length === 0 && next !== undefined && SETEXT_UNDERLINE.test(next) && !HEADING.test(line);
    if (HEADING.test(line) || setextHeading) {
      flush();
      startsSection = true;
    }
    buffer.push(line);
  }
  flush();
  return paragraphs;
}

interface Part {
  readonly text: string;
  /** What joins this part to the one before it inside a chunk. */
  readonly separator: string;
}

/** Pieces of an oversize paragraph, each within the budget: sentences, else words, else code points. */
function splitOversize(paragraph: string, maxTokens: number, countTokens: (text: string) => number): Part[] {
  const parts: Part[] = [];
  for (const sentence of splitSentences(paragraph)) {
    if (countTokens(sentence) <= maxTokens) {
      parts.push({ text: sentence, separator: " " });
      continue;
    }
    let separator = " ";
    let rest = sentence;
    while (rest !== "") {
      const cut = longestFittingPrefix(rest, maxTokens, countTokens);
      parts.push({ text: rest.slice(0, cut).trimEnd(), separator });
      // A cut inside a word joins without a space, so the words stay intact when packed again.
      separator = /\s/u.test(rest[cut - 1] ?? "") || /\s/u.test(rest[cut] ?? "") ? " " : "";
      rest = rest.slice(cut).trimStart();
    }
  }
  return parts.filter((p) => p.text !== "");
}

/** Sentences: split after `.`, `!`, `?` (optionally closed by quotes or brackets) followed by whitespace. */
function splitSentences(paragraph: string): string[] {
  return paragraph
    .split(/(?<=[.!?。！？]["')\]’”]*)\s+/u)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/**
 * Length (in UTF-16 units, never inside a surrogate pair) of the longest prefix of `text` within the budget,
 * preferring to end at whitespace; at least one code point, so progress is guaranteed (InvalidInputError when not
 * even one code point fits).
 */
function longestFittingPrefix(text: string, maxTokens: number, countTokens: (text: string) => number): number {
  const boundaries: number[] = [];
  // No token spans more than MAX_CHARS_PER_TOKEN characters in practice: searching further only costs time.
  const limit = Math.min(text.length, maxTokens * MAX_CHARS_PER_TOKEN);
  for (let i = 1; i <= limit; i++) {
    const code = text.charCodeAt(i - 1);
    if (code >= 0xd800 && code <= 0xdbff && i < text.length) continue; // high surrogate: not a boundary
    boundaries.push(i);
  }
  // Binary search: the last boundary whose prefix fits.
  let lo = 0;
  let hi = boundaries.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (countTokens(text.slice(0, boundaries[mid]!).trimEnd()) <= maxTokens) {
      best = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (best === -1) {
    throw new InvalidInputError(
      `chunkDocument: maxTokens ${maxTokens} is too small: ${JSON.stringify(text.slice(0, 2))} alone takes ${countTokens(text.slice(0, boundaries[0]))} tokens`,
      { details: { maxTokens } },
    );
  }
  const fit = boundaries[best]!;
  if (fit === text.length || /\s/u.test(text[fit]!)) return fit;
  // Prefer to end before the last whitespace inside the fitting prefix (a whole-word cut), if that still fits.
  const lastSpace = text.slice(0, fit).search(/\s\S*$/u);
  if (lastSpace > 0 && countTokens(text.slice(0, lastSpace).trimEnd()) <= maxTokens) return lastSpace;
  return fit;
}
