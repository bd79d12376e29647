import { dequantizeLinear, type LinearWeight, type LoraBranch } from "../model/ModelWeights.js";
import type { OnnxGraphBuilder } from "./OnnxGraphBuilder.js";

type NBitsWeight = Extract<LinearWeight, { kind: "nbits" }>;

/**
 * How 8-bit nbits weights enter the graph. "dequantize" (default): fp32 MatMul over the dequantized weight,
 * because ORT 1.30's CPU MatMulNBits with bits = 8 dequantizes B on every run at accuracy_level 0 (measured:
 * 17 ms per decode token for an 8192×576 weight, 0.4–0.6 s for SmolLM2's 49152-row head on the shared host)
 * and accuracy_level 4 quantizes the activations (1% error). "matMulNBits": keep them as MatMulNBits (4× smaller; for EPs with a
 * fast 8-bit kernel).
 */
export type Int8WeightMode = "dequantize" | "matMulNBits";

/**
 * MatMulNBits' accuracy_level: 0 keeps the activations fp32 (exact against a float reference); 4 quantizes them
 * to int8 per block (MLAS's int8 kernels, what llama.cpp does too). Figures in docs/performance.md.
 */
export type NBitsAccuracy = 0 | 4;

/**
 * Adds y = x·Wᵀ (+ bias) over the last axis of `x` ([B,S,in]) and returns y's name.
 * - `f32`: MatMul with the weight transposed once, here, to an [in, out] initializer.
 * - `nbits`: com.microsoft MatMulNBits; ModelWeights' nbits layout already is MatMulNBits' layout (B u8
 *   [N, numBlocks, blockSize·bits/8], scales and zero points [N·numBlocks]), so it is passed through
 *   (see addMatMulNBits for how float zero points are fed); 8-bit ones per `int8Weights`.
 */
export function addLinear(
  b: OnnxGraphBuilder,
  x: string,
  weight: LinearWeight,
  options: {
    readonly name: string;
    readonly bias?: Float32Array;
    readonly int8Weights?: Int8WeightMode;
    readonly accuracyLevel?: NBitsAccuracy;
    readonly lora?: LoraBranch;
    /** A float32 [B,1,1] graph value the LoRA branch is multiplied by (0 turns the adapter off per sequence). */
    readonly adapterScale?: string;
  },
): string {
  const { name } = options;
  let y: string;
  if (weight.kind === "nbits" && weight.bits === 8 && (options.int8Weights ?? "dequantize") === "dequantize") {
    const { outFeatures, inFeatures } = weight;
    const dense = { kind: "f32", outFeatures, inFeatures, data: dequantizeLinear(weight) } as const;
    const w = b.addInitializer(`${name}.weight_t`, "float32", [inFeatures, outFeatures], transpose(dense));
    y = b.op("MatMul", [x, w], { name });
  } else if (weight.kind === "f32") {
    const w = b.addInitializer(`${name}.weight_t`, "float32", [weight.inFeatures, weight.outFeatures], transpose(weight));
    y = b.op("MatMul", [x, w], { name });
  } else {
    y = addMatMulNBits(b, x, weight, name, options.accuracyLevel ?? 0);
  }
  if (options.lora !== undefined) y = addLoraBranch(b, x, y, weight, options.lora, name, options.adapterScale);
  if (options.bias === undefined) return y;
  const bias = b.addInitializer(`${name}.bias`, "float32", [options.bias.length], options.bias);
  return b.op("Add", [y, bias], { name: `${name}.add_bias` });
}

/**
 * y += scale · (x·Aᵀ)·Bᵀ beside the base weight, kept apart (not merged into it) so the 4-bit base stays
 * exactly the GGUF's and the branch exactly what was trained: two small fp32 MatMuls over [in, r] and [r, out]
 * initializers, with the scale folded into Bᵀ. With `adapterScale`, the rank-r activations x·Aᵀ are multiplied by
 * it first (the cheapest place: r values per token), so a sequence fed 0 runs the base weights exactly.
 */
function addLoraBranch(
  b: OnnxGraphBuilder,
  x: string,
  y: string,
  base: LinearWeight,
  lora: LoraBranch,
  name: string,
  adapterScale: string | undefined,
): string {
  const { rank, scale } = lora;
  const { inFeatures: k, outFeatures: n } = base;
  const aT = transpose({ kind: "f32", outFeatures: rank, inFeatures: k, data: lora.a });
  const bT = transpose({ kind: "f32", outFeatures: n, inFeatures: rank, data: lora.b }).map((v) => v * scale);
  const projected = b.op("MatMul", [x, b.addInitializer(`${name}.lora_a_t`, "float32", [k, rank], aT)], { name: `${name}.lora_a` });
  const down = adapterScale === undefined ? projected : b.op("Mul", [projected, adapterScale], { name: `${name}.lora_scale` });
  const up = b.op("MatMul", [down, b.addInitializer(`${name}.lora_b_t`, "float32", [rank, n], bT)], { name: `${name}.lora_b` });
  return b.op("Add", [y, up], { name: `${name}.lora_add` });
}

/** Row-major [out, in] → [in, out]. */
function transpose(w: Extract<LinearWeight, { kind: "f32" }>): Float32Array {
  const { outFeatures: n, inFeatures: k, data } = w;
  const t = new Float32Array(n * k);
  for (let r = 0; r < n; r++) {
    const row = r * k;
    for (let c = 0; c < k; c++) t[c * n + r] = data[row + c]!;
  }
  return t;
}

/**
 * MatMulNBits for one nbits weight, keeping ORT on its fast prepacked kernels. ORT 1.30's CPU kernel, measured
 * here (K 576, N 1536, 2 threads): 4-bit with *float* zero points dequantizes B on every run (1.37 ms per decode
 * token vs 0.20 ms with uint8 zero points), and 8-bit with float zero points is rejected outright. So the zero
 * point zp is split into an integer part zi = clamp(round(zp), 0, 2^bits − 1), passed as uint8 zero points
 * (nibble-packed for 4-bit; omitted for 4-bit when all equal the default 8), and the remainder is added back
 * exactly: since (q − zp)·s = (q − zi)·s + (zi − zp)·s,
 *   y[n] += Σ_b blockSum_b(x) · (zi − zp)[n,b] · s[n,b],
 * a small MatMul from per-block sums of x ([…, numBlocks]) to N, skipped when every zp is already an integer
 * (GGUF Q4_0/Q8_0).
 */
function addMatMulNBits(b: OnnxGraphBuilder, x: string, w: NBitsWeight, name: string, accuracyLevel: NBitsAccuracy): string {
  const { outFeatures: n, inFeatures: k, blockSize, bits } = w;
  const numBlocks = Math.ceil(k / blockSize);
  const bytesPerBlock = (blockSize * bits) / 8;
  const maxQ = (1 << bits) - 1;
  const defaultZeroPoint = 1 << (bits - 1);

  const zi = new Uint8Array(n * numBlocks);
  const remainderT = new Float32Array(numBlocks * n); // [numBlocks, N]: (zi − zp)·scale
  let hasRemainder = false;
  let allDefault = true;
  for (let r = 0; r < n; r++) {
    for (let blk = 0; blk < numBlocks; blk++) {
      const i = r * numBlocks + blk;
      const zp = w.zeroPoints[i]!;
      const z = Math.min(maxQ, Math.max(0, Math.round(zp)));
      zi[i] = z;
      if (z !== defaultZeroPoint) allDefault = false;
      if (z !== zp) {
        hasRemainder = true;
        remainderT[blk * n + r] = (z - zp) * w.scales[i]!;
      }
    }
  }

  const inputs = [
    x,
    b.addInitializer(`${name}.qweight`, "uint8", [n, numBlocks, bytesPerBlock], w.packed),
    b.addInitializer(`${name}.scales`, "float32", [n * numBlocks], w.scales),
  ];
  if (bits === 8) {
    inputs.push(b.addInitializer(`${name}.zero_points`, "uint8", [n * numBlocks], zi));
  } else if (!allDefault) {
    const bytesPerRow = Math.ceil(numBlocks / 2);
    const packedZp = new Uint8Array(n * bytesPerRow);
    for (let r = 0; r < n; r++) {
      for (let blk = 0; blk < numBlocks; blk++) {
        packedZp[r * bytesPerRow + (blk >> 1)]! |= zi[r * numBlocks + blk]! << ((blk & 1) * 4);
      }
    }
    inputs.push(b.addInitializer(`${name}.zero_points`, "uint8", [n * bytesPerRow], packedZp));
  }
  const main = b.op("MatMulNBits", inputs, {
    name: hasRemainder ? `${name}.int_zp` : name,
    domain: "com.microsoft",
    attrs: {
      K: { int: k },
      N: { int: n },
      bits: { int: bits },
      block_size: { int: blockSize },
      ...(accuracyLevel !== 0 ? { accuracy_level: { int: accuracyLevel } } : {}),
    },
  });
  if (!hasRemainder) return main;

  const padding = numBlocks * blockSize - k;
  const padded =
    padding === 0
      ? x
      : b.op("Pad", [x, b.constInt64([0, padding]), b.constFloat(0), b.constInt64([-1])], { name: `${name}.zp_pad` });
  const blocks = b.op("Reshape", [padded, b.constInt64([0, 0, numBlocks, blockSize])], { name: `${name}.zp_blocks` });
  const blockSums = b.op("ReduceSum", [blocks, b.constInt64([-1])], { name: `${name}.zp_block_sums`, attrs: { keepdims: { int: 0 } } });
  const remainder = b.addInitializer(`${name}.zp_remainder_t`, "float32", [numBlocks, n], remainderT);
  const correction = b.op("MatMul", [blockSums, remainder], { name: `${name}.zp_correction` });
  return b.op("Add", [main, correction], { name });
}
