/**
 * GPT-2 byte-level pre-tokenization as SmolLM2 configures it: Digits(individual) then ByteLevel (GPT-2 regex,
 * no prefix space), each piece's UTF-8 bytes mapped to GPT-2's printable alphabet. Used to train the tiny
 * tokenizer's merges on exactly the pieces @huggingface/tokenizers will later hand to the BPE model.
 */

/** GPT-2's byte → printable character table: index = byte value. */
export const BYTE_LEVEL_ALPHABET: readonly string[] = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + next++);
  }
  return table;
})();

const DIGITS_PATTERN = /[^\d]+|\d/gu;
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const utf8 = new TextEncoder();

/** Splits text into byte-level pieces (each a string over BYTE_LEVEL_ALPHABET). */
export function byteLevelPreTokenize(text: string): string[] {
  const pieces: string[] = [];
  for (const digitPiece of text.match(DIGITS_PATTERN) ?? []) {
    for (const piece of digitPiece.match(GPT2_PATTERN) ?? []) {
      let mapped = "";
      for (const byte of utf8.encode(piece)) mapped += BYTE_LEVEL_ALPHABET[byte];
      pieces.push(mapped);
    }
  }
  return pieces;
}
