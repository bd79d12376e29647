/**
 * Test harness for the generated decoder graphs: opens an onnxruntime-node session on graph bytes and runs
 * batch-1 steps of either signature with plain arrays, returning logits and KV in the reference's layout.
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { buildDecoderGraph, type BuildDecoderGraphOptions } from "../../../../packages/core/src/graph/buildDecoderGraph.js";
import { IoNames } from "../../../../packages/core/src/graph/ioNames.js";
import type { ModelSpec } from "../../../../packages/core/src/model/ModelSpec.js";
import type { ModelWeights } from "../../../../packages/core/src/model/ModelWeights.js";
import { assertAllClose } from "../../../support/assertAllClose.js";
import { causalMask, referenceForward } from "../../../support/referenceForward.js";

/** An InferenceSession released by `await using`. */
export class TestSession implements AsyncDisposable {
  readonly session: ort.InferenceSession;
  private constructor(session: ort.InferenceSession) {
    this.session = session;
  }
  static async create(model: Uint8Array | string, options: ort.InferenceSession.SessionOptions = {}): Promise<TestSession> {
    const opts = { intraOpNumThreads: 1, logSeverityLevel: 3 as const, ...options };
    const session = typeof model === "string" ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
    return new TestSession(session);
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.session.release();
  }
}

/** Per-layer caches [KVH, length, D] (batch 1). */
export interface HostKv {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  readonly length: number;
}

export interface StepResult {
  /** [L, V] */
  readonly logits: Float32Array;
  readonly numLogits: number;
  /** kvlink: the new tokens' KV [KVH, S, D]; standard: present [KVH, P+S, D]. */
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
}

const i64 = (xs: readonly number[], dims: readonly number[]) => new ort.Tensor("int64", BigInt64Array.from(xs, BigInt), dims);

/** True when the session's past keys are declared transposed [B,KVH,D,P] (decomposed attention). */
export function hasTransposedPastKeys(s: TestSession, spec: ModelSpec): boolean {
  const meta = s.session.inputMetadata.find((m) => m.name === IoNames.pastKey(0));
  return meta !== undefined && meta.isTensor && meta.shape.length === 4 && meta.shape[2] === spec.headDim && typeof meta.shape[3] === "string";
}

/** [KVH, n, D] → [KVH, D, n]. */
export function transposeKeys(keys: Float32Array, numKvHeads: number, numTokens: number, headDim: number): Float32Array {
  const out = new Float32Array(keys.length);
  for (let h = 0; h < numKvHeads; h++)
    for (let t = 0; t < numTokens; t++)
      for (let d = 0; d < headDim; d++) out[(h * headDim + d) * numTokens + t] = keys[(h * numTokens + t) * headDim + d]!;
  return out;
}

function pastFeeds(spec: ModelSpec, past: HostKv | undefined, options: { batch?: number; transposedKeys?: boolean } = {}): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const length = past?.length ?? 0;
  const batch = options.batch ?? 1;
  for (let l = 0; l < spec.numLayers; l++) {
    const dims = [batch, spec.numKvHeads, length, spec.headDim];
    const keys = past?.keys[l] ?? new Float32Array(0);
    feeds[IoNames.pastKey(l)] = options.transposedKeys
      ? new ort.Tensor("float32", transposeKeys(keys, spec.numKvHeads, length, spec.headDim), [batch, spec.numKvHeads, spec.headDim, length])
      : new ort.Tensor("float32", keys, dims);
    feeds[IoNames.pastValue(l)] = new ort.Tensor("float32", past?.values[l] ?? new Float32Array(0), dims);
  }
  return feeds;
}

function collect(spec: ModelSpec, out: ort.InferenceSession.OnnxValueMapType, keyName: (l: number) => string, valueName: (l: number) => string): StepResult {
  const logits = out[IoNames.logits]!;
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  for (let l = 0; l < spec.numLayers; l++) {
    keys.push(out[keyName(l)]!.data as Float32Array);
    values.push(out[valueName(l)]!.data as Float32Array);
  }
  return { logits: logits.data as Float32Array, numLogits: logits.dims[1]!, keys, values };
}

/**
 * One KVLink-signature step; `mask[s][j]` (true = attend) becomes the 0/−Infinity attention_bias. `past` is
 * [KVH, P, D] per layer, transposed here when the graph takes its past keys as [B,KVH,D,P].
 */
export async function runKvLinkStep(
  s: TestSession,
  spec: ModelSpec,
  input: { inputIds: readonly number[]; positionIds: readonly number[]; mask: readonly (readonly boolean[])[]; past?: HostKv; numLogitsToKeep?: number },
): Promise<StepResult> {
  const S = input.inputIds.length;
  const T = (input.past?.length ?? 0) + S;
  const bias = new Float32Array(S * T);
  input.mask.forEach((row, i) => row.forEach((ok, j) => (bias[i * T + j] = ok ? 0 : -Infinity)));
  const feeds: Record<string, ort.Tensor> = {
    [IoNames.inputIds]: i64(input.inputIds, [1, S]),
    [IoNames.positionIds]: i64(input.positionIds, [1, S]),
    [IoNames.attentionBias]: new ort.Tensor("float32", bias, [1, 1, S, T]),
    [IoNames.numLogitsToKeep]: i64([input.numLogitsToKeep ?? 0], []),
    ...pastFeeds(spec, input.past, { transposedKeys: hasTransposedPastKeys(s, spec) }),
  };
  return collect(spec, await s.session.run(feeds), IoNames.newKey, IoNames.newValue);
}

/** One standard-signature step over `batch` rows of equal length (ids and mask flattened row-major). */
export async function runStandardStep(
  s: TestSession,
  spec: ModelSpec,
  input: { inputIds: readonly number[]; positionIds: readonly number[]; attentionMask: readonly number[]; batch?: number; past?: HostKv; numLogitsToKeep?: number },
): Promise<StepResult> {
  const batch = input.batch ?? 1;
  const S = input.inputIds.length / batch;
  const T = input.attentionMask.length / batch;
  const feeds: Record<string, ort.Tensor> = {
    [IoNames.inputIds]: i64(input.inputIds, [batch, S]),
    [IoNames.attentionMask]: i64(input.attentionMask, [batch, T]),
    [IoNames.positionIds]: i64(input.positionIds, [batch, S]),
    [IoNames.numLogitsToKeep]: i64([input.numLogitsToKeep ?? 0], []),
    ...pastFeeds(spec, input.past, { batch }),
  };
  return collect(spec, await s.session.run(feeds), IoNames.presentKey, IoNames.presentValue);
}

/** Appends per-layer [KVH, n, D] blocks to [KVH, P, D] caches along the token axis. */
export function appendKv(spec: ModelSpec, past: HostKv | undefined, keys: readonly Float32Array[], values: readonly Float32Array[], numNew: number): HostKv {
  const P = past?.length ?? 0;
  const T = P + numNew;
  const D = spec.headDim;
  const cat = (a: Float32Array | undefined, b: Float32Array) => {
    const out = new Float32Array(spec.numKvHeads * T * D);
    for (let h = 0; h < spec.numKvHeads; h++) {
      if (a) out.set(a.subarray(h * P * D, (h + 1) * P * D), h * T * D);
      out.set(b.subarray(h * numNew * D, (h + 1) * numNew * D), (h * T + P) * D);
    }
    return out;
  };
  return {
    keys: keys.map((k, l) => cat(past?.keys[l], k)),
    values: values.map((v, l) => cat(past?.values[l], v)),
    length: T,
  };
}

/** Rows [from, to) of a row-major [rows, width] matrix. */
export function rows(m: Float32Array, width: number, from: number, to: number): Float32Array {
  return m.subarray(from * width, to * width);
}

/** Deterministic token ids in [0, vocabSize). */
export function tokenIds(n: number, vocabSize: number, seed = 1): number[] {
  return Array.from({ length: n }, (_, i) => (i * 37 + seed * 11 + 5) % vocabSize);
}

/** A session on the kvlink-signature graph of `weights`. */
export async function kvlinkSession(weights: ModelWeights, options: Omit<BuildDecoderGraphOptions, "signature"> = {}): Promise<TestSession> {
  return TestSession.create(buildDecoderGraph(weights, { ...options, signature: "kvlink" }).model);
}

/**
 * Prefill of n tokens with a causal mask at positions firstPosition…: asserts logits and the new post-RoPE KV
 * of the kvlink graph match referenceForward within 1e-4.
 */
export async function checkPrefill(
  weights: ModelWeights,
  options: { readonly n?: number; readonly firstPosition?: number; readonly build?: Omit<BuildDecoderGraphOptions, "signature"> } = {},
): Promise<void> {
  const { n = 7, firstPosition = 0 } = options;
  const spec = weights.spec;
  await using s = await kvlinkSession(weights, options.build);
  const inputIds = tokenIds(n, spec.vocabSize);
  const positionIds = inputIds.map((_, i) => firstPosition + i);
  const mask = causalMask(n);
  const got = await runKvLinkStep(s, spec, { inputIds, positionIds, mask });
  const ref = referenceForward(weights, { inputIds, positionIds, mask });
  assert.equal(got.numLogits, n, "logit rows");
  assertAllClose(got.logits, ref.logits, { atol: 1e-4, what: "logits" });
  for (let l = 0; l < spec.numLayers; l++) {
    assertAllClose(got.keys[l]!, ref.newKeys[l]!, { atol: 1e-4, what: `new key layer ${l}` });
    assertAllClose(got.values[l]!, ref.newValues[l]!, { atol: 1e-4, what: `new value layer ${l}` });
  }
}
