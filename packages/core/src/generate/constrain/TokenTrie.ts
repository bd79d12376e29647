import { BYTE_LEVEL_ALPHABET } from "../../tokenizer/byteLevelPreTokenize.js";
import type { Tokenizer } from "../../tokenizer/Tokenizer.js";

/**
 * The vocabulary as a byte trie: every token that stands for text, by the bytes it adds to the output, with tokens
 * sharing a prefix sharing its nodes. A mask walk (TokenMask.ts) steps the automaton once per trie node instead of
 * once per byte of every token, and drops a whole subtree at the first byte the automaton refuses.
 *
 * Flat typed arrays: node n's children are firstChild[n], nextSibling[firstChild[n]], ...; edgeByte[c] is the byte
 * into c; tokens ending at n are tokenIds[tokenStart[n] .. tokenStart[n + 1]).
 */
export class TokenTrie {
  readonly firstChild: Int32Array;
  readonly nextSibling: Int32Array;
  readonly edgeByte: Uint8Array;
  readonly tokenStart: Int32Array;
  readonly tokenIds: Int32Array;
  /** Bytes of each token id (undefined: a control token, or an id without text). */
  readonly tokenBytes: readonly (Uint8Array | undefined)[];
  /** Ids without text that the tokenizer marks special (control tokens such as EOS). */
  readonly controlTokenIds: readonly number[];

  constructor(tokenBytes: readonly (Uint8Array | undefined)[], controlTokenIds: readonly number[]) {
    this.tokenBytes = tokenBytes;
    this.controlTokenIds = [...controlTokenIds];
    // Tokens sorted by their bytes come in the trie's depth-first order: each one shares a path with the previous
    // token up to their common prefix and adds nodes below it, numbered in that order (a subtree is one id range).
    const ids: number[] = [];
    for (let id = 0; id < tokenBytes.length; id++) if ((tokenBytes[id]?.length ?? 0) > 0) ids.push(id);
    ids.sort((a, b) => compareBytes(tokenBytes[a]!, tokenBytes[b]!) || a - b);
    let numNodes = 1;
    for (let k = 0; k < ids.length; k++) {
      const bytes = tokenBytes[ids[k]!]!;
      numNodes += k === 0 ? bytes.length : bytes.length - commonPrefix(tokenBytes[ids[k - 1]!]!, bytes);
    }
    this.firstChild = new Int32Array(numNodes).fill(-1);
    this.nextSibling = new Int32Array(numNodes).fill(-1);
    this.edgeByte = new Uint8Array(numNodes);
    this.tokenStart = new Int32Array(numNodes + 1);
    this.tokenIds = Int32Array.from(ids);
    const path = [0]; // path[d] = node at depth d of the previous token
    const lastChild = new Int32Array(numNodes).fill(-1);
    let next = 1;
    for (let k = 0; k < ids.length; k++) {
      const bytes = tokenBytes[ids[k]!]!;
      const shared = k === 0 ? 0 : commonPrefix(tokenBytes[ids[k - 1]!]!, bytes);
      path.length = shared + 1;
      for (let d = shared; d < bytes.length; d++) {
        const parent = path[d]!;
        const node = next++;
        this.edgeByte[node] = bytes[d]!;
        this.tokenStart[node] = k;
        if (lastChild[parent] === -1) this.firstChild[parent] = node;
        else this.nextSibling[lastChild[parent]!] = node;
        lastChild[parent] = node;
        path.push(node);
      }
    }
    // Token k ends at the node made for its last byte (or at the previous token's, for equal bytes): node n's tokens
    // are those from tokenStart[n] up to the next node's start.
    this.tokenStart[numNodes] = ids.length;
    this.tokenStart[0] = 0;
    for (let n = 1; n < numNodes; n++) if (this.tokenStart[n]! < this.tokenStart[n - 1]!) this.tokenStart[n] = this.tokenStart[n - 1]!;
  }

  get numNodes(): number {
    return this.firstChild.length;
  }

  /** The trie of a tokenizer's vocabulary (cached per tokenizer object). */
  static forTokenizer(tokenizer: Tokenizer): TokenTrie {
    let trie = TRIES.get(tokenizer);
    if (trie === undefined) {
      const bytes = computeTokenBytes(tokenizer);
      const control: number[] = [];
      for (const id of tokenizer.specialTokenIds) if (bytes[id] === undefined) control.push(id);
      trie = new TokenTrie(bytes, control);
      TRIES.set(tokenizer, trie);
    }
    return trie;
  }
}

const TRIES = new WeakMap<Tokenizer, TokenTrie>();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function commonPrefix(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
const utf8 = new TextEncoder();

/**
 * The bytes each token adds to decoded text. Byte-level BPE (GPT-2, SmolLM2, Qwen2, Llama 3): the token string is
 * over GPT-2's printable alphabet, one character per byte, so a token can hold part of a UTF-8 character.
 * SentencePiece-style vocabularies: `▁` is a space and `<0xNN>` is the byte NN. Special tokens have no bytes.
 */
export function computeTokenBytes(tokenizer: Tokenizer): (Uint8Array | undefined)[] {
  const charToByte = new Map<string, number>(BYTE_LEVEL_ALPHABET.map((c, b) => [c, b]));
  const probe = tokenizer.encode(" a", { specialTokens: "text" }).map((id) => tokenizer.idToToken(id) ?? "").join("");
  const byteLevel = probe.includes("\u0120"); // "Ġ": GPT-2's stand-in for the space byte
  const out: (Uint8Array | undefined)[] = new Array(tokenizer.vocabSize);
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (tokenizer.specialTokenIds.has(id)) continue;
    const token = tokenizer.idToToken(id);
    if (token === undefined || token.length === 0) continue;
    const byteFallback = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
    if (byteFallback !== null) {
      out[id] = Uint8Array.of(parseInt(byteFallback[1]!, 16));
      continue;
    }
    if (byteLevel) {
      const bytes = new Uint8Array(token.length);
      let ok = true;
      for (let i = 0; i < token.length; i++) {
        const b = charToByte.get(token[i]!);
        if (b === undefined) {
          ok = false;
          break;
        }
        bytes[i] = b;
      }
      // An added token outside the alphabet is literal text.
      out[id] = ok ? bytes : utf8.encode(token);
    } else {
      out[id] = utf8.encode(token.replaceAll("\u2581", " "));
    }
  }
  return out;
}
