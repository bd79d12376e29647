/**
 * Decode and prefill speed against the peers, on the same model and prompts, in one process (round-robin
 * repetitions, medians), plus the numerics of the default kernels:
 * - `peers.sample` (one line per repetition, runner and context; the report takes medians): greedy from a filler context of 0, 1k, 4k (and 8k unless --quick) tokens,
 *   decode tokens/s = (new tokens − 1) / time after the first token, prefill tokens/s = context / time to the
 *   first token. Runners: ours on the default model (KVLink adapter, int8 activations, 8-bit head), ours on the
 *   base GGUF without the adapter (what llama.cpp runs), ours on the base with fp32 activations and fp32 head
 *   (the kernels before issue 14), transformers.js 4.3.2 on our standard-signature conversion of the base, and
 *   llama.cpp (node-llama-cpp 3.21.1) on the GGUF itself. All with the same threads.
 * - `peers.agreement`: greedy tokens of the default model (int8 activations) vs the same weights with fp32
 *   activations, on the five acceptance prompts, and the largest logit difference at the first step.
 */
import { convertModel, FP32_ACTIVATION_KERNELS } from "../../packages/core/src/convert/convertModel.js";
import { loadModel } from "../../packages/core/src/decoder/loadModel.js";
import { SMOLLM2_BASE_SOURCE, SMOLLM2_SOURCE } from "../../packages/core/src/setup/ensureDefaultModel.js";
import { ensureModel, shippedAdapterPath } from "../../packages/core/src/setup/ensureModel.js";
import { ACCEPTANCE_PROMPTS } from "../../test/fixtures/acceptancePrompts.js";
import { commonPrefixLength, type GreedyRunner } from "../../test/core/model/runners/GreedyRunner.js";
import { LlamaCppRunner } from "../../test/core/model/runners/LlamaCppRunner.js";
import { OursRunner } from "../../test/core/model/runners/OursRunner.js";
import { TransformersJsRunner } from "../../test/core/model/runners/TransformersJsRunner.js";
import { ensureConvertedCopy, ensureDefaultGguf } from "../../test/support/defaultModelFiles.js";
import { record } from "../support/harness.js";
import { defaultModelDir, fillerTokens, type SuiteOptions } from "./decode.bench.js";
import { ensureBenchConversion } from "./ensureBenchConversion.js";

const SUITE = "peers";

/** Runner keys for KVLINK_PEERS. */
const PEER_KEYS = ["default", "base", "base-attention23", "base-fp32act", "transformers.js", "llama.cpp"] as const;
type PeerKey = (typeof PEER_KEYS)[number];

export async function runPeersSuite(options: SuiteOptions): Promise<void> {
  const { numThreads, log, quick } = options;
  // KVLINK_BENCH_LONG=1 adds an 8k context (minutes of prefill per runner on 2 cores).
  const contexts = quick ? [0, 256] : process.env["KVLINK_BENCH_LONG"] === "1" ? [0, 1024, 4096, 8000] : [0, 1024, 4096];
  const numNewTokens = quick ? 8 : 17;
  const repetitions = quick ? 1 : Number(process.env["KVLINK_PEERS_REPETITIONS"] ?? 2);
  const gguf = await ensureDefaultGguf();
  const defaultDir = await defaultModelDir();
  const baseDir = await ensureModel(SMOLLM2_BASE_SOURCE);
  const baseFp32ActDir = await ensureBenchConversion("bench-smollm2-base-q4-fp32act", log, (out) =>
    convertModel(gguf, out, { signature: "kvlink", quant: "q4", graph: FP32_ACTIVATION_KERNELS }),
  );
  // Keyed by the adapter's sha: a new shipped adapter must not be measured through the previous one's conversion.
  const defaultFp32ActDir = await ensureBenchConversion(`bench-smollm2-kvlink5-${SMOLLM2_SOURCE.adapter!.sha256.slice(0, 12)}-q4-fp32act`, log, (out) =>
    convertModel(gguf, out, {
      signature: "kvlink",
      quant: "q4",
      graph: FP32_ACTIVATION_KERNELS,
      adapter: shippedAdapterPath(SMOLLM2_SOURCE.adapter!.fileName),
    }),
  );
  const standardDir = await ensureConvertedCopy({ signature: "standard", quant: "q4" });

  await agreement(defaultDir, defaultFp32ActDir, numThreads, log);

  // KVLINK_PEERS picks runners by key (comma-separated; default all): a shorter run where only some ratios matter.
  const picked = (process.env["KVLINK_PEERS"] ?? "").split(",").map((k) => k.trim()).filter((k) => k !== "");
  const unknown = picked.filter((k) => !(PEER_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new Error(`KVLINK_PEERS: unknown runner ${unknown.join(", ")} (known: ${PEER_KEYS.join(", ")})`);
  const wanted = (key: PeerKey): boolean => picked.length === 0 || picked.includes(key);
  const runners: GreedyRunner[] = [];
  try {
    if (wanted("default")) runners.push(await OursRunner.create("ours · default model (adapter, int8 act.)", defaultDir, { numThreads }));
    if (wanted("base")) runners.push(await OursRunner.create("ours · base GGUF (int8 act.)", baseDir, { numThreads }));
    if (wanted("base-attention23")) {
      // The base with every step through Attention-23 (conversions before hybrid attention became the default).
      const dir = await ensureBenchConversion("bench-smollm2-base-q4-attention23", log, (out) => convertModel(gguf, out, { signature: "kvlink", quant: "q4", graph: { attention: "onnx" } }));
      runners.push(await OursRunner.create("ours · base GGUF (int8 act., Attention-23 steps: before)", dir, { numThreads }));
    }
    if (wanted("base-fp32act")) runners.push(await OursRunner.create("ours · base GGUF (fp32 act., fp32 head: before)", baseFp32ActDir, { numThreads }));
    if (wanted("transformers.js")) runners.push(await TransformersJsRunner.create("transformers.js · base (our standard graph)", standardDir, { numThreads }));
    if (wanted("llama.cpp")) {
      runners.push(
        await LlamaCppRunner.create("llama.cpp · base GGUF (node-llama-cpp)", gguf, { numThreads, contextSize: Math.max(...contexts) + numNewTokens + 64 }),
      );
    }
    const probe = await loadModel(defaultDir, { numThreads: 1, inProcess: true });
    const ids = fillerTokens((t) => probe.tokenizer.encode(t, { specialTokens: "text" }), Math.max(...contexts, 1));
    await probe.dispose();
    // One warm-up pass per runner (short context), then the measured repetitions, runners rotating.
    for (let rep = -1; rep < repetitions; rep++) {
      for (const context of rep < 0 ? [contexts[0]!] : contexts) {
        const prompt = ids.slice(0, Math.max(context, 1));
        for (let i = 0; i < runners.length; i++) {
          const runner = runners[(i + rep + 1) % runners.length]!;
          // transformers.js pushes the whole present KV through JS every step: past 4k it only measures that.
          if (runner instanceof TransformersJsRunner && context > 4096) continue;
          const r = await runner.greedy(prompt, numNewTokens);
          if (rep < 0) continue;
          const decodeTokensPerSecond = ((numNewTokens - 1) * 1000) / r.decodeMs;
          // One line per sample, so a run cut short still has every finished measurement (the report takes medians).
          record(SUITE, {
            name: "peers.sample",
            params: { implementation: runner.name, context, numNewTokens, numThreads, repetition: rep },
            decodeTokensPerSecond,
            ...(context >= 256 && { prefillTokensPerSecond: (prompt.length * 1000) / r.prefillMs }),
          });
          log(`peers: rep ${rep + 1} ctx ${context} ${runner.name}: decode ${decodeTokensPerSecond.toFixed(1)} tok/s`);
        }
      }
    }
  } finally {
    for (const runner of runners.reverse()) await runner.dispose();
  }
}

/** Greedy agreement (32 tokens per prompt) and the first step's largest logit difference, int8 vs fp32 activations. */
async function agreement(defaultDir: string, fp32ActDir: string, numThreads: number, log: (m: string) => void): Promise<void> {
  log("peers: greedy agreement, int8 vs fp32 activations");
  const numTokens = 32;
  await using int8 = await loadModel(defaultDir, { numThreads });
  await using fp32 = await loadModel(fp32ActDir, { numThreads });
  let agreed = 0;
  let maxLogitDelta = 0;
  const perPrompt: number[] = [];
  for (const messages of ACCEPTANCE_PROMPTS) {
    const promptIds = int8.encodePrompt({ messages });
    const run = async (m: typeof int8): Promise<{ ids: number[]; first: Float32Array }> => {
      await using seq = await m.createSequence();
      let out = await seq.forward({ inputIds: promptIds, numLogitsToKeep: 1 });
      const first = out.logits;
      const ids: number[] = [];
      while (ids.length < numTokens) {
        let best = 0;
        for (let i = 1; i < out.vocabSize; i++) if (out.logits[i]! > out.logits[best]!) best = i;
        ids.push(best);
        if (ids.length < numTokens) out = await seq.forward({ inputIds: [best], numLogitsToKeep: 1 });
      }
      return { ids, first };
    };
    const a = await run(int8);
    const b = await run(fp32);
    const n = commonPrefixLength(a.ids, b.ids);
    perPrompt.push(n);
    agreed += n;
    for (let i = 0; i < a.first.length; i++) maxLogitDelta = Math.max(maxLogitDelta, Math.abs(a.first[i]! - b.first[i]!));
  }
  record(SUITE, {
    name: "peers.agreement",
    params: { models: [defaultDir, fp32ActDir], numPrompts: ACCEPTANCE_PROMPTS.length, numTokens },
    agreedTokens: agreed,
    totalTokens: numTokens * ACCEPTANCE_PROMPTS.length,
    perPrompt,
    maxFirstStepLogitDelta: maxLogitDelta,
  });
}
