import { InvalidInputError, InvariantError } from "../../errors/KvLinkError.js";
import type { LogitsConstraint } from "../LogitsConstraint.js";
import type { AutomatonState } from "./ByteAutomaton.js";
import type { TokenMasker } from "./TokenMask.js";

/** Tokens before the end of the budget from which the shortest completion is checked (cached per automaton state). */
const CLOSING_WATCH_TOKENS = 160;

/**
 * One generation's walk through a grammar: masks each step's scores to the tokens whose bytes keep the output an
 * accepted text (TokenMasker), and follows the picked token. End-of-generation tokens are allowed only where the
 * text may end, so a forced JSON value is always finished before the model can stop.
 *
 * With a token budget (`maxTokens`, the generation's own limit), the value is also finished before the budget runs
 * out: once the tokens left are no more than the shortest completion needs (ByteAutomaton.closingPath, in bytes,
 * plus one), every step takes the longest token that is a prefix of that completion. A string that would run on
 * is closed, a required key that is missing is written with its shortest value, and the call still parses.
 */
export class GrammarConstraint implements LogitsConstraint {
  readonly #masker: TokenMasker;
  readonly #eos: ReadonlySet<number>;
  readonly #maxTokens: number | undefined;
  #state: AutomatonState;
  #ended = false;
  #accepted = 0;

  constructor(masker: TokenMasker, eosTokenIds: readonly number[], options: { readonly maxTokens?: number } = {}) {
    if (eosTokenIds.length === 0) throw new InvalidInputError("constrained decoding needs the tokenizer's end-of-generation token ids; this tokenizer has none");
    this.#masker = masker;
    this.#eos = new Set(eosTokenIds);
    this.#state = masker.automaton.initial;
    this.#maxTokens = options.maxTokens;
  }

  /** The automaton state after the tokens accepted so far. */
  get state(): AutomatonState {
    return this.#state;
  }

  /** An end-of-generation token was accepted. */
  get ended(): boolean {
    return this.#ended;
  }

  maskLogits(scores: Float64Array): void {
    if (this.#ended) throw new InvalidInputError("GrammarConstraint: a token was requested after end of generation");
    const closing = this.#closingToken();
    if (closing !== undefined) {
      for (let i = 0; i < scores.length; i++) if (i !== closing) scores[i] = -Infinity;
      if (!Number.isFinite(scores[closing]!)) scores[closing] = 0; // the model's score for it does not matter here
      return;
    }
    const mask = this.#masker.maskFor(this.#state);
    let numAllowed = 0;
    const n = Math.min(scores.length, this.#masker.trie.tokenBytes.length);
    for (let i = 0; i < n; i++) {
      if (((mask[i >>> 5]! >>> (i & 31)) & 1) === 0) scores[i] = -Infinity;
      else if (scores[i] !== -Infinity && !Number.isNaN(scores[i])) numAllowed++;
    }
    // Ids past the tokenizer's vocabulary (padding rows of the output layer) never carry text.
    for (let i = n; i < scores.length; i++) scores[i] = -Infinity;
    if (numAllowed === 0) {
      throw new InvalidInputError("constrained decoding: no token of the vocabulary can continue the output (the model gave every allowed token -Infinity)", {
        details: { stateId: this.#state.id },
      });
    }
  }

  /**
   * Under a budget that the shortest completion needs whole: the longest token whose bytes begin that completion.
   * Undefined otherwise (no budget, far from it, the text may already end, or no completion within reach).
   */
  #closingToken(): number | undefined {
    if (this.#maxTokens === undefined || this.#state.canEnd) return undefined;
    const left = this.#maxTokens - this.#accepted;
    if (left > CLOSING_WATCH_TOKENS) return undefined;
    const path = this.#masker.automaton.closingPath(this.#state);
    if (path === undefined || path.length + 1 < left) return undefined;
    const tokenBytes = this.#masker.trie.tokenBytes;
    let best = -1;
    let bestLength = 0;
    for (let id = 0; id < tokenBytes.length; id++) {
      const bytes = tokenBytes[id];
      if (bytes === undefined || bytes.length <= bestLength || bytes.length > path.length) continue;
      let prefix = true;
      for (let k = 0; k < bytes.length && prefix; k++) prefix = bytes[k] === path[k];
      if (prefix) {
        best = id;
        bestLength = bytes.length;
      }
    }
    return best < 0 ? undefined : best;
  }

  accept(tokenId: number): void {
    if (this.#ended) throw new InvalidInputError("GrammarConstraint: accept() after end of generation", { details: { tokenId } });
    this.#accepted++;
    if (this.#eos.has(tokenId)) {
      if (!this.#state.canEnd) throw new InvariantError(`GrammarConstraint: end-of-generation token ${tokenId} where the output may not end`, { details: { tokenId } });
      this.#ended = true;
      return;
    }
    const bytes = this.#masker.trie.tokenBytes[tokenId];
    const next = bytes === undefined ? this.#masker.automaton.afterControlToken(this.#state) : this.#masker.automaton.walk(this.#state, bytes);
    if (next === undefined) throw new InvariantError(`GrammarConstraint: token ${tokenId} does not continue the constrained output`, { details: { tokenId, stateId: this.#state.id } });
    this.#state = next;
  }
}
