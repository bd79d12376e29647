import { InvalidInputError, InvariantError } from "../../errors/KvLinkError.js";
import type { LogitsConstraint } from "../LogitsConstraint.js";
import type { AutomatonState } from "./ByteAutomaton.js";
import type { TokenMasker } from "./TokenMask.js";

/**
 * One generation's walk through a grammar: masks each step's scores to the tokens whose bytes keep the output an
 * accepted text (TokenMasker), and follows the picked token. End-of-generation tokens are allowed only where the
 * text may end, so a forced JSON value is always finished before the model can stop.
 */
export class GrammarConstraint implements LogitsConstraint {
  readonly #masker: TokenMasker;
  readonly #eos: ReadonlySet<number>;
  #state: AutomatonState;
  #ended = false;

  constructor(masker: TokenMasker, eosTokenIds: readonly number[]) {
    if (eosTokenIds.length === 0) throw new InvalidInputError("constrained decoding needs the tokenizer's end-of-generation token ids; this tokenizer has none");
    this.#masker = masker;
    this.#eos = new Set(eosTokenIds);
    this.#state = masker.automaton.initial;
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

  accept(tokenId: number): void {
    if (this.#ended) throw new InvalidInputError("GrammarConstraint: accept() after end of generation", { details: { tokenId } });
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
