import type { LinearWeight, LoraBranch } from "../model/ModelWeights.js";

/** One linear of a group that reads the same input: its weight, optional bias and optional LoRA branch. */
export interface LinearPart {
  readonly weight: LinearWeight;
  readonly bias?: Float32Array;
  readonly lora?: LoraBranch;
}

/** A group of linears over one input as a single linear: outputs concatenated along the last axis, in order. */
export interface FusedLinear {
  readonly weight: LinearWeight;
  readonly bias?: Float32Array;
  readonly lora?: LoraBranch;
  /** The parts' output widths, for the Split back. */
  readonly splits: readonly number[];
}

/**
 * Fuses linears that read the same input (q/k/v, gate/up) into one, so a decode step runs one MatMulNBits (and
 * one zero-point correction, one LoRA pair) instead of one per projection: per node ORT pays a kernel dispatch
 * and a thread-pool hand-off, which at one token per step costs about as much as the small kernels themselves
 * (docs/performance.md). The math is unchanged, per output column:
 * - nbits rows are concatenated (every row is self-contained: its blocks, scales and zero points);
 * - biases are concatenated (a part without one contributes zeros);
 * - LoRA: A's rows are stacked ([Σr, in]) and B is block-diagonal ([Σout, Σr]), each part's scale folded into
 *   its block, so column n of the fused branch is exactly part i's scale·(x·Aᵢᵀ)·Bᵢᵀ plus exact zeros.
 * Returns undefined when the parts cannot share one MatMulNBits (not all nbits, or different bits, block size
 * or input width): the caller then adds them one by one. f32 parts are never fused, so fp32 graphs stay as they
 * were.
 */
export function fuseLinears(parts: readonly LinearPart[]): FusedLinear | undefined {
  const first = parts[0]?.weight;
  if (first === undefined || first.kind !== "nbits" || parts.length < 2) return undefined;
  const nbits = parts.map((p) => p.weight).filter((w): w is Extract<LinearWeight, { kind: "nbits" }> => w.kind === "nbits");
  const compatible =
    nbits.length === parts.length && nbits.every((w) => w.bits === first.bits && w.blockSize === first.blockSize && w.inFeatures === first.inFeatures);
  if (!compatible) return undefined;

  const splits = nbits.map((w) => w.outFeatures);
  const outFeatures = splits.reduce((a, n) => a + n, 0);
  const concat = <T extends Uint8Array | Float32Array>(arrays: readonly T[], make: (n: number) => T): T => {
    const out = make(arrays.reduce((a, x) => a + x.length, 0));
    let at = 0;
    for (const x of arrays) {
      out.set(x, at);
      at += x.length;
    }
    return out;
  };
  const weight: LinearWeight = {
    kind: "nbits",
    bits: first.bits,
    blockSize: first.blockSize,
    inFeatures: first.inFeatures,
    outFeatures,
    packed: concat(
      nbits.map((w) => w.packed),
      (n) => new Uint8Array(n),
    ),
    scales: concat(
      nbits.map((w) => w.scales),
      (n) => new Float32Array(n),
    ),
    zeroPoints: concat(
      nbits.map((w) => w.zeroPoints),
      (n) => new Float32Array(n),
    ),
  };

  let bias: Float32Array | undefined;
  if (parts.some((p) => p.bias !== undefined)) {
    bias = new Float32Array(outFeatures);
    let at = 0;
    parts.forEach((p, i) => {
      if (p.bias !== undefined) bias!.set(p.bias, at);
      at += splits[i]!;
    });
  }
  const lora = parts.some((p) => p.lora !== undefined) ? fuseLoraBranches(parts, splits, first.inFeatures) : undefined;
  return { weight, splits, ...(bias !== undefined && { bias }), ...(lora !== undefined && { lora }) };
}

function fuseLoraBranches(parts: readonly LinearPart[], splits: readonly number[], inFeatures: number): LoraBranch {
  const rank = parts.reduce((a, p) => a + (p.lora?.rank ?? 0), 0);
  const outFeatures = splits.reduce((a, n) => a + n, 0);
  const a = new Float32Array(rank * inFeatures);
  const b = new Float32Array(outFeatures * rank);
  let r0 = 0;
  let n0 = 0;
  parts.forEach((p, i) => {
    const lora = p.lora;
    const n = splits[i]!;
    if (lora !== undefined) {
      a.set(lora.a, r0 * inFeatures);
      for (let row = 0; row < n; row++) {
        for (let c = 0; c < lora.rank; c++) b[(n0 + row) * rank + r0 + c] = lora.b[row * lora.rank + c]! * lora.scale;
      }
      r0 += lora.rank;
    }
    n0 += n;
  });
  return { rank, scale: 1, a, b };
}
