/**
 * One implementation (ours, transformers.js, llama.cpp) generating greedily from the same prompt token ids,
 * for the acceptance tests and benchmarks/core/compareImplementations.ts.
 */
export interface GreedyResult {
  /** Exactly the requested number of new tokens: end-of-generation tokens do not stop the run. */
  readonly tokenIds: number[];
  /** From the call until the first new token is known (prompt forward pass + argmax). */
  readonly prefillMs: number;
  /** From the first new token until the last one (numNewTokens - 1 decode steps). */
  readonly decodeMs: number;
}

export interface GreedyRunner extends AsyncDisposable {
  /** Short label for tables, e.g. "ours q4". */
  readonly name: string;
  greedy(promptIds: readonly number[], numNewTokens: number): Promise<GreedyResult>;
  dispose(): Promise<void>;
}

/** Index of the largest value of row `row` (first one on ties). */
export function argmaxRow(logits: Float32Array, vocabSize: number, row = 0): number {
  const base = row * vocabSize;
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < vocabSize; i++) {
    const v = logits[base + i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** How many leading tokens two runs share (identical up to the first divergence). */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
