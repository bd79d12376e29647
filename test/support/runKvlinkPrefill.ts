import * as ort from "onnxruntime-node";
import type { ModelWeights } from "../../packages/core/src/model/ModelWeights.js";

/** Runs a KVLink-signature model on a causal prompt with no past; returns logits [S, V]. */
export async function runKvlink(modelPath: string, weights: ModelWeights, ids: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  try {
    const S = ids.length, { numLayers, numKvHeads, headDim } = weights.spec;
    const bias = new Float32Array(S * S);
    for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) bias[i * S + j] = -Infinity;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, S]),
      position_ids: new ort.Tensor("int64", BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, S]),
      attention_bias: new ort.Tensor("float32", bias, [1, 1, S, S]),
      num_logits_to_keep: new ort.Tensor("int64", BigInt64Array.from([0n]), []),
    };
    for (let l = 0; l < numLayers; l++) {
      feeds[`past_key_values.${l}.key`] = new ort.Tensor("float32", new Float32Array(0), [1, numKvHeads, 0, headDim]);
      feeds[`past_key_values.${l}.value`] = new ort.Tensor("float32", new Float32Array(0), [1, numKvHeads, 0, headDim]);
    }
    const out = await session.run(feeds);
    return out["logits"]!.data as Float32Array;
  } finally {
    await session.release();
  }
}
