/**
 * A plain TypeScript forward pass of a Llama-family decoder (Llama, SmolLM, Qwen2 biases), written to check
 * the ONNX graphs against. It is deliberately independent of packages/core/src/graph, runtime and rope: it
 * computes RoPE (including Llama-3 and linear scaling) itself, and accumulates everything in float64.
 *
 * Conventions (the KVLink graph signature, batch 1):
 * - `mask[s][j]` says whether new token s may attend to column j; columns are the P past tokens, then the S new ones.
 * - past and new keys are post-RoPE, laid out per layer as [numKvHeads, tokens, headDim].
 * - A query row with no allowed key outputs 0 for that head (what ONNX Attention-23 gives with a -inf bias row).
 */
import { InvalidInputError } from "../../packages/core/src/errors/KvLinkError.js";
import type { RopeSpec } from "../../packages/core/src/model/ModelSpec.js";
import { dequantizeLinear } from "../../packages/core/src/model/ModelWeights.js";
import type { LinearWeight, LoraBranch, ModelWeights } from "../../packages/core/src/model/ModelWeights.js";

export interface ReferencePast {
  /** Per layer [numKvHeads, length, headDim], post-RoPE. */
  readonly keys: readonly Float32Array[];
  /** Per layer [numKvHeads, length, headDim]. */
  readonly values: readonly Float32Array[];
  readonly length: number;
}

export interface ReferenceInput {
  readonly inputIds: readonly number[];
  readonly positionIds: readonly number[];
  /** [S][P+S], true = may attend. */
  readonly mask: readonly (readonly boolean[])[];
  readonly past?: ReferencePast;
}

export interface ReferenceOutput {
  /** [S, vocabSize] */
  readonly logits: Float32Array;
  /** Per layer [numKvHeads, S, headDim], post-RoPE at positionIds. */
  readonly newKeys: Float32Array[];
  /** Per layer [numKvHeads, S, headDim]. */
  readonly newValues: Float32Array[];
}

/** Causal mask for S new tokens after P past ones: row s sees every past token and new tokens 0..s. */
export function causalMask(numNew: number, numPast = 0): boolean[][] {
  const rows: boolean[][] = [];
  for (let s = 0; s < numNew; s++) {
    const row = new Array<boolean>(numPast + numNew).fill(false);
    for (let j = 0; j <= numPast + s; j++) row[j] = true;
    rows.push(row);
  }
  return rows;
}

/** Runs the decoder over `inputIds` and returns logits for every new token plus the new KV. */
export function referenceForward(weights: ModelWeights, input: ReferenceInput): ReferenceOutput {
  const spec = weights.spec;
  const { hiddenSize: H, numHeads, numKvHeads, headDim: D, vocabSize: V, numLayers } = spec;
  const S = input.inputIds.length;
  const P = input.past?.length ?? 0;
  validate(weights, input, S, P);

  const group = numHeads / numKvHeads;
  const invFreq = referenceInvFreq(spec.rope);
  const scale = 1 / Math.sqrt(D);

  // x = embed[ids]
  let x = new Float64Array(S * H);
  for (let s = 0; s < S; s++) {
    const id = input.inputIds[s]!;
    // ids ≥ vocabSize are extra input-only rows (trained link tokens).
    const table = id < V ? weights.embedTokens : weights.extraEmbeddings!;
    const row = id < V ? id : id - V;
    for (let c = 0; c < H; c++) x[s * H + c] = table[row * H + c]!;
  }

  const newKeys: Float32Array[] = [];
  const newValues: Float32Array[] = [];
  for (let l = 0; l < numLayers; l++) {
    const layer = weights.layers[l]!;
    const n1 = rmsNorm(x, S, H, layer.inputNorm, spec.rmsNormEps);
    const q = linear(n1, S, layer.q, layer.qBias, layer.lora?.q);
    const k = linear(n1, S, layer.k, layer.kBias, layer.lora?.k);
    const v = linear(n1, S, layer.v, layer.vBias, layer.lora?.v);
    applyRope(q, S, numHeads, D, input.positionIds, invFreq, spec.rope.rotaryDim);
    applyRope(k, S, numKvHeads, D, input.positionIds, invFreq, spec.rope.rotaryDim);

    // Full K/V per kv head over P + S columns, float64: [KVH][T][D].
    const T = P + S;
    const kAll = new Float64Array(numKvHeads * T * D);
    const vAll = new Float64Array(numKvHeads * T * D);
    const pastK = input.past?.keys[l];
    const pastV = input.past?.values[l];
    for (let kh = 0; kh < numKvHeads; kh++) {
      for (let t = 0; t < P; t++) {
        for (let d = 0; d < D; d++) {
          kAll[(kh * T + t) * D + d] = pastK![(kh * P + t) * D + d]!;
          vAll[(kh * T + t) * D + d] = pastV![(kh * P + t) * D + d]!;
        }
      }
      for (let s = 0; s < S; s++) {
        for (let d = 0; d < D; d++) {
          kAll[(kh * T + P + s) * D + d] = k[s * numKvHeads * D + kh * D + d]!;
          vAll[(kh * T + P + s) * D + d] = v[s * numKvHeads * D + kh * D + d]!;
        }
      }
    }
    const outK = new Float32Array(numKvHeads * S * D);
    const outV = new Float32Array(numKvHeads * S * D);
    for (let kh = 0; kh < numKvHeads; kh++) {
      for (let s = 0; s < S; s++) {
        for (let d = 0; d < D; d++) {
          outK[(kh * S + s) * D + d] = k[s * numKvHeads * D + kh * D + d]!;
          outV[(kh * S + s) * D + d] = v[s * numKvHeads * D + kh * D + d]!;
        }
      }
    }
    newKeys.push(outK);
    newValues.push(outV);

    // Attention per new token and query head; softmax over allowed columns only.
    const attn = new Float64Array(S * numHeads * D);
    const scores = new Float64Array(T);
    for (let s = 0; s < S; s++) {
      const row = input.mask[s]!;
      for (let h = 0; h < numHeads; h++) {
        const kh = Math.floor(h / group);
        const qOff = s * numHeads * D + h * D;
        let max = -Infinity;
        for (let t = 0; t < T; t++) {
          if (!row[t]) continue;
          let dot = 0;
          const kOff = (kh * T + t) * D;
          for (let d = 0; d < D; d++) dot += q[qOff + d]! * kAll[kOff + d]!;
          scores[t] = dot * scale;
          if (scores[t]! > max) max = scores[t]!;
        }
        if (max === -Infinity) continue; // fully masked: output stays 0
        let sum = 0;
        for (let t = 0; t < T; t++) {
          if (!row[t]) continue;
          scores[t] = Math.exp(scores[t]! - max);
          sum += scores[t]!;
        }
        for (let t = 0; t < T; t++) {
          if (!row[t]) continue;
          const p = scores[t]! / sum;
          const vOff = (kh * T + t) * D;
          for (let d = 0; d < D; d++) attn[qOff + d] = attn[qOff + d]! + p * vAll[vOff + d]!;
        }
      }
    }
    const o = linear(attn, S, layer.o, undefined, layer.lora?.o);
    const h = new Float64Array(S * H);
    for (let i = 0; i < S * H; i++) h[i] = x[i]! + o[i]!;

    const n2 = rmsNorm(h, S, H, layer.postAttentionNorm, spec.rmsNormEps);
    const gate = linear(n2, S, layer.gate, undefined, layer.lora?.gate);
    const up = linear(n2, S, layer.up, undefined, layer.lora?.up);
    for (let i = 0; i < gate.length; i++) {
      const g = gate[i]!;
      gate[i] = (g / (1 + Math.exp(-g))) * up[i]!;
    }
    const down = linear(gate, S, layer.down, undefined, layer.lora?.down);
    x = new Float64Array(S * H);
    for (let i = 0; i < S * H; i++) x[i] = h[i]! + down[i]!;
  }

  const nf = rmsNorm(x, S, H, weights.finalNorm, spec.rmsNormEps);
  const head = headMatrix(weights);
  const logits = new Float32Array(S * V);
  for (let s = 0; s < S; s++) {
    for (let r = 0; r < V; r++) {
      let acc = 0;
      for (let c = 0; c < H; c++) acc += nf[s * H + c]! * head[r * H + c]!;
      logits[s * V + r] = acc;
    }
  }
  return { logits, newKeys, newValues };
}

/** HF inv_freq in float64: theta^(-2i/rotaryDim), then linear or Llama-3 (`_compute_llama3_parameters`) scaling. */
function referenceInvFreq(rope: RopeSpec): Float64Array {
  const half = rope.rotaryDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(rope.theta, (2 * i) / rope.rotaryDim);
  const sc = rope.scaling;
  if (sc === undefined) return inv;
  if (sc.type === "linear") {
    for (let i = 0; i < half; i++) inv[i] = inv[i]! / sc.factor;
    return inv;
  }
  const lowFreqWavelen = sc.originalMaxPositionEmbeddings / sc.lowFreqFactor;
  const highFreqWavelen = sc.originalMaxPositionEmbeddings / sc.highFreqFactor;
  for (let i = 0; i < half; i++) {
    const f = inv[i]!;
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highFreqWavelen) continue;
    if (wavelen > lowFreqWavelen) {
      inv[i] = f / sc.factor;
      continue;
    }
    const smooth = (sc.originalMaxPositionEmbeddings / wavelen - sc.lowFreqFactor) / (sc.highFreqFactor - sc.lowFreqFactor);
    inv[i] = ((1 - smooth) * f) / sc.factor + smooth * f;
  }
  return inv;
}

/** In place on x [S, numHeads*D]: HF rotate_half RoPE over the first rotaryDim dims of each head. */
function applyRope(
  x: Float64Array,
  S: number,
  numHeads: number,
  D: number,
  positions: readonly number[],
  invFreq: Float64Array,
  rotaryDim: number,
): void {
  const half = rotaryDim / 2;
  for (let s = 0; s < S; s++) {
    const pos = positions[s]!;
    for (let h = 0; h < numHeads; h++) {
      const off = s * numHeads * D + h * D;
      for (let i = 0; i < half; i++) {
        const angle = pos * invFreq[i]!;
        const c = Math.cos(angle);
        const sn = Math.sin(angle);
        const x1 = x[off + i]!;
        const x2 = x[off + i + half]!;
        x[off + i] = x1 * c - x2 * sn;
        x[off + i + half] = x2 * c + x1 * sn;
      }
    }
  }
}

function rmsNorm(x: Float64Array, S: number, H: number, w: Float32Array, eps: number): Float64Array {
  const out = new Float64Array(S * H);
  for (let s = 0; s < S; s++) {
    let ss = 0;
    for (let c = 0; c < H; c++) ss += x[s * H + c]! * x[s * H + c]!;
    const inv = 1 / Math.sqrt(ss / H + eps);
    for (let c = 0; c < H; c++) out[s * H + c] = x[s * H + c]! * inv * w[c]!;
  }
  return out;
}

const dequantized = new WeakMap<LinearWeight, Float32Array>();
function dense(w: LinearWeight): Float32Array {
  let d = dequantized.get(w);
  if (d === undefined) {
    d = dequantizeLinear(w);
    dequantized.set(w, d);
  }
  return d;
}

/** y[S, out] = x[S, in] · Wᵀ (+ b) (+ scale · (x·Aᵀ)·Bᵀ for a LoRA branch), accumulated in float64. */
function linear(x: Float64Array, S: number, w: LinearWeight, bias?: Float32Array, lora?: LoraBranch): Float64Array {
  const { outFeatures: N, inFeatures: K } = w;
  if (x.length !== S * K) {
    throw new InvalidInputError(`referenceForward: linear input has ${x.length} values, expected ${S}×${K}`);
  }
  const W = dense(w);
  const y = new Float64Array(S * N);
  for (let s = 0; s < S; s++) {
    for (let r = 0; r < N; r++) {
      let acc = bias ? bias[r]! : 0;
      const wOff = r * K;
      const xOff = s * K;
      for (let c = 0; c < K; c++) acc += x[xOff + c]! * W[wOff + c]!;
      y[s * N + r] = acc;
    }
  }
  if (lora === undefined) return y;
  const R = lora.rank;
  for (let s = 0; s < S; s++) {
    const down = new Float64Array(R);
    for (let r = 0; r < R; r++) {
      let acc = 0;
      for (let c = 0; c < K; c++) acc += x[s * K + c]! * lora.a[r * K + c]!;
      down[r] = acc;
    }
    for (let o = 0; o < N; o++) {
      let acc = 0;
      for (let r = 0; r < R; r++) acc += down[r]! * lora.b[o * R + r]!;
      y[s * N + o] = y[s * N + o]! + lora.scale * acc;
    }
  }
  return y;
}

/** The output head [vocabSize, hiddenSize]: lmHead, or the tied embedding (its quantized copy when present). */
function headMatrix(weights: ModelWeights): Float32Array {
  if (weights.spec.tieWordEmbeddings) {
    return weights.tiedHead ? dense(weights.tiedHead) : weights.embedTokens;
  }
  if (!weights.lmHead) {
    throw new InvalidInputError("referenceForward: spec.tieWordEmbeddings is false but weights.lmHead is missing");
  }
  return dense(weights.lmHead);
}

function validate(weights: ModelWeights, input: ReferenceInput, S: number, P: number): void {
  const spec = weights.spec;
  const { numHeads, numKvHeads, headDim: D, vocabSize: V, hiddenSize: H, numLayers } = spec;
  const where = "referenceForward";
  if (S === 0) throw new InvalidInputError(`${where}: inputIds is empty`);
  if (numHeads % numKvHeads !== 0) {
    throw new InvalidInputError(`${where}: numHeads ${numHeads} is not a multiple of numKvHeads ${numKvHeads}`);
  }
  if (spec.rope.rotaryDim % 2 !== 0 || spec.rope.rotaryDim > D) {
    throw new InvalidInputError(`${where}: rotaryDim ${spec.rope.rotaryDim} must be even and ≤ headDim ${D}`);
  }
  if (weights.layers.length !== numLayers) {
    throw new InvalidInputError(`${where}: ${weights.layers.length} layers of weights, spec says ${numLayers}`);
  }
  if (weights.embedTokens.length !== V * H) {
    throw new InvalidInputError(`${where}: embedTokens has ${weights.embedTokens.length} values, expected ${V}×${H}`);
  }
  if (input.positionIds.length !== S) {
    throw new InvalidInputError(`${where}: positionIds has ${input.positionIds.length} entries, inputIds ${S}`);
  }
  input.inputIds.forEach((id, s) => {
    const numIds = V + (weights.extraEmbeddings === undefined ? 0 : weights.extraEmbeddings.length / H);
    if (!Number.isInteger(id) || id < 0 || id >= numIds) {
      throw new InvalidInputError(`${where}: inputIds[${s}] = ${id} is outside [0, ${numIds})`);
    }
  });
  input.positionIds.forEach((p, s) => {
    if (!Number.isInteger(p) || p < 0) throw new InvalidInputError(`${where}: positionIds[${s}] = ${p} is not a position`);
  });
  if (input.mask.length !== S) throw new InvalidInputError(`${where}: mask has ${input.mask.length} rows, expected ${S}`);
  input.mask.forEach((row, s) => {
    if (row.length !== P + S) {
      throw new InvalidInputError(`${where}: mask row ${s} has ${row.length} columns, expected P+S = ${P + S}`);
    }
  });
  if (input.past) {
    const size = numKvHeads * P * D;
    for (let l = 0; l < numLayers; l++) {
      const k = input.past.keys[l];
      const v = input.past.values[l];
      if (k?.length !== size || v?.length !== size) {
        throw new InvalidInputError(
          `${where}: past layer ${l} keys/values have ${k?.length}/${v?.length} values, expected ${numKvHeads}×${P}×${D} = ${size}`,
        );
      }
    }
  }
}
