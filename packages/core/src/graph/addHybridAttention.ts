import type { OnnxGraphBuilder } from "./OnnxGraphBuilder.js";

/**
 * Past length (slots fed, capacity included) from which a one-token step takes the MatMul branch of the hybrid
 * attention. Chosen, not tuned: the MatMul branch has ~15 more nodes per layer, and its gain grows with the past
 * (at 1k past the two graphs decoded on par in one A/B, 79.4 vs 81.4 tokens/s; at 4k it is 1.6–1.7×); nothing was
 * measured between 0 and 1k.
 */
export const HYBRID_MATMUL_MIN_PAST = 256;

/** What every layer's hybrid attention shares, computed once per graph (addHybridAttentionShared). */
export interface HybridAttentionShared {
  /** bool scalar: the step has one new token and at least HYBRID_MATMUL_MIN_PAST past slots. */
  readonly useMatMul: string;
  /** int64 [2] = [P, 1]: splits the MatMul branch's probabilities into past and new columns. */
  readonly pastNewSplit: string;
}

/** The branch condition and split sizes of hybrid attention, from the shapes of input_ids [B,S] and layer 0's past keys [B,KVH,P,D]. */
export function addHybridAttentionShared(b: OnnxGraphBuilder, inputIds: string, pastKey0: string): HybridAttentionShared {
  const dim = (x: string, axis: number, name: string): string =>
    b.op("Gather", [b.op("Shape", [x], { name: `${name}.shape` }), b.constInt64([axis], { scalar: true })], { name, attrs: { axis: { int: 0 } } });
  const seqLen = dim(inputIds, 1, "hybrid_attn.seq_len");
  const pastLen = dim(pastKey0, 2, "hybrid_attn.past_len");
  const oneToken = b.op("Equal", [seqLen, b.constInt64([1], { scalar: true })], { name: "hybrid_attn.one_token" });
  const longPast = b.op("GreaterOrEqual", [pastLen, b.constInt64([HYBRID_MATMUL_MIN_PAST], { scalar: true })], { name: "hybrid_attn.long_past" });
  const useMatMul = b.op("And", [oneToken, longPast], { name: "hybrid_attn.use_matmul" });
  const pastNewSplit = b.op("Concat", [b.op("Unsqueeze", [pastLen, b.constInt64([0])], { name: "hybrid_attn.past_len_1d" }), b.constInt64([1])], {
    name: "hybrid_attn.past_new_split",
    attrs: { axis: { int: 0 } },
  });
  return { useMatMul, pastNewSplit };
}

/** Per-layer inputs of addHybridAttention. */
export interface HybridAttentionInputs {
  /** Post-RoPE queries [B,S,H·D] and keys [B,S,KVH·D], values [B,S,KVH·D]. */
  readonly q: string;
  readonly k: string;
  readonly v: string;
  /** Past keys and values [B,KVH,P,D], as Attention-23 takes them. */
  readonly pastKey: string;
  readonly pastValue: string;
  /** float32 additive mask [B,1,S,P+S]. */
  readonly attentionBias: string;
  readonly shared: HybridAttentionShared;
  /** Adds the layer's Attention-23 node (inside the other branch) and returns its output [B,S,H·D]. */
  readonly attention23: () => string;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly name: string;
}

/**
 * Attention over a host-owned past with keys and values [B,KVH,P,D]; returns the output [B,S,H·D]. An If node
 * picks one of two branches:
 * - one-token steps over a long past (`useMatMul`): MatMuls that read the past in place, without Attention-23's copy
 *   of it into present outputs (G = H/KVH query heads share a KV head; their queries are the G columns of the
 *   small right operand of the scores, so ORT's SGEMM streams the keys once per KV head without packing them):
 *     scoresᵀ = [pastK ; k_new] · (q/√D)ᵀ          [B,KVH,P+1,G]
 *     p       = Softmax(scores + bias)             over the P+1 keys
 *     out     = p_past · pastV + p_new · v_new      [B,KVH,G,D]
 * - everything else (prompts, link passes, short pasts): ORT's Attention-23.
 *
 * Why: Attention-23 copies the past into its present outputs on every call and multiplies Q·Kᵀ with a scale
 * other than 1, which sends ORT's CPU kernel through SGEMM's packing path for every head; at a 4k past that is
 * most of a decode step. Measured 2026-12-02 on a 2-vCPU AMD EPYC (AVX-512), ORT 1.30, SmolLM2 shapes (30 layers,
 * 9/3 heads, head_dim 64), the attention alone, 1 thread, medians of 15: one token over 4096 past: Attention-23
 * 24.4 ms · this MatMul form 15.9 ms (13.1 ms with the values stored transposed, but in the whole model that
 * variant decoded no faster, 40–49 vs 43–56 tokens/s, and placing documents into transposed values made kvlink
 * TTFT 15 % slower, so values stay [B,KVH,P,D]); prompts of 95 tokens over 5120 past: Attention-23 205 ms ·
 * MatMul forms 290–300 ms, hence the branch. Whole-model figures: docs/performance.md §6.
 *
 * The MatMul branch is only for S = 1, where no query row is fully blocked (the new token sees itself), so the
 * Softmax needs no guard for all-masked rows.
 */
export function addHybridAttention(b: OnnxGraphBuilder, inputs: HybridAttentionInputs): string {
  const { numHeads: H, numKvHeads: KVH, headDim: D, name: p } = inputs;
  const G = H / KVH;
  const out = b.uniqueName(`${p}.out`);
  const outDims = ["batch_size", "sequence_length", H * D] as const;

  const matmulBranch = b.subgraph(`${p}.matmul_branch`, () => {
    const i64 = (xs: readonly number[]) => b.constInt64(xs);
    const perm = (x: string, ints: readonly number[], name: string) => b.op("Transpose", [x], { name, attrs: { perm: { ints } } });
    // q [B,1,H·D] → (q/√D)ᵀ per KV head: [B,KVH,D,G].
    const qScaled = b.op("Mul", [inputs.q, b.constFloat(1 / Math.sqrt(D))], { name: `${p}.mm.q_scale` });
    const qT = perm(b.op("Reshape", [qScaled, i64([0, KVH, G, D])], { name: `${p}.mm.q_heads` }), [0, 1, 3, 2], `${p}.mm.q_t`);
    const kNew = perm(b.op("Reshape", [inputs.k, i64([0, 1, KVH, D])], { name: `${p}.mm.k_heads` }), [0, 2, 1, 3], `${p}.mm.k_new`); // [B,KVH,1,D]
    const scoresPastT = b.op("MatMul", [inputs.pastKey, qT], { name: `${p}.mm.scores_past` }); // [B,KVH,P,G]
    const scoresNewT = b.op("MatMul", [kNew, qT], { name: `${p}.mm.scores_new` }); // [B,KVH,1,G]
    const scoresT = b.op("Concat", [scoresPastT, scoresNewT], { name: `${p}.mm.scores_t`, attrs: { axis: { int: 2 } } });
    const scores = perm(scoresT, [0, 1, 3, 2], `${p}.mm.scores`); // [B,KVH,G,P+1]
    // bias [B,1,1,P+1] broadcasts over KV heads and G.
    const probs = b.op("Softmax", [b.op("Add", [scores, inputs.attentionBias], { name: `${p}.mm.masked` })], {
      name: `${p}.mm.softmax`,
      attrs: { axis: { int: -1 } },
    });
    const [probsPast, probsNew] = b.addNode("Split", [probs, inputs.shared.pastNewSplit], 2, {
      name: `${p}.mm.split`,
      attrs: { axis: { int: 3 } },
    }) as [string, string];
    const vNew = perm(b.op("Reshape", [inputs.v, i64([0, 1, KVH, D])], { name: `${p}.mm.v_heads` }), [0, 2, 1, 3], `${p}.mm.v_new`); // [B,KVH,1,D]
    const outPast = b.op("MatMul", [probsPast, inputs.pastValue], { name: `${p}.mm.out_past` }); // [B,KVH,G,D]
    const outNew = b.op("MatMul", [probsNew, vNew], { name: `${p}.mm.out_new` }); // [B,KVH,G,D]
    // [B,KVH,G,D] → [B,1,H·D] (query head h = kvh·G + g, as Attention-23 groups them).
    const o = b.op("Reshape", [b.op("Add", [outPast, outNew], { name: `${p}.mm.out_heads` }), i64([0, 1, H * D])], { name: `${p}.mm.out` });
    return [{ name: o, type: "float32", dims: outDims }];
  });

  const attentionBranch = b.subgraph(`${p}.attention_branch`, () => [{ name: inputs.attention23(), type: "float32", dims: outDims }]);

  b.addNode("If", [inputs.shared.useMatMul], [out], { name: `${p}.branch`, attrs: { then_branch: matmulBranch, else_branch: attentionBranch } });
  return out;
}
