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
