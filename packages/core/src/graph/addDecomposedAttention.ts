import type { OnnxGraphBuilder } from "./OnnxGraphBuilder.js";

/**
 * Graph values shared by every layer's decomposed attention, derived once from attention_bias [B,1,S,P+S]
 * (see addDecomposedAttentionMask).
 */
export interface DecomposedAttentionMask {
  /** The bias clamped to ≥ BLOCKED_BIAS and flattened to [B,1,1,S·(P+S)], to broadcast over [B,KVH,G,S·(P+S)]. */
  readonly flatBias: string;
  /** float32 [B,S,1]: 1 where the query row may attend to something, 0 for a fully blocked row. */
  readonly rowValid: string;
  /** int64 [2] = [P, S], the Split sizes of the probabilities into past and new columns. */
  readonly splitSizes: string;
}

/** Per-layer inputs of addDecomposedAttention. */
export interface DecomposedAttentionInputs {
  /** Post-RoPE queries [B,S,H·D]. */
  readonly q: string;
  /** Post-RoPE keys of the new tokens [B,S,KVH·D]. */
  readonly k: string;
  /** Values of the new tokens [B,S,KVH·D]. */
  readonly v: string;
  /** Past keys, transposed: [B,KVH,D,P]. */
  readonly pastKeyT: string;
  /** Past values [B,KVH,P,D]. */
  readonly pastValue: string;
  readonly mask: DecomposedAttentionMask;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** Names to give the new tokens' K and V in [B,KVH,S,D] (graph outputs). */
  readonly newKeyOutput: string;
  readonly newValueOutput: string;
  /** Node name prefix, e.g. "layers.3.attn". */
  readonly name: string;
}

/**
 * Bias entries at or below this count as blocked. Clamping −Infinity to it keeps Softmax finite on a fully
 * blocked row (whose output rowValid then zeroes, as Attention-23 gives 0 there).
 */
export const BLOCKED_BIAS = -1e30;

/**
 * The once-per-graph part of the decomposed attention: clamped flat bias, per-row validity and the [P, S]
 * split sizes, all from attention_bias [B,1,S,T] (T = P+S).
 */
export function addDecomposedAttentionMask(b: OnnxGraphBuilder, attentionBias: string): DecomposedAttentionMask {
  const clamped = b.op("Max", [attentionBias, b.constFloat(BLOCKED_BIAS)], { name: "attn_mask.clamp" });
  const flatBias = b.op("Reshape", [clamped, b.constInt64([0, 1, 1, -1])], { name: "attn_mask.flatten" });
  const rowMax = b.op("ReduceMax", [attentionBias, b.constInt64([-1])], { name: "attn_mask.row_max" });
  const valid = b.op("Greater", [rowMax, b.constFloat(BLOCKED_BIAS)], { name: "attn_mask.row_valid_bool" });
  const validF = b.op("Cast", [valid], { name: "attn_mask.row_valid_f32", attrs: { to: { int: 1 } } });
  const rowValid = b.op("Reshape", [validF, b.constInt64([0, -1, 1])], { name: "attn_mask.row_valid" });
  const seqAndTotal = b.op("Shape", [attentionBias], { name: "attn_mask.shape", attrs: { start: { int: 2 }, end: { int: 4 } } });
  const seqLen = b.op("Slice", [seqAndTotal, b.constInt64([0]), b.constInt64([1])], { name: "attn_mask.seq_len" });
  const totalLen = b.op("Slice", [seqAndTotal, b.constInt64([1]), b.constInt64([2])], { name: "attn_mask.total_len" });
  const pastLen = b.op("Sub", [totalLen, seqLen], { name: "attn_mask.past_len" });
  const splitSizes = b.op("Concat", [pastLen, seqLen], { name: "attn_mask.split_sizes", attrs: { axis: { int: 0 } } });
  return { flatBias, rowValid, splitSizes };
}

/**
 * Grouped-query attention over a host-owned past with no copy of the past: returns the attention output
 * [B,S,H·D] and defines the new tokens' K/V outputs [B,KVH,S,D]. With G = H/KVH, the queries are regrouped
 * to [B,KVH,G·S,D] (row g·S+s is query head kvh·G+g at token s) and pre-scaled by 1/√D, so per KV head
 *   scores = [ q·pastKᵀ (MatMul on the [B,KVH,D,P] past as given) | q·k_newᵀ ]   (Concat, [.., G·S, P+S])
 *   p      = Softmax(scores + bias)            (bias broadcast over G via the flat [.., G, S·(P+S)] view)
 *   out    = p[.., :P]·pastV + p[.., P:]·v_new (Split, two MatMuls, no concat of V)
 * then the rows are put back in [B,S,H·D] order and fully blocked rows zeroed.
 *
 * Not the default (buildDecoderGraph's `attention` option selects it). Measured 2026-11-29 on this project's
 * shared 2-core CPU host (onnxruntime-node 1.30.0, 2 threads; the host was under load from other jobs, load
 * average 5–9, so absolute times are ~4× an idle host's: read the ratios, from steps alternated between the two
 * models), writeTinyModel's SmolLM2-shaped random q4 model (30 layers, hidden 576, 9/3 heads, head_dim 64,
 * vocab 1024) through DecoderSession, past fed at capacity (tight +256 growth), medians:
 *   decode at 0 past:        Attention-23 187 ms · decomposed 182 ms   (1.03×, paired 1.08×)
 *   decode at 1k past:       Attention-23 255 ms · decomposed 236 ms   (1.08×, paired 1.07×)
 *   decode at 4k past:       Attention-23 479 ms · decomposed 391 ms   (1.23×); a second run 408 · 408 (paired 1.16×)
 *   prefill 64 over 5k past: Attention-23 2128 ms · decomposed 2642 ms (0.81×); a second run 1541 · 1763 (0.87×)
 *   prefill 512 at 0 past:   Attention-23 5696 ms · decomposed 6968 ms (0.82×); a second run 3686 · 4375 (0.84×)
 * Decode gains little because reading the past (6.6 MB per layer at 4k) is memory-bound on this host: the two
 * past MatMuls alone took ~3–8 ms per layer (ORT profile), not the ~1 ms of a cached micro-benchmark; Attention-23
 * costs ~13 ms per layer there (present copy). With S ≫ 1 the unfused Concat/Add/Softmax/Split passes over the
 * [G·S, P+S] scores cost more than Attention-23's fused kernel; a two-block softmax without Concat/Split
 * (ReduceMax/Exp/ReduceSum per block) measured the same (0.86–0.88×).
 */
export function addDecomposedAttention(b: OnnxGraphBuilder, inputs: DecomposedAttentionInputs): string {
  const { numHeads: H, numKvHeads: KVH, headDim: D, name: p, mask } = inputs;
  const G = H / KVH;
  const i64 = (xs: readonly number[]) => b.constInt64(xs);

  const qScaled = b.op("Mul", [inputs.q, b.constFloat(1 / Math.sqrt(D))], { name: `${p}.q_scale` });
  const q5 = b.op("Reshape", [qScaled, i64([0, 0, KVH, G, D])], { name: `${p}.q_split_heads` });
  const qT = b.op("Transpose", [q5], { name: `${p}.q_group`, attrs: { perm: { ints: [0, 2, 3, 1, 4] } } });
  const qGrouped = b.op("Reshape", [qT, i64([0, 0, -1, D])], { name: `${p}.q_grouped` });

  const k4 = b.op("Reshape", [inputs.k, i64([0, 0, KVH, D])], { name: `${p}.k_split_heads` });
  b.addNode("Transpose", [k4], [inputs.newKeyOutput], { name: `${p}.new_key`, attrs: { perm: { ints: [0, 2, 1, 3] } } });
  const kNewT = b.op("Transpose", [k4], { name: `${p}.k_new_t`, attrs: { perm: { ints: [0, 2, 3, 1] } } });
  const v4 = b.op("Reshape", [inputs.v, i64([0, 0, KVH, D])], { name: `${p}.v_split_heads` });
  b.addNode("Transpose", [v4], [inputs.newValueOutput], { name: `${p}.new_value`, attrs: { perm: { ints: [0, 2, 1, 3] } } });

  const scoresPast = b.op("MatMul", [qGrouped, inputs.pastKeyT], { name: `${p}.scores_past` });
  const scoresNew = b.op("MatMul", [qGrouped, kNewT], { name: `${p}.scores_new` });
  const scores = b.op("Concat", [scoresPast, scoresNew], { name: `${p}.scores`, attrs: { axis: { int: -1 } } });
  const scoresShape = b.op("Shape", [scores], { name: `${p}.scores_shape` });
  const perGroup = b.op("Reshape", [scores, i64([0, 0, G, -1])], { name: `${p}.scores_per_group` });
  const biased = b.op("Add", [perGroup, mask.flatBias], { name: `${p}.scores_biased` });
  const logits = b.op("Reshape", [biased, scoresShape], { name: `${p}.scores_unflatten` });
  const probs = b.op("Softmax", [logits], { name: `${p}.softmax`, attrs: { axis: { int: -1 } } });

  const [probsPast, probsNew] = b.addNode("Split", [probs, mask.splitSizes], 2, { name: `${p}.probs_split`, attrs: { axis: { int: -1 } } });
  const outPast = b.op("MatMul", [probsPast!, inputs.pastValue], { name: `${p}.out_past` });
  const outNew = b.op("MatMul", [probsNew!, inputs.newValueOutput], { name: `${p}.out_new` });
  const grouped = b.op("Add", [outPast, outNew], { name: `${p}.out_grouped` });

  const out5 = b.op("Reshape", [grouped, i64([0, 0, G, -1, D])], { name: `${p}.out_ungroup` });
  const outT = b.op("Transpose", [out5], { name: `${p}.out_tokens_first`, attrs: { perm: { ints: [0, 3, 1, 2, 4] } } });
  const out = b.op("Reshape", [outT, i64([0, 0, H * D])], { name: `${p}.out_merge_heads` });
  return b.op("Mul", [out, mask.rowValid], { name: `${p}.out` });
}
