/**
 * Where a decode step's time goes, per ONNX op type: runs one-token steps of a kvlink-signature model.onnx with
 * ONNX Runtime's profiler on (token- or dim-major past keys; past KV fed at `--context` filled slots of a capacity 64 larger, as HostKvCache
 * does) and sums the profiler's kernel times per op type. Also prints the JS time to build the feeds.
 *
 *   npx tsx benchmarks/core/profileDecodeStep.ts <model.onnx> [--context 0] [--steps 20] [--threads 2]
 *
 * The numbers are this host's, under whatever load it has: compare two graphs in one sitting (docs/performance.md).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { InferenceSession, Tensor } from "onnxruntime-node";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { context: { type: "string", default: "0" }, steps: { type: "string", default: "20" }, threads: { type: "string", default: "2" } },
});
const modelPath = positionals[0];
const context = Number(args.context);
const numSteps = Number(args.steps);
const numThreads = Number(args.threads);
if (modelPath === undefined || ![context, numSteps, numThreads].every((n) => Number.isInteger(n) && n >= 0) || numSteps < 1 || numThreads < 1) {
  throw new Error("usage: profileDecodeStep.ts <model.onnx> [--context N ≥ 0] [--steps N ≥ 1] [--threads N ≥ 1]");
}

const profileDir = mkdtempSync(join(tmpdir(), "kvlink-profile-"));
const session = await InferenceSession.create(modelPath, {
  intraOpNumThreads: numThreads,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  enableMemPattern: false,
  enableProfiling: true,
  profileFilePrefix: join(profileDir, "ort"),
});
const pastMeta = session.inputMetadata.find((m) => m.name === "past_key_values.0.key");
const shape = pastMeta !== undefined && pastMeta.isTensor ? pastMeta.shape : [];
const numKvHeads = Number(shape[1]);
// Token-major past keys [B,KVH,P,D] (Attention-23) or dim-major [B,KVH,D,P] (decomposed attention).
const dimMajorKeys = typeof shape[3] !== "number";
const headDim = Number(dimMajorKeys ? shape[2] : shape[3]);
const numLayers = session.inputNames.filter((n) => n.startsWith("past_key_values.") && n.endsWith(".key")).length;
if (!Number.isInteger(numKvHeads) || !Number.isInteger(headDim) || numLayers === 0) throw new Error(`${modelPath}: not a kvlink-signature graph with [B,KVH,P,D] or [B,KVH,D,P] past keys`);
const capacity = context + 64;
const past = Array.from({ length: 2 * numLayers }, () => new Float32Array(numKvHeads * capacity * headDim).map(() => Math.random() * 0.1));

let feedsMs = 0;
const stepMs: number[] = [];
for (let step = 0; step < numSteps; step++) {
  const t0 = performance.now();
  const feeds: Record<string, Tensor> = {
    input_ids: new Tensor("int64", BigInt64Array.of(100n), [1, 1]),
    position_ids: new Tensor("int64", BigInt64Array.of(BigInt(context)), [1, 1]),
  };
  const bias = new Float32Array(capacity + 1).fill(-Infinity);
  bias.fill(0, 0, context);
  bias[capacity] = 0;
  feeds["attention_bias"] = new Tensor("float32", bias, [1, 1, 1, capacity + 1]);
  for (let l = 0; l < numLayers; l++) {
    feeds[`past_key_values.${l}.key`] = new Tensor("float32", past[2 * l]!, dimMajorKeys ? [1, numKvHeads, headDim, capacity] : [1, numKvHeads, capacity, headDim]);
    feeds[`past_key_values.${l}.value`] = new Tensor("float32", past[2 * l + 1]!, [1, numKvHeads, capacity, headDim]);
  }
  if (session.inputNames.includes("adapter_scale")) feeds["adapter_scale"] = new Tensor("float32", Float32Array.of(1), [1, 1, 1]);
  if (session.inputNames.includes("num_logits_to_keep")) feeds["num_logits_to_keep"] = new Tensor("int64", BigInt64Array.of(1n), []);
  const t1 = performance.now();
  await session.run(feeds);
  feedsMs += t1 - t0;
  stepMs.push(performance.now() - t0);
}
session.endProfiling();
await session.release();
const file = readdirSync(profileDir).find((f) => f.endsWith(".json"));
if (file === undefined) throw new Error(`no profile written to ${profileDir}`);
const events = JSON.parse(readFileSync(join(profileDir, file), "utf8")) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
rmSync(profileDir, { recursive: true, force: true });

const numRuns = events.filter((e) => e.name === "model_run").length;
const runUs = events.filter((e) => e.name === "model_run").reduce((a, e) => a + e.dur, 0);
const byOp = new Map<string, { us: number; count: number }>();
for (const e of events) {
  if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
  const op = e.args?.op_name ?? "?";
  const entry = byOp.get(op) ?? { us: 0, count: 0 };
  entry.us += e.dur;
  entry.count++;
  byOp.set(op, entry);
}
const kernelUs = [...byOp.values()].reduce((a, e) => a + e.us, 0);
const sorted = [...stepMs].sort((a, b) => a - b);
const ms = (us: number): string => (us / numRuns / 1000).toFixed(2);
console.log(`${modelPath}: context ${context}, ${numSteps} steps, ${numThreads} threads`);
console.log(`step median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} ms · model_run ${ms(runUs)} ms · kernels ${ms(kernelUs)} ms · JS feeds ${(feedsMs / numSteps).toFixed(2)} ms`);
console.log("| op | ms per step | share of kernels | nodes per step |\n|---|---:|---:|---:|");
for (const [op, e] of [...byOp].sort((a, b) => b[1].us - a[1].us)) {
  console.log(`| ${op} | ${ms(e.us)} | ${((100 * e.us) / kernelUs).toFixed(1)} % | ${Math.round(e.count / numRuns)} |`);
}
