// GPU benchmark for the H200 host (not CI): random-weight SmolLM2-shaped and Llama-3.2-1B-shaped KVLink models
// from the graph builder, execution providers side by side in one process:
//   - TTFT full vs kvlink vs floor at 10 x 512 (engine's measureTtft: one-pass full prefill) and 32 x 1024 documents
//     (full = causal prefill of the same number of positions in 2048-token chunks, as one pass would need an
//     8.9 GB attention bias);
//   - decode tokens/s at 1k / 8k / 32k context (the past filled with synthetic KV: speed does not depend on values);
//   - correctness: next-token logits of the same linked prompt (same stored caches), cuda vs cpu, with TF32 on
//     (ORT's default) and off (a child process with NVIDIA_TF32_OVERRIDE=0).
// Run from the repo root after the build (on the host: source .device/prelude.sh first):
//   THREADS=16 EPS=cpu,cuda node benchmarks/device/cuda-bench.mjs
// Knobs: MODELS=llama1b,smollm2 (a "-kv16" suffix, e.g. llama1b-kv16: the same model with float16 past KV inputs)  TTFT=10x512,32x1024  CTX=1024,8192,32768  REPS=3  FULL_REPS=2  STEPS=16
// SKIP=ttft,decode,correct  PLACEMENT=1,8 (placementThreads values compared side by side in the TTFT runs; "default" =
// the engine's default; full prefill is measured with the first value only, it does not place caches)
// FULL_CPU_MAX=6000 (positions above which cpu full prefill is not run)  ONE_PASS_MAX=8192 (document tokens up to
// which measureTtft's one-pass full prefill is used). Writes $OUT/cuda-bench.json.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { KvLinkEngine, loadModel } from "../../packages/core/dist/index.js";
import { writeTinyModel } from "../../packages/core/dist/testing.js";
import { makeSyntheticDocuments, measureTtft } from "../../packages/core/dist/engine/measureTtft.js";

const env = process.env;
const out = env.OUT ?? ".";
const threads = Number(env.THREADS ?? 16);
const eps = (env.EPS ?? "cpu,cuda").split(",");
const models = (env.MODELS ?? "llama1b,smollm2").split(",");
const ttftSizes = (env.TTFT ?? "10x512,32x1024").split(",").filter(Boolean).map((s) => s.split("x").map(Number));
const contexts = (env.CTX ?? "1024,8192,32768").split(",").filter(Boolean).map(Number);
const reps = Number(env.REPS ?? 3);
const fullReps = Number(env.FULL_REPS ?? 2);
const steps = Number(env.STEPS ?? 16);
const fullCpuMax = Number(env.FULL_CPU_MAX ?? 6000);
const onePassMax = Number(env.ONE_PASS_MAX ?? 8192);
const skip = new Set((env.SKIP ?? "").split(","));
const placements = (env.PLACEMENT ?? "default").split(",").map((p) => (p === "default" ? undefined : Number(p)));
const tf32 = env.TF32 !== "0";
const childMode = env.BENCH_CHILD === "correct";

const SHAPES = {
  smollm2: { layers: 30, hidden: 576, heads: 9, kvHeads: 3, intermediate: 1536 },
  llama1b: { layers: 16, hidden: 2048, heads: 32, kvHeads: 8, intermediate: 8192 },
};

const root = env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), "kvl-cuda-bench-"));
const report = {
  started: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model,
  numCpus: availableParallelism(),
  threads,
  eps,
  tf32,
  notes: [
    "random weights (one layer drawn, repeated: speed does not depend on values), 4-bit MatMulNBits weights, vocab 1024 (the tiny tokenizer's)",
    "KV cache host-resident: onnxruntime-node 1.30 cannot keep CUDA outputs on the device, so every run uploads its past",
  ],
  models: {},
  results: [],
};
const log = (record) => {
  report.results.push(record);
  console.log(JSON.stringify(record));
  if (!childMode) writeFileSync(join(out, "cuda-bench.json"), JSON.stringify(report, null, 1));
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function ensureModel(name) {
  const dir = join(root, name);
  if (report.models[name] || existsSync(join(dir, "config.json"))) return dir;
  const t = performance.now();
  const shape = SHAPES[name.replace(/-kv16$/, "")];
  const pastKvType = name.endsWith("-kv16") ? "float16" : "float32";
  await writeTinyModel(dir, { ...shape, vocab: 1024, seed: 1, signature: "kvlink", quant: "q4", maxPositionEmbeddings: 40960, numLinkTokens: 2, numSlots: 32, repeatLayers: true, pastKvType });
  report.models[name] = { ...shape, vocab: 1024, headDim: shape.hidden / shape.heads, pastKvType, writeMs: performance.now() - t };
  return dir;
}

const openModel = (dir, ep) => loadModel(dir, { executionProvider: ep, numThreads: threads, ...(ep === "cuda" && !tf32 ? { providerSettings: { tf32: false } } : {}) });

const openEngine = (dir, ep, name, placementThreads) =>
  KvLinkEngine.create({
    ...(placementThreads !== undefined ? { placementThreads } : {}),
    model: dir,
    executionProvider: ep,
    numThreads: threads,
    storeUrl: `sqlite://${join(root, `${name}-cache.sqlite`)}`,
    documentCacheBytes: 24 * 1024 ** 3,
    ...(ep === "cuda" && !tf32 ? { tf32: false } : {}),
  });

/** Causal prefill of `numPositions` tokens in chunks (the runtime's own growth, host-resident KV), ms until the last logits. */
async function chunkedFullMs(dir, ep, numPositions, chunk = 2048) {
  const model = await openModel(dir, ep);
  try {
    const times = [];
    for (let r = 0; r < 1 + fullReps; r++) {
      const seq = await model.runtime.createSequence();
      const t = performance.now();
      for (let p = 0; p < numPositions; p += chunk) {
        const n = Math.min(chunk, numPositions - p);
        await model.runtime.forward(seq, { inputIds: Array.from({ length: n }, (_, i) => 20 + ((p + i) * 7) % 900), numLogitsToKeep: 1 });
      }
      if (r > 0) times.push(performance.now() - t);
      await model.runtime.disposeSequence(seq);
    }
    return { ms: median(times), runs: times };
  } finally {
    await model.dispose();
  }
}

async function ttft(name) {
  const dir = await ensureModel(name);
  // cuda first: it computes the document caches into the shared store, which cpu then reads (same bytes for both).
  for (const ep of [...eps].sort((a, b) => (a === "cuda" ? -1 : b === "cuda" ? 1 : 0))) {
    const linkedLogits = [];
    for (const [pi, placementThreads] of placements.entries()) {
      let engine;
      try {
        engine = await openEngine(dir, ep, name, placementThreads);
      } catch (error) {
        log({ name: "ttft", params: { model: name, ep, placementThreads }, error: String(error?.message ?? error), code: error?.code });
        continue;
      }
      try {
        for (const [numDocs, docTokens] of ttftSizes) {
          const params = { model: name, ep, threads, numDocs, docTokens, placementThreads: placementThreads ?? "default" };
          try {
            const t = performance.now();
            if (numDocs * docTokens <= onePassMax) {
              const r = await measureTtft(engine, { numDocs, docTokens, repetitions: reps, warmupRepetitions: 1 });
              log({ name: "ttft", params, full_kind: "one pass", full_ms: r.full_ms, kvlink_ms: r.kvlink_ms, floor_ms: r.floor_ms, ratio_kvlink_full: r.ratio_kvlink_full, positions: r.positions, fresh_tokens: r.fresh_tokens, phases: r.phases, wallMs: performance.now() - t });
              continue;
            }
            const docs = makeSyntheticDocuments(engine, numDocs, docTokens);
            const tp = performance.now();
            await engine.precompute(docs);
            const precomputeMs = performance.now() - tp;
            const request = { documents: docs, question: "Which records mention a harbor, and what is said about it?", maxTokens: 1, greedy: true };
            const kvlinkRuns = [];
            const floorRuns = [];
            const placeRuns = [];
            let positions = 0;
            let phases;
            for (let r = 0; r < 1 + reps; r++) {
              const res = await engine.generate({ ...request, mode: "kvlink" }).result();
              const floor = await engine.measureFloor({ ...request, mode: "kvlink" });
              positions = res.stats.promptPositions;
              if (r === 0) continue; // warm-up
              kvlinkRuns.push(res.stats.ttftMs);
              floorRuns.push(floor.forwardMs);
              placeRuns.push(floor.placeMs);
              phases = res.stats.phases;
            }
            if (numDocs === ttftSizes[0][0] && docTokens === ttftSizes[0][1]) {
              const linked = await engine.linkPrompt({ documents: docs, question: "Which records mention a harbor?" });
              linkedLogits.push({ placementThreads: params.placementThreads, logits: linked.logits });
            }
            const full = pi === 0 && (ep !== "cpu" || positions <= fullCpuMax) ? await chunkedFullMs(dir, ep, positions) : undefined;
            log({
              name: "ttft",
              params,
              full_kind: full ? "2048-token chunks" : pi > 0 ? "measured with the first PLACEMENT value" : `not run on cpu (${positions} positions > FULL_CPU_MAX ${fullCpuMax})`,
              full_ms: full?.ms ?? null,
              kvlink_ms: median(kvlinkRuns),
              floor_ms: median(floorRuns),
              place_ms: median(placeRuns),
              ratio_kvlink_full: full ? median(kvlinkRuns) / full.ms : null,
              positions,
              phases,
              kvlink_runs: kvlinkRuns,
              full_runs: full?.runs ?? null,
              precomputeMs,
              wallMs: performance.now() - t,
            });
          } catch (error) {
            log({ name: "ttft", params, error: String(error?.message ?? error), code: error?.code });
          }
        }
      } finally {
        await engine.dispose();
      }
    }
    // Placement on helper threads must not change a bit of the linked prompt's logits.
    for (const other of linkedLogits.slice(1)) {
      const a = linkedLogits[0].logits;
      let maxAbs = 0;
      for (let i = 0; i < a.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i] - other.logits[i]));
      log({ name: "placement-exact", params: { model: name, ep, a: linkedLogits[0].placementThreads, b: other.placementThreads }, max_abs_diff: maxAbs });
    }
  }
}

/** Synthetic KV of `n` slots (values in ±0.5, a fixed pattern; positions 0..n-1). */
function syntheticBlock(spec, n) {
  const size = spec.numKvHeads * n * spec.headDim;
  const pattern = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i * 0.37) * 0.5);
  const make = () => {
    const a = new Float32Array(size);
    for (let o = 0; o < size; o += pattern.length) a.set(pattern.subarray(0, Math.min(pattern.length, size - o)), o);
    return a;
  };
  return {
    keys: Array.from({ length: spec.numLayers }, make),
    values: Array.from({ length: spec.numLayers }, make),
    numTokens: n,
    positions: Int32Array.from({ length: n }, (_, i) => i),
  };
}

async function decode(name) {
  const dir = await ensureModel(name);
  for (const ep of eps) {
    try {
      const model = await openModel(dir, ep);
      const spec = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
      const geometry = { numLayers: spec.num_hidden_layers, numKvHeads: spec.num_key_value_heads, headDim: spec.hidden_size / spec.num_attention_heads };
      for (const ctx of contexts) {
        const seq = await model.runtime.createSequence({ reserveTokens: ctx + steps + 2 });
        await model.runtime.appendKv(seq, syntheticBlock(geometry, ctx), { transfer: true });
        for (let i = 0; i < 2; i++) await model.runtime.forward(seq, { inputIds: [30 + i], numLogitsToKeep: 1 });
        const per = [];
        for (let i = 0; i < steps; i++) {
          const t = performance.now();
          await model.runtime.forward(seq, { inputIds: [40 + i], numLogitsToKeep: 1 });
          per.push(performance.now() - t);
        }
        await model.runtime.disposeSequence(seq);
        log({ name: "decode", params: { model: name, ep, threads, context: ctx, steps }, step_ms_median: median(per), tokens_per_s: 1000 / median(per), step_ms: per });
      }
      await model.dispose();
    } catch (error) {
      log({ name: "decode", params: { model: name, ep, threads }, error: String(error?.message ?? error), code: error?.code });
    }
  }
}

/** Linked next-token logits of one prompt on every ep (same stored caches); max |cuda - cpu| and the logits' scale. */
async function correct(name) {
  const dir = await ensureModel(name);
  const logits = {};
  let docs;
  for (const ep of ["cpu", ...eps.filter((e) => e !== "cpu")]) {
    try {
      const engine = await openEngine(dir, ep, name);
      try {
        docs ??= makeSyntheticDocuments(engine, 10, 512);
        const linked = await engine.linkPrompt({ documents: docs, question: "Which records mention a harbor?" });
        logits[ep] = linked.logits;
      } finally {
        await engine.dispose();
      }
    } catch (error) {
      log({ name: "correct", params: { model: name, ep, tf32 }, error: String(error?.message ?? error), code: error?.code });
    }
  }
  for (const ep of Object.keys(logits).filter((e) => e !== "cpu" && logits.cpu)) {
    const a = logits.cpu;
    const b = logits[ep];
    let maxAbs = 0;
    let maxRef = 0;
    let argA = 0;
    let argB = 0;
    for (let i = 0; i < a.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
      maxRef = Math.max(maxRef, Math.abs(a[i]));
      if (a[i] > a[argA]) argA = i;
      if (b[i] > b[argB]) argB = i;
    }
    log({ name: "correct", params: { model: name, ep, vs: "cpu", tf32, prompt: "10 x 512 linked" }, max_abs_diff: maxAbs, max_abs_logit: maxRef, rel: maxAbs / maxRef, same_argmax: argA === argB });
  }
}

mkdirSync(out, { recursive: true });
for (const name of models) {
  if (childMode) {
    await correct(name);
    continue;
  }
  if (!skip.has("ttft")) await ttft(name);
  if (!skip.has("decode")) await decode(name);
  if (!skip.has("correct") && eps.some((e) => e !== "cpu")) await correct(name);
  if (!skip.has("correct") && eps.includes("cuda")) {
    // TF32 off needs its own process: CUDA reads NVIDIA_TF32_OVERRIDE when it creates its handles.
    const child = spawnSync(process.execPath, [new URL(import.meta.url).pathname], {
      env: { ...env, BENCH_CHILD: "correct", TF32: "0", NVIDIA_TF32_OVERRIDE: "0", MODELS: name, BENCH_DIR: root },
      encoding: "utf8",
    });
    for (const line of (child.stdout ?? "").split("\n")) if (line.startsWith("{")) log(JSON.parse(line).name ? JSON.parse(line) : { raw: line });
    if (child.status !== 0) log({ name: "correct", params: { model: name, tf32: false }, error: (child.stderr ?? "").slice(-2000) });
  }
}
report.finished = new Date().toISOString();
if (!childMode) writeFileSync(join(out, "cuda-bench.json"), JSON.stringify(report, null, 1));
