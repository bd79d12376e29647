import type { AutomatonState, ByteAutomaton } from "./ByteAutomaton.js";
import type { TokenTrie } from "./TokenTrie.js";

export interface TokenMaskOptions {
  /** End-of-generation ids: allowed exactly where the automaton may end. */
  readonly eosTokenIds: readonly number[];
  /** Masks kept per automaton state (each is a bitset of vocabSize bits: 6 KiB for 49k tokens). Default 512. */
  readonly maxCachedMasks?: number;
}

/**
 * Which tokens may come next, per automaton state: a depth-first walk of the vocabulary trie that steps the
 * automaton once per trie node and skips a subtree at the first refused byte. Masks are cached per state (the same
 * state recurs: inside a string, between properties), and the automaton caches its own transitions, so repeated
 * walks are array lookups. One masker serves any number of generations over the same automaton and vocabulary.
 */
export class TokenMasker {
  readonly automaton: ByteAutomaton;
  readonly trie: TokenTrie;
  readonly #eos: readonly number[];
  readonly #maxCached: number;
  readonly #stateToMask = new Map<number, Uint32Array>();
  /** Scratch stacks for the walk (trie node, automaton state id), reused. */
  #nodes: Int32Array<ArrayBuffer> = new Int32Array(1024);
  #states: Int32Array<ArrayBuffer> = new Int32Array(1024);
  /** Trie nodes visited by walks so far (for benchmarks). */
  numNodesVisited = 0;

  constructor(automaton: ByteAutomaton, trie: TokenTrie, options: TokenMaskOptions) {
    this.automaton = automaton;
    this.trie = trie;
    this.#eos = [...options.eosTokenIds];
    this.#maxCached = options.maxCachedMasks ?? 512;
  }

  /** A bitset over the tokenizer's ids of the tokens that may come next in `state` (cached; do not modify). */
  maskFor(state: AutomatonState): Uint32Array {
    let mask = this.#stateToMask.get(state.id);
    if (mask !== undefined) {
      // Most recently used last.
      this.#stateToMask.delete(state.id);
      this.#stateToMask.set(state.id, mask);
      return mask;
    }
    mask = this.#compute(state);
    this.#stateToMask.set(state.id, mask);
    if (this.#stateToMask.size > this.#maxCached) this.#stateToMask.delete(this.#stateToMask.keys().next().value!);
    return mask;
  }

  #compute(state: AutomatonState): Uint32Array {
    const { trie, automaton } = this;
    const numIds = trie.tokenBytes.length;
    const mask = new Uint32Array((numIds + 31) >>> 5);
    if (state.canEnd) for (const id of this.#eos) if (id < numIds) mask[id >>> 5]! |= 1 << (id & 31);
    if (state.inFreeText) for (const id of trie.controlTokenIds) mask[id >>> 5]! |= 1 << (id & 31);
    const { firstChild, nextSibling, edgeByte, tokenStart, tokenIds } = trie;
    let nodes = this.#nodes;
    let states = this.#states;
    nodes[0] = 0;
    states[0] = state.id;
    let top = 0;
    let visited = 0;
    while (top >= 0) {
      // Pop a node whose automaton state is live; mark its tokens; push its live children.
      const node = nodes[top]!;
      const s = states[top]!;
      top--;
      visited++;
      for (let i = tokenStart[node]!, end = tokenStart[node + 1]!; i < end; i++) {
        const id = tokenIds[i]!;
        mask[id >>> 5]! |= 1 << (id & 31);
      }
      for (let c = firstChild[node]!; c !== -1; c = nextSibling[c]!) {
        const n = automaton.nextId(s, edgeByte[c]!);
        if (n < 0) continue;
        if (++top >= nodes.length) {
          nodes = grow(nodes);
          states = grow(states);
          this.#nodes = nodes;
          this.#states = states;
        }
        nodes[top] = c;
        states[top] = n;
      }
    }
    this.numNodesVisited += visited;
    return mask;
  }
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(a.length * 2);
  grown.set(a);
  return grown;
}

/** Whether a mask from TokenMasker.maskFor allows token `id`. */
export function maskAllows(mask: Uint32Array, id: number): boolean {
  return ((mask[id >>> 5] ?? 0) >>> (id & 31)) & 1 ? true : false;
}
