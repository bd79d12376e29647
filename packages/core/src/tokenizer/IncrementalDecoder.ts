import type { DecodeOptions, Tokenizer } from "./Tokenizer.js";

const REPLACEMENT_CHAR = "\uFFFD";

/**
 * Turns a growing token stream into text pieces whose concatenation equals decoding the whole stream, without
 * ever splitting a multi-byte UTF-8 character: a piece whose text ends in U+FFFD (an incomplete byte sequence)
 * is held back until the next token completes it, or until flush().
 *
 * Each step decodes a short window (the previous piece's tokens plus the new ones) and emits the difference,
 * so context-dependent decoders (e.g. Metaspace's leading space) still come out right, in O(window) per token.
 */
export class IncrementalDecoder {
  readonly #tokenizer: Pick<Tokenizer, "decode">;
  readonly #options: DecodeOptions;
  readonly #ids: number[] = [];
  /** Start of the window decoded for context. */
  #prefixOffset = 0;
  /** Tokens before this index have been emitted. */
  #readOffset = 0;

  constructor(tokenizer: Pick<Tokenizer, "decode">, options: DecodeOptions = {}) {
    this.#tokenizer = tokenizer;
    // Clean-up would rewrite already-emitted text (" ." → "."): streams decode without it.
    this.#options = { cleanUpTokenizationSpaces: false, ...options };
  }

  /** All tokens pushed so far. */
  get ids(): readonly number[] {
    return this.#ids;
  }

  /** Adds tokens; returns the text they complete ("" while a character is still incomplete). */
  push(ids: number | readonly number[]): string {
    if (typeof ids === "number") this.#ids.push(ids);
    else this.#ids.push(...ids);
    const prefixText = this.#decode(this.#prefixOffset, this.#readOffset);
    const fullText = this.#decode(this.#prefixOffset, this.#ids.length);
    if (fullText.length > prefixText.length && !fullText.endsWith(REPLACEMENT_CHAR)) {
      this.#prefixOffset = this.#readOffset;
      this.#readOffset = this.#ids.length;
      return fullText.slice(prefixText.length);
    }
    return "";
  }

  /** Returns whatever is held back (possibly ending in U+FFFD) and marks everything as emitted. */
  flush(): string {
    if (this.#readOffset === this.#ids.length) return "";
    const prefixText = this.#decode(this.#prefixOffset, this.#readOffset);
    const fullText = this.#decode(this.#prefixOffset, this.#ids.length);
    this.#prefixOffset = this.#readOffset;
    this.#readOffset = this.#ids.length;
    return fullText.slice(prefixText.length);
  }

  #decode(start: number, end: number): string {
    return start >= end ? "" : this.#tokenizer.decode(this.#ids.slice(start, end), this.#options);
  }
}
