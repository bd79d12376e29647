import type { RopeSpec } from "./RopeSpec.js";
import { rerotateKeysInPlace } from "./rerotateKeysInPlace.js";
import type { KeyBufferShape } from "./rerotateKeysInPlace.js";

/**
 * Returns a copy of post-RoPE `keys` [numHeads, numTokens, headDim] moved from `fromPositions` to
 * `toPositions` (one per token). See rerotateKeysInPlace for the math and the errors thrown.
 */
export function rerotateKeys(
  keys: Float32Array,
  shape: KeyBufferShape,
  { fromPositions, toPositions }: { fromPositions: ArrayLike<number>; toPositions: ArrayLike<number> },
  rope: RopeSpec,
): Float32Array {
  const out = new Float32Array(keys);
  rerotateKeysInPlace(out, shape, { fromPositions, toPositions }, rope);
  return out;
}
