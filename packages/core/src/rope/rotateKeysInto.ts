/**
 * Copies tokens [srcStart, srcStart + count) of a post-RoPE key buffer laid out [numHeads][srcTokens][headDim]
 * into slots [dstStart, dstStart + count) of a buffer laid out [numHeads][dstCapacity][headDim], rotating every
 * key by the same position delta on the way (a document moved to its global offset). One pass: the copy and the
 * re-rotation are fused. `cos`/`sin` are cos(delta·invFreq_i), sin(delta·invFreq_i) for i < rotaryDim/2
 * (see deltaRotation); HF rotate_half layout, dims >= rotaryDim copied unchanged.
 */
export function rotateKeysInto(
  src: Float32Array,
  srcTokens: number,
  srcStart: number,
  dst: Float32Array,
  dstCapacity: number,
  dstStart: number,
  count: number,
  numHeads: number,
  headDim: number,
  rotation: DeltaRotation | undefined,
): void {
  for (let h = 0; h < numHeads; h++) {
    const srcBase = (h * srcTokens + srcStart) * headDim;
    const dstBase = (h * dstCapacity + dstStart) * headDim;
    if (rotation === undefined) {
      dst.set(src.subarray(srcBase, srcBase + count * headDim), dstBase);
      continue;
    }
    const { cos, sin, half } = rotation;
    const rotaryDim = 2 * half;
    for (let t = 0; t < count; t++) {
      const s = srcBase + t * headDim;
      const d = dstBase + t * headDim;
      for (let i = 0; i < half; i++) {
        const x1 = src[s + i]!;
        const x2 = src[s + i + half]!;
        const c = cos[i]!;
        const sn = sin[i]!;
        dst[d + i] = x1 * c - x2 * sn;
        dst[d + i + half] = x2 * c + x1 * sn;
      }
      for (let i = rotaryDim; i < headDim; i++) dst[d + i] = src[s + i]!;
    }
  }
}

/**
 * rotateKeysInto with a transposed destination: the same source tokens and rotation, written into a buffer
 * laid out [numHeads][headDim][dstCapacity] (key j of head h, dim i at (h·headDim + i)·dstCapacity + j).
 * The loop runs along destination rows, so writes are contiguous and reads have a constant stride.
 */
export function rotateKeysIntoTransposed(
  src: Float32Array,
  srcTokens: number,
  srcStart: number,
  dst: Float32Array,
  dstCapacity: number,
  dstStart: number,
  count: number,
  numHeads: number,
  headDim: number,
  rotation: DeltaRotation | undefined,
): void {
  const half = rotation?.half ?? 0;
  for (let h = 0; h < numHeads; h++) {
    const srcBase = (h * srcTokens + srcStart) * headDim;
    const dstHead = h * headDim * dstCapacity + dstStart;
    for (let i = 0; i < half; i++) {
      const c = rotation!.cos[i]!;
      const sn = rotation!.sin[i]!;
      const lo = dstHead + i * dstCapacity;
      const hi = dstHead + (i + half) * dstCapacity;
      for (let t = 0, s = srcBase + i; t < count; t++, s += headDim) {
        const x1 = src[s]!;
        const x2 = src[s + half]!;
        dst[lo + t] = x1 * c - x2 * sn;
        dst[hi + t] = x2 * c + x1 * sn;
      }
    }
    for (let i = 2 * half; i < headDim; i++) {
      const row = dstHead + i * dstCapacity;
      for (let t = 0, s = srcBase + i; t < count; t++, s += headDim) dst[row + t] = src[s]!;
    }
  }
}

/** cos/sin of delta·invFreq (computed in float64) for rotateKeysInto. */
export interface DeltaRotation {
  readonly half: number;
  readonly cos: Float64Array;
  readonly sin: Float64Array;
}

export function deltaRotation(invFreq: Float64Array, delta: number): DeltaRotation {
  const half = invFreq.length;
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    const angle = delta * invFreq[i]!;
    cos[i] = Math.cos(angle);
    sin[i] = Math.sin(angle);
  }
  return { half, cos, sin };
}
