import { AssertionError } from "node:assert";

export interface AllCloseOptions {
  /** Absolute tolerance. */
  readonly atol: number;
  /** Relative tolerance (of |expected|), default 0. */
  readonly rtol?: number;
  /** What is compared, for the failure message (e.g. "logits layer 0"). */
  readonly what?: string;
}

/** Largest |a[i] − b[i]| and its index (NaN anywhere counts as Infinity); lengths must match. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { maxAbsDiff: number; index: number } {
  if (a.length !== b.length) throw new AssertionError({ message: `maxAbsDiff: lengths differ (${a.length} vs ${b.length})` });
  let max = 0;
  let index = -1;
  for (let i = 0; i < a.length; i++) {
    let d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) d = Infinity;
    if (d > max || index === -1) {
      max = d;
      index = i;
    }
  }
  return { maxAbsDiff: max, index };
}

/**
 * Asserts |actual[i] − expected[i]| ≤ atol + rtol·|expected[i]| for every i (NaN never passes). The failure
 * message gives the max abs diff with its index and the first violating element.
 */
export function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, options: AllCloseOptions): void {
  const { atol, rtol = 0, what = "values" } = options;
  if (actual.length !== expected.length) {
    throw new AssertionError({
      message: `${what}: length ${actual.length}, expected ${expected.length}`,
      actual: actual.length,
      expected: expected.length,
      operator: "assertAllClose",
    });
  }
  let firstBad = -1;
  let numBad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const ok = Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) {
      numBad++;
      if (firstBad === -1) firstBad = i;
    }
  }
  if (numBad === 0) return;
  const { maxAbsDiff: m, index } = maxAbsDiff(actual, expected);
  throw new AssertionError({
    message:
      `${what}: ${numBad}/${actual.length} elements not close (atol ${atol}, rtol ${rtol}); ` +
      `max abs diff ${m} at index ${index} (actual ${actual[index]}, expected ${expected[index]}); ` +
      `first at index ${firstBad} (actual ${actual[firstBad]}, expected ${expected[firstBad]})`,
    operator: "assertAllClose",
  });
}
