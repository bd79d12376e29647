import type { KvBlock } from "../../packages/core/src/runtime/Runtime.js";
import type { KvGeometry } from "../../packages/core/src/runtime/SequenceKv.js";

/**
 * A KvBlock of `n` tokens at positions 0..n-1 in which every value differs (a sine of the seed, the array and the
 * index, times `scale`), so misplaced data shows. `shared` puts every array in a SharedArrayBuffer.
 */
export function syntheticKvBlock(geometry: KvGeometry, n: number, options: { seed: number; scale?: number; shared?: boolean }): KvBlock {
  const scale = options.scale ?? 1;
  const size = geometry.numKvHeads * n * geometry.headDim;
  const make = (salt: number): Float32Array => {
    const a = new Float32Array(options.shared === true ? new SharedArrayBuffer(size * 4) : new ArrayBuffer(size * 4));
    for (let i = 0; i < size; i++) a[i] = scale * Math.sin(options.seed * 7.1 + salt * 3.3 + i * 0.013);
    return a;
  };
  return {
    keys: Array.from({ length: geometry.numLayers }, (_, l) => make(2 * l)),
    values: Array.from({ length: geometry.numLayers }, (_, l) => make(2 * l + 1)),
    numTokens: n,
    positions: Int32Array.from({ length: n }, (_, i) => i),
  };
}
