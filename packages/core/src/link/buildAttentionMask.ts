import { InvalidInputError } from "../errors/KvLinkError.js";

/**
 * The KVLink attention rule as a mask: a query at global position p may attend to every key (cached or
 * fresh) at a position <= p. Returns a row-major boolean matrix [numQueries][numKeys] as bytes
 * (1 = attend), where keys = the existing slots followed by the queries themselves, so the shape is
 * [S][P+S] as the decoder graph expects.
 *
 * Document tokens are never queries here: they were encoded alone, so they see only their own document.
 */
export function buildPositionMask(slotPositions: ArrayLike<number>, queryPositions: ArrayLike<number>): Uint8Array {
  const numPast = slotPositions.length;
  const numQueries = queryPositions.length;
  const numKeys = numPast + numQueries;
  const mask = new Uint8Array(numQueries * numKeys);
  for (let i = 0; i < numQueries; i++) {
    const p = queryPositions[i]!;
    const row = i * numKeys;
    for (let j = 0; j < numPast; j++) if (slotPositions[j]! <= p) mask[row + j] = 1;
    for (let j = 0; j < numQueries; j++) if (queryPositions[j]! <= p) mask[row + numPast + j] = 1;
    if (mask[row + numPast + i] !== 1) {
      throw new InvalidInputError(`query ${i} at position ${p} cannot attend to itself`, { details: { index: i } });
    }
  }
  return mask;
}

/**
 * The equivalent single-pass block mask over a whole layout in position order (what the KVLink authors
 * train with, and what tests compare against): tokens of document k see only earlier tokens of document k;
 * every other token sees every earlier position. `segmentOf[p]` is 0 for fresh tokens and k >= 1 for the
 * tokens of the k-th placed document.
 */
export function buildBlockMask(segmentOf: ArrayLike<number>): boolean[][] {
  const n = segmentOf.length;
  const rows: boolean[][] = [];
  for (let i = 0; i < n; i++) {
    const si = segmentOf[i]!;
    const row = new Array<boolean>(n).fill(false);
    for (let j = 0; j <= i; j++) row[j] = si === 0 ? true : segmentOf[j] === si;
    rows.push(row);
  }
  return rows;
}
