/**
 * The input/output contract of the decoder graphs. Two signatures:
 *
 * KVLink (ours): explicit positions and a 4D additive mask, so one pass can compute link tokens over any
 * layout of cached documents; it returns only the KV of the new tokens (the host owns the cache).
 *   inputs : input_ids int64 [B,S] · position_ids int64 [B,S] · attention_bias float32 [B,1,S,P+S]
 *            (0 = may attend, -Infinity = blocked; columns = P past tokens then the S new ones)
 *            · past_key_values.{i}.key|value float32 [B,KVH,P,D] (keys post-RoPE) · num_logits_to_keep int64 []
 *            · adapter_scale float32 [B,1,1] (graphs with LoRA branches only; see ModelSpec / addLinear)
 *            A graph built with `attention: "decomposed"` takes past keys transposed, [B,KVH,D,P] (same name;
 *            values stay [B,KVH,P,D]); hosts tell the layouts apart by the declared shape of the key input.
 *   outputs: logits float32 [B,L,V] (L = num_logits_to_keep, or S when it is 0)
 *            · new_key_values.{i}.key|value float32 [B,KVH,S,D] (keys post-RoPE at position_ids)
 *
 * Standard (Optimum / transformers.js layout):
 *   inputs : input_ids int64 [B,S] · attention_mask int64 [B,P+S] · position_ids int64 [B,S]
 *            · past_key_values.{i}.key|value float32 [B,KVH,P,D] · num_logits_to_keep int64 []
 *   outputs: logits float32 [B,L,V] · present.{i}.key|value float32 [B,KVH,P+S,D]
 */
export type GraphSignature = "kvlink" | "standard";

export const IoNames = {
  inputIds: "input_ids",
  positionIds: "position_ids",
  attentionBias: "attention_bias",
  attentionMask: "attention_mask",
  numLogitsToKeep: "num_logits_to_keep",
  /**
   * float32 [B,1,1], only on kvlink-signature graphs with LoRA branches: each branch's output is multiplied by it
   * (0 = the base model). Standard-signature graphs keep their branches always on.
   */
  adapterScale: "adapter_scale",
  logits: "logits",
  pastKey: (layer: number): string => `past_key_values.${layer}.key`,
  pastValue: (layer: number): string => `past_key_values.${layer}.value`,
  newKey: (layer: number): string => `new_key_values.${layer}.key`,
  newValue: (layer: number): string => `new_key_values.${layer}.value`,
  presentKey: (layer: number): string => `present.${layer}.key`,
  presentValue: (layer: number): string => `present.${layer}.value`,
} as const;

/** Which signature a session implements, from its input names; undefined if neither. */
export function detectSignature(inputNames: readonly string[]): GraphSignature | undefined {
  const has = (n: string) => inputNames.includes(n);
  if (!has(IoNames.inputIds)) return undefined;
  if (has(IoNames.attentionBias) && has(IoNames.positionIds)) return "kvlink";
  if (has(IoNames.attentionMask)) return "standard";
  return undefined;
}
