/**
 * Restricts which token may come next (constrained decoding). The Sampler calls `maskLogits` on the scores of every
 * step, before temperature, top-k and top-p, and `accept` with the token it picked, so a constraint sees exactly the
 * tokens that were generated.
 */
export interface LogitsConstraint {
  /** Sets the score of every token that may not come next to -Infinity, in place. */
  maskLogits(scores: Float64Array): void;
  /** Advances past the token the sampler picked. */
  accept(tokenId: number): void;
}
