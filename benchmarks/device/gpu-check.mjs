// GPU check: a SmolLM2-shaped random q4 model (30 layers, hidden 576, 9/3 heads, vocab 1024), CPU vs WebGPU
// execution providers: prefill/decode tokens/s at 0/1k/4k context, warm kvlink TTFT, and linked logits CPU vs WebGPU.
// Run after the build:  EPS=cpu,webgpu THREADS=16 node benchmarks/device/gpu-check.mjs
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel, KvLinkEngine } from "../../packages/core/dist/index.js";
import { writeTinyModel } from "../../packages/core/dist/testing.js";

const out = process.env.OUT ?? ".";
const dir = mkdtempSync(join(tmpdir(), "kvl-gpu-"));
let t = performance.now();
await writeTinyModel(dir, { layers: 30, hidden: 576, heads: 9, kvHeads: 3, vocab: 1024, intermediate: 1536, seed: 1, signature: "kvlink", quant: "q4", maxPositionEmbeddings: 8192, numLinkTokens: 2 });
console.log(JSON.stringify({ event: "model", ms: performance.now() - t }));
const results = [];
const eps = (process.env.EPS ?? "cpu,webgpu").split(",");
const threads = Number(process.env.THREADS ?? 16);
const logitsByEp = {};
for (const ep of eps) {
  try {
    t = performance.now();
    const model = await loadModel(dir, { executionProvider: ep, numThreads: threads });
    const loadMs = performance.now() - t;
    for (const ctx of [0, 1024, 4096]) {
      const seq = await model.createSequence();
      const prompt = Array.from({ length: Math.max(ctx, 1) }, (_, i) => 20 + (i * 7) % 900);
      t = performance.now();
      await seq.forward({ inputIds: prompt, numLogitsToKeep: 1 });
      const prefillMs = performance.now() - t;
      const steps = 16;
      t = performance.now();
      for (let i = 0; i < steps; i++) await seq.forward({ inputIds: [30 + i], numLogitsToKeep: 1 });
      const decodeMs = performance.now() - t;
      results.push({ ep, ctx, prefill_tokens_per_s: (prompt.length * 1000) / prefillMs, decode_tokens_per_s: (steps * 1000) / decodeMs, loadMs });
      console.log(JSON.stringify(results.at(-1)));
      await seq.dispose();
    }
    await model.dispose();
    const engine = await KvLinkEngine.create({ model: dir, executionProvider: ep, numThreads: threads });
    const docs = ["alpha beta gamma delta ".repeat(40), "one two three four five ".repeat(30), "rivers and cities ".repeat(50)];
    await engine.precompute(docs);
    const linked = await engine.linkPrompt({ documents: docs, question: "which one?" });
    logitsByEp[ep] = Array.from(linked.logits);
    const times = [];
    for (let i = 0; i < 5; i++) { const r = await engine.generate({ documents: docs, question: "which one?", greedy: true, maxTokens: 1 }).result(); times.push(r.stats.ttftMs); }
    times.sort((a, b) => a - b);
    console.log(JSON.stringify({ ep, event: "kvlink-ttft", ttft_ms_median: times[2], positions: linked.plan.numPositions }));
    await engine.dispose();
  } catch (e) {
    console.log(JSON.stringify({ ep, error: String(e?.message ?? e), code: e?.code }));
  }
}
if (logitsByEp.cpu && logitsByEp.webgpu) {
  let m = 0; for (let i = 0; i < logitsByEp.cpu.length; i++) m = Math.max(m, Math.abs(logitsByEp.cpu[i] - logitsByEp.webgpu[i]));
  console.log(JSON.stringify({ event: "cpu-vs-webgpu-linked-logits", max_abs_diff: m }));
}
