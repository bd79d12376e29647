import { randomBytes } from "node:crypto";
import { InvalidInputError } from "../errors/KvLinkError.js";
import type { LogitsConstraint } from "./LogitsConstraint.js";
import { parseSamplingOptions, type SamplingOptions, type SamplingOptionsInput } from "./SamplingOptionsSchema.js";

/** The candidates left after all filters, most likely first, with probabilities summing to 1. */
export interface TokenDistribution {
  readonly ids: Int32Array;
  readonly probs: Float64Array;
}

/**
 * Picks the next token from logits, with HF's order and semantics: repetition penalty, then temperature,
 * top-k, top-p, then a draw from a seeded PRNG (deterministic for a given seed and call sequence).
 * Greedy (or temperature 0) takes the argmax, lowest id on ties. An optional constraint (constrained decoding)
 * masks the scores after the penalty and before everything else, and is told each token picked.
 */
export class Sampler {
  readonly options: Readonly<Pick<SamplingOptions, "greedy" | "temperature" | "topK" | "topP" | "repetitionPenalty">> & {
    readonly seed: number;
  };
  readonly #random: () => number;
  readonly #constraint: LogitsConstraint | undefined;

  constructor(options: SamplingOptionsInput = {}, extra: { readonly constraint?: LogitsConstraint | undefined } = {}) {
    this.#constraint = extra.constraint;
    const parsed = parseSamplingOptions(options);
    const seed = parsed.seed ?? randomBytes(4).readUInt32LE(0);
    this.options = {
      greedy: parsed.greedy || parsed.temperature === 0,
      temperature: parsed.temperature,
      topK: parsed.topK,
      topP: parsed.topP,
      repetitionPenalty: parsed.repetitionPenalty,
      seed,
    };
    this.#random = createPrng(seed);
  }

  /** The next token id. `previousIds` (prompt and generated so far) feed the repetition penalty. */
  sample(logits: Float32Array, previousIds: readonly number[] = []): number {
    const id = this.#pick(logits, previousIds);
    this.#constraint?.accept(id);
    return id;
  }

  #pick(logits: Float32Array, previousIds: readonly number[]): number {
    const scores = this.#penalized(logits, previousIds);
    if (this.options.greedy) return argmax(scores);
    const { weights, total } = this.#weights(scores);
    if (this.options.topP < 1) {
      const ids = this.#topP(weights, total);
      let keptTotal = 0;
      for (const id of ids) keptTotal += weights[id] as number;
      return draw(ids, weights, this.#random() * keptTotal);
    }
    // No top-p: draw in id order, no sort needed.
    const target = this.#random() * total;
    let cumulative = 0;
    let last = -1;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      if (w === 0) continue;
      cumulative += w;
      last = i;
      if (target < cumulative) return i;
    }
    return last; // target within rounding of total
  }

  /** The distribution sample() draws from (greedy: the argmax with probability 1). Pure: no PRNG step. */
  computeDistribution(logits: Float32Array, previousIds: readonly number[] = []): TokenDistribution {
    const scores = this.#penalized(logits, previousIds);
    if (this.options.greedy) return { ids: Int32Array.of(argmax(scores)), probs: Float64Array.of(1) };
    const { weights, total } = this.#weights(scores);
    let ids: number[];
    if (this.options.topP < 1) {
      ids = this.#topP(weights, total);
    } else {
      ids = [];
      for (let i = 0; i < weights.length; i++) if ((weights[i] as number) > 0) ids.push(i);
    }
    ids.sort((a, b) => (weights[b] as number) - (weights[a] as number) || a - b);
    let keptTotal = 0;
    for (const id of ids) keptTotal += weights[id] as number;
    return { ids: Int32Array.from(ids), probs: Float64Array.from(ids, (id) => (weights[id] as number) / keptTotal) };
  }

  #penalized(logits: Float32Array, previousIds: readonly number[]): Float64Array {
    if (logits.length === 0) throw new InvalidInputError("Sampler: logits are empty");
    const scores = Float64Array.from(logits);
    const penalty = this.options.repetitionPenalty;
    if (penalty !== 1) this.#penalize(scores, previousIds, penalty);
    this.#constraint?.maskLogits(scores);
    return scores;
  }

  #penalize(scores: Float64Array, previousIds: readonly number[], penalty: number): void {
    const seen = new Set<number>();
    for (let i = 0; i < previousIds.length; i++) {
      const id = previousIds[i] as number;
      if (!Number.isInteger(id) || id < 0 || id >= scores.length) {
        throw new InvalidInputError(`Sampler: previousIds[${i}] = ${id} is outside the vocabulary [0, ${scores.length})`, {
          details: { index: i, tokenId: id, vocabSize: scores.length },
        });
      }
      if (seen.has(id)) continue;
      seen.add(id);
      const s = scores[id] as number;
      scores[id] = s < 0 ? s * penalty : s / penalty;
    }
  }

  /** Unnormalized softmax weights after temperature and top-k (0 = removed). */
  #weights(scores: Float64Array): { weights: Float64Array; total: number } {
    const { temperature, topK } = this.options;
    let max = -Infinity;
    let numFinite = 0;
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i] as number;
      if (Number.isNaN(s) || s === -Infinity) continue;
      if (s === Infinity) throw new InvalidInputError(`Sampler: logit ${i} is +Infinity`, { details: { tokenId: i } });
      numFinite++;
      if (s > max) max = s;
    }
    if (numFinite === 0) throw new InvalidInputError("Sampler: no finite logit to sample from", { details: { vocabSize: scores.length } });

    // Top-k threshold: the k-th largest score; ties with it are kept, as HF's TopKLogitsWarper does.
    const threshold = topK > 0 && topK < numFinite ? kthLargest(scores, topK) : -Infinity;
    const weights = new Float64Array(scores.length);
    let total = 0;
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i] as number;
      if (!(s >= threshold) || s === -Infinity) continue; // also drops NaN
      const w = Math.exp((s - max) / temperature);
      weights[i] = w;
      total += w;
    }
    return { weights, total };
  }

  /**
   * Top-p: the kept ids, in id order. A token is kept iff the mass ranked strictly above it is < topP (ties
   * ranked by id). Tokens with probability ≥ t whose mass already reaches topP contain every kept token, so
   * only they are considered; t shrinks until that holds. Sorting is on a typed array of weights (native).
   */
  #topP(weights: Float64Array, total: number): number[] {
    const { topP } = this.options;
    let candidates: number[] = [];
    for (let t = 1 / 256; ; t /= 64) {
      candidates = [];
      let mass = 0;
      for (let i = 0; i < weights.length; i++) {
        const p = (weights[i] as number) / total;
        if (p > 0 && p >= t) {
          candidates.push(i);
          mass += p;
        }
      }
      if (mass >= topP || t < 1e-300) break;
    }
    const sorted = Float64Array.from(candidates, (id) => weights[id] as number).sort();
    let numKept = 0;
    let before = 0;
    for (let r = sorted.length - 1; r >= 0; r--) {
      if (numKept > 0 && before >= topP) break;
      before += (sorted[r] as number) / total;
      numKept++;
    }
    const cutoff = sorted[sorted.length - numKept] as number;
    let tiesToKeep = numKept;
    for (const id of candidates) if ((weights[id] as number) > cutoff) tiesToKeep--;
    const kept: number[] = [];
    for (const id of candidates) {
      const w = weights[id] as number;
      if (w > cutoff) kept.push(id);
      else if (w === cutoff && tiesToKeep > 0) {
        kept.push(id);
        tiesToKeep--;
      }
    }
    return kept;
  }
}

/** Walks `ids` in order and returns the one whose cumulative weight passes `target`. */
function draw(ids: readonly number[], weights: Float64Array, target: number): number {
  let cumulative = 0;
  for (const id of ids) {
    cumulative += weights[id] as number;
    if (target < cumulative) return id;
  }
  return ids[ids.length - 1] as number;
}

/** Index of the largest score (NaN ignored), lowest index on ties. */
function argmax(scores: Float64Array): number {
  let best = -1;
  let bestScore = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (s > bestScore || (best === -1 && s === -Infinity)) {
      best = i;
      bestScore = s;
    }
  }
  if (best === -1) throw new InvalidInputError("Sampler: every logit is NaN", { details: { vocabSize: scores.length } });
  return best;
}

/** The k-th largest finite score (1-based k), by quickselect on a copy: O(V) on average. */
function kthLargest(scores: Float64Array, k: number): number {
  const a = new Float64Array(scores.length);
  let n = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (Number.isFinite(s)) a[n++] = s;
  }
  const target = n - k; // index in ascending order
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const tmp = a[i] as number;
        a[i] = a[j] as number;
        a[j] = tmp;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return a[target] as number;
}

/** xoshiro128** seeded through splitmix32; returns doubles in [0, 1) with 53 random bits. */
function createPrng(seed: number): () => number {
  let x = seed >>> 0;
  const splitmix = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d >>> 0, 11);
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    return result;
  };
  return () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
