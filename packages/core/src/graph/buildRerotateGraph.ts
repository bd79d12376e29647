import { UnsupportedModelError } from "../errors/KvLinkError.js";
import type { ModelSpec } from "../model/ModelSpec.js";
import { computeInvFreq } from "../rope/computeInvFreq.js";
import { OnnxGraphBuilder } from "./OnnxGraphBuilder.js";

/** I/O names of the re-rotation graph. */
export const RerotateIoNames = {
  /** float32 [B,KVH,T,D]: post-RoPE keys. */
  keys: "keys",
  /** int64 [B,T]: per-token position change (new − old); may be negative or exceed maxPositionEmbeddings. */
  deltaPositions: "delta_positions",
  /** float32 [B,KVH,T,D]: keys as if computed at old + delta. */
  rotatedKeys: "rotated_keys",
} as const;

/**
 * Builds a small ONNX graph that moves post-RoPE keys to new positions: RoPE rotations compose,
 * R(old + delta) = R(delta)·R(old), so rotated = RotaryEmbedding(keys) with angles delta·inv_freq, using the
 * model's inv_freq (llama3/linear scaling included; HF half-split layout, interleaved = 0).
 *
 * cos/sin are computed in-graph, not looked up in a [maxPositions, rotaryDim/2] table, so negative and large
 * deltas work: delta is cast to float64, multiplied by a float64 inv_freq initializer, Cos/Sin run in float64,
 * and the result is cast to fp32 (the precision of the decoder's TS-built tables). RotaryEmbedding then gets
 * 3-D [B,T,rotaryDim/2] caches and no position_ids. Meant for caches that live on an accelerator; on the CPU
 * the same rotation can run in TypeScript.
 */
export function buildRerotateGraph(spec: ModelSpec): Uint8Array {
  const invFreq = computeInvFreq(spec.rope);
  const { numKvHeads, headDim } = spec;
  if (spec.rope.rotaryDim > headDim) {
    throw new UnsupportedModelError(`rope.rotaryDim (${spec.rope.rotaryDim}) exceeds headDim (${headDim})`, {
      details: { rotaryDim: spec.rope.rotaryDim, headDim },
    });
  }
  const b = new OnnxGraphBuilder({ name: "rerotate_keys", docString: "kvlink-ts RoPE re-rotation of a post-RoPE key cache" });
  const keys = b.addInput(RerotateIoNames.keys, "float32", ["batch_size", numKvHeads, "sequence_length", headDim]);
  const delta = b.addInput(RerotateIoNames.deltaPositions, "int64", ["batch_size", "sequence_length"]);
  const invFreqInit = b.addInitializer("rope.inv_freq", "float64", [invFreq.length], invFreq);
  const deltaF64 = b.op("Cast", [delta], { name: "delta.cast", attrs: { to: { int: 11 } } });
  const deltaCol = b.op("Unsqueeze", [deltaF64, b.constInt64([2])], { name: "delta.unsqueeze" });
  const angles = b.op("Mul", [deltaCol, invFreqInit], { name: "angles" });
  const toF32 = (x: string, name: string) => b.op("Cast", [x], { name, attrs: { to: { int: 1 } } });
  const cos = toF32(b.op("Cos", [angles], { name: "cos64" }), "cos");
  const sin = toF32(b.op("Sin", [angles], { name: "sin64" }), "sin");
  b.addNode("RotaryEmbedding", [keys, cos, sin], [RerotateIoNames.rotatedKeys], {
    name: "rotate",
    attrs: {
      interleaved: { int: 0 },
      ...(spec.rope.rotaryDim < headDim ? { rotary_embedding_dim: { int: spec.rope.rotaryDim } } : {}),
    },
  });
  b.addOutput(RerotateIoNames.rotatedKeys, "float32", ["batch_size", numKvHeads, "sequence_length", headDim]);
  return b.encode().model;
}
