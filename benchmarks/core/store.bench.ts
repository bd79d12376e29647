/**
 * Document-cache store figures for the default model:
 * - load time of one cached 512-token document from each tier (in-process LRU, memory://, sqlite://, redis:// when
 *   redis-server runs here) per storage dtype, vs recomputing it (a forward pass over the document);
 * - bytes per token per dtype (fp32 / fp16 / int8), from the encoded entry;
 * - the effect of fp16 / int8 caches on answers: greedy answers to 5 questions over cached documents, fp32 vs
 *   fp16 vs int8 caches loaded from a store (token agreement with fp32);
 * - TTFT of `ask` in a cold process with a warm sqlite store vs full prefill (also a cold process).
 *
 * When run as a child (KVLINK_BENCH_CHILD=ask) this file answers one question through the library instead, for
 * trees where `kvlink ask --store` is not built.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel } from "../../packages/core/src/decoder/loadModel.js";
import { computeFolderFingerprint, KvLinkEngine } from "../../packages/core/src/engine/KvLinkEngine.js";
import { makeSyntheticDocuments } from "../../packages/core/src/engine/measureTtft.js";
import type { DocumentKvCache } from "../../packages/core/src/kv/DocumentKvCache.js";
import type { LinkMode } from "../../packages/core/src/link/LinkPlan.js";
import { documentSegmentText } from "../../packages/core/src/link/buildPromptLayout.js";
import { KeyvKvCacheStore } from "../../packages/core/src/store/KeyvKvCacheStore.js";
import { HfTokenizer } from "../../packages/core/src/tokenizer/HfTokenizer.js";
import { encodeKvCache } from "../../packages/core/src/store/codec/encodeKvCache.js";
import { KV_CACHE_DTYPES, type KvCacheDtype } from "../../packages/core/src/store/codec/kvFormat.js";
import { RedisTestServer, redisServerUnavailableReason } from "../../test/support/redisServer.js";
import { measure, record } from "../support/harness.js";
import { defaultModelDir, type SuiteOptions } from "./decode.bench.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const NAMESPACE = "bench";

/** Five short documents with one question each (fictional facts, so answers come from the documents). */
const QA_DOCUMENTS = [
  "The harbor town of Maltrec was founded in 1204 by the merchant Ilsa Voren, who built its first stone pier to ship salt and copper to the northern provinces.",
  "Tessaly Observatory sits on Mount Orrin at 2,310 metres. Its main telescope, the Larkspur Reflector, has a mirror 3.2 metres wide and was finished in 1962.",
  "The Brennock Festival is held every October in the village of Dunmere. Its best-known event is a race in which teams carry wooden boats across the river meadow.",
  "Quillon is a blue-grey metal first isolated by the chemist Ada Ferreira in 1871. It melts at 1,455 degrees Celsius and is mainly used to coat turbine blades.",
  "The Arvel Line railway links Casterby and Penholt, a distance of 148 kilometres. Its fastest train, the Evening Kestrel, makes the trip in 94 minutes.",
];
const QA_QUESTIONS = [
  "Who founded Maltrec, and in which year?",
  "How wide is the mirror of the Larkspur Reflector?",
  "In which month is the Brennock Festival held?",
  "At what temperature does quillon melt?",
  "How long does the Evening Kestrel take between Casterby and Penholt?",
];
const TTFT_QUESTION = "Which records mention a harbor, and what is said about it?";

interface AskChildArgs {
  readonly model: string;
  readonly storeUrl: string;
  readonly mode: LinkMode;
  readonly docsFile: string;
  readonly numThreads: number;
}

/** Child mode: one cold `ask` through the library; prints one JSON line. */
async function askChildMain(args: AskChildArgs): Promise<void> {
  const started = performance.now();
  const { readFile } = await import("node:fs/promises");
  const documents = JSON.parse(await readFile(args.docsFile, "utf8")) as string[];
  await using engine = await KvLinkEngine.create({ model: args.model, numThreads: args.numThreads, storeUrl: args.storeUrl, namespace: NAMESPACE });
  const engineMs = performance.now() - started;
  const result = await engine.generate({ documents, question: TTFT_QUESTION, mode: args.mode, maxTokens: 1, greedy: true }).result();
  const s = result.stats;
  process.stdout.write(
    `${JSON.stringify({
      ttft_ms: s.ttftMs,
      doc_tokens_reused: s.docTokensReused,
      doc_tokens_computed: s.docTokensComputed,
      fresh_tokens: s.freshTokens,
      mode: s.mode,
      engine_create_ms: engineMs,
      process_to_first_token_ms: performance.now(),
      phases: s.phases,
    })}\n`,
  );
}

if (process.env["KVLINK_BENCH_CHILD"] === "ask") {
  await askChildMain(JSON.parse(process.env["KVLINK_BENCH_CHILD_ARGS"] ?? "{}") as AskChildArgs);
}

function docCache(fingerprint: DocumentKvCache["fingerprint"], tokenIds: readonly number[], kv: { keys: Float32Array[]; values: Float32Array[] }, spec: { numLayers: number; numKvHeads: number; headDim: number }): DocumentKvCache {
  return {
    fingerprint,
    tokenIds: Int32Array.from(tokenIds),
    layout: { numLayers: spec.numLayers, numKvHeads: spec.numKvHeads, numTokens: tokenIds.length, headDim: spec.headDim },
    keys: kv.keys,
    values: kv.values,
  };
}

/** Load times per tier and dtype, recompute time, bytes per token per dtype. */
async function tiersAndBytes(model: string, options: SuiteOptions, tmp: string): Promise<void> {
  const fingerprint = await computeFolderFingerprint(model);
  await using decoder = await loadModel(model, { numThreads: options.numThreads });
  const spec = decoder.spec;
  const docTokens = options.quick ? 128 : 512;
  const text = makeSyntheticDocuments(
    { countTokens: (t: string) => decoder.tokenizer.encode(documentSegmentText(t), { specialTokens: "text" }).length },
    1,
    docTokens,
  )[0]!;
  const tokenIds = decoder.tokenizer.encode(documentSegmentText(text), { specialTokens: "text" });
  const iterations = options.quick ? 2 : 5;
  let kv: { keys: Float32Array[]; values: Float32Array[] } | undefined;
  const recompute = await measure(
    "store.recompute",
    { numTokens: tokenIds.length, numThreads: options.numThreads },
    async () => {
      const out = await decoder.forward({ inputIds: tokenIds, numLogitsToKeep: 1 });
      kv = out.newKv;
    },
    { warmup: 1, iterations },
  );
  record("store", recompute);
  const cache = docCache(fingerprint, tokenIds, kv!, spec);

  for (const dtype of KV_CACHE_DTYPES) {
    const bytes = encodeKvCache(cache, { dtype, namespace: NAMESPACE }).length;
    record("store", { name: "store.bytesPerToken", params: { dtype, numTokens: tokenIds.length }, bytes, bytesPerToken: bytes / tokenIds.length });
  }

  const redisReason = await redisServerUnavailableReason();
  const redis = redisReason === undefined ? await RedisTestServer.start() : undefined;
  try {
    const tiers: { tier: string; url: string; lruBytes?: number }[] = [
      { tier: "lru", url: "memory://bench-lru" },
      { tier: "memory", url: "memory://bench-tier", lruBytes: 0 },
      { tier: "sqlite", url: `sqlite://${join(tmp, "tiers.sqlite")}`, lruBytes: 0 },
      ...(redis ? [{ tier: "redis", url: redis.url, lruBytes: 0 }] : []),
    ];
    if (!redis) record("store", { name: "store.load", params: { tier: "redis" }, skipped: redisReason });
    for (const { tier, url, lruBytes } of tiers) {
      for (const dtype of KV_CACHE_DTYPES) {
        await using store = await KeyvKvCacheStore.create({
          fingerprint, namespace: NAMESPACE, url, dtype, ...(lruBytes !== undefined ? { lruBytes } : {}),
          geometry: { numLayers: spec.numLayers, numKvHeads: spec.numKvHeads, headDim: spec.headDim },
        });
        await store.set(cache);
        const m = await measure(
          "store.load",
          { tier, dtype, numTokens: tokenIds.length },
          async () => {
            if ((await store.get(tokenIds)) === undefined) throw new Error(`${tier}/${dtype}: the document just stored reads as a miss`);
          },
          { warmup: 1, iterations },
        );
        record("store", { ...m, speedupVsRecompute: recompute.p50Ms / m.p50Ms });
      }
    }
  } finally {
    await redis?.stop();
  }
}

/** How far two greedy answers agree: identical, shared prefix length, and same-position matches. */
function agreement(a: readonly number[], b: readonly number[]): { identical: boolean; prefix: number; matching: number } {
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  let matching = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] === b[i]) matching++;
  return { identical: a.length === b.length && prefix === a.length, prefix, matching };
}

/** Greedy answers over caches stored as fp32, fp16 and int8: each dtype's engine loads the documents from its store. */
async function answersPerDtype(model: string, options: SuiteOptions): Promise<void> {
  const fingerprint = await computeFolderFingerprint(model);
  const maxTokens = options.quick ? 8 : 24;
  const questions = options.quick ? QA_QUESTIONS.slice(0, 2) : QA_QUESTIONS;
  // Exact fp32 caches, computed once.
  const exact: DocumentKvCache[] = [];
  {
    await using decoder = await loadModel(model, { numThreads: options.numThreads });
    for (const text of QA_DOCUMENTS) {
      const tokenIds = decoder.tokenizer.encode(documentSegmentText(text), { specialTokens: "text" });
      const out = await decoder.forward({ inputIds: tokenIds, numLogitsToKeep: 1 });
      exact.push(docCache(fingerprint, tokenIds, out.newKv, decoder.spec));
    }
  }
  const answers = new Map<KvCacheDtype, { text: string; tokenIds: readonly number[]; docTokensReused: number }[]>();
  for (const dtype of ["fp32", "fp16", "int8"] as const) {
    const url = `memory://bench-answers-${dtype}`;
    // Keeps the memory:// space alive while the engine's own store (same URL) reads it.
    await using writer = await KeyvKvCacheStore.create({ fingerprint, namespace: NAMESPACE, url, dtype, lruBytes: 0 });
    for (const c of exact) await writer.set(c);
    await using engine = await KvLinkEngine.create({ model, numThreads: options.numThreads, storeUrl: url, storeDtype: dtype, namespace: NAMESPACE });
    const list: { text: string; tokenIds: readonly number[]; docTokensReused: number }[] = [];
    for (const question of questions) {
      const r = await engine.generate({ documents: QA_DOCUMENTS, question, greedy: true, maxTokens }).result();
      list.push({ text: r.text, tokenIds: r.tokenIds, docTokensReused: r.stats.docTokensReused });
    }
    answers.set(dtype, list);
  }
  const reference = answers.get("fp32")!;
  for (const dtype of ["fp16", "int8"] as const) {
    const list = answers.get(dtype)!;
    const per = list.map((a, i) => ({ question: questions[i]!, fp32: reference[i]!.text, answer: a.text, ...agreement(reference[i]!.tokenIds, a.tokenIds) }));
    const tokens = reference.reduce((n, a) => n + a.tokenIds.length, 0);
    record("store", {
      name: "store.answerAgreement",
      params: { dtype, vs: "fp32", numQuestions: questions.length, maxTokens, model },
      identicalAnswers: per.filter((p) => p.identical).length,
      tokenAgreement: per.reduce((n, p) => n + p.matching, 0) / Math.max(1, tokens),
      prefixAgreement: per.reduce((n, p) => n + p.prefix, 0) / Math.max(1, tokens),
      docTokensReusedPerAnswer: list.map((a) => a.docTokensReused),
      answers: per,
    });
  }
}

interface AskOutcome {
  readonly ttft_ms: number;
  readonly doc_tokens_reused: number;
  readonly doc_tokens_computed: number;
  readonly wall_ms: number;
  readonly [extra: string]: unknown;
}

function runProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<AskOutcome> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const wall = performance.now() - started;
      const line = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0) return reject(new Error(`${command} ${args.join(" ")} exited with ${code}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`));
      try {
        resolvePromise({ ...(JSON.parse(line) as AskOutcome), wall_ms: wall });
      } catch (cause) {
        reject(new Error(`unexpected output of ${command}: ${line.slice(0, 300)}`, { cause }));
      }
    });
  });
}

/** Whether the built CLI has `ask --store` (another part of the project); else the library child is used. */
function cliAskAvailable(): boolean {
  const main = join(repoRoot, "packages/core/dist/cli/main.js");
  if (!existsSync(main)) return false;
  const r = spawnSync(process.execPath, [main, "ask", "--help"], { encoding: "utf8", timeout: 30_000 });
  return r.status === 0 && r.stdout.includes("--store") && r.stdout.includes("--json");
}

/** TTFT of `ask` in cold processes: store warmed by a first process, then a second one; and full prefill. */
async function coldAsk(model: string, options: SuiteOptions, tmp: string): Promise<void> {
  const numDocs = options.quick ? 3 : 10;
  const docTokens = options.quick ? 64 : 512;
  const tokenizer = await HfTokenizer.load(model);
  const countTokens = (t: string): number => tokenizer.encode(documentSegmentText(t), { specialTokens: "text" }).length;
  const documents = makeSyntheticDocuments({ countTokens }, numDocs, docTokens);
  const storeUrl = `sqlite://${join(tmp, "ask.sqlite")}`;
  const useCli = cliAskAvailable();
  const via = useCli ? "kvlink ask --store (packages/core/dist)" : "library in a child process (kvlink ask --store not built)";
  const env = { ...process.env, KVLINK_LOG_LEVEL: "silent" };
  let ask: (mode: LinkMode) => Promise<AskOutcome>;
  if (useCli) {
    const files: string[] = [];
    for (const [i, d] of documents.entries()) {
      const file = join(tmp, `doc-${String(i).padStart(2, "0")}.txt`);
      await writeFile(file, d);
      files.push(file);
    }
    const main = join(repoRoot, "packages/core/dist/cli/main.js");
    ask = (mode) =>
      runProcess(
        process.execPath,
        [main, "ask", "--docs", ...files, "--question", TTFT_QUESTION, "--model", model, "--threads", String(options.numThreads),
          "--store", storeUrl, "--namespace", NAMESPACE, "--mode", mode, "--max-tokens", "1", "--greedy", "--json"],
        env,
      );
  } else {
    const docsFile = join(tmp, "docs.json");
    await writeFile(docsFile, JSON.stringify(documents));
    ask = (mode) =>
      runProcess(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url)], {
        ...env,
        KVLINK_BENCH_CHILD: "ask",
        KVLINK_BENCH_CHILD_ARGS: JSON.stringify({ model, storeUrl, mode, docsFile, numThreads: options.numThreads } satisfies AskChildArgs),
      });
  }
  options.log(`store: cold ask via ${via}`);
  const warming = await ask("kvlink");
  const cold = [await ask("kvlink"), ...(options.quick ? [] : [await ask("kvlink")])];
  const full = await ask("full");
  const coldTtft = cold.map((c) => c.ttft_ms).sort((a, b) => a - b);
  const coldWall = cold.map((c) => c.wall_ms).sort((a, b) => a - b);
  record("store", {
    name: "store.coldAsk",
    params: { numDocs, docTokens, store: "sqlite", numThreads: options.numThreads, via, model },
    p50Ms: coldTtft[coldTtft.length >> 1]!,
    p95Ms: coldTtft[coldTtft.length - 1]!,
    meanMs: coldTtft.reduce((a, b) => a + b, 0) / coldTtft.length,
    n: coldTtft.length,
    warm_store_ttft_ms: coldTtft[coldTtft.length >> 1]!,
    warm_store_wall_ms: coldWall[coldWall.length >> 1]!,
    full_ttft_ms: full.ttft_ms,
    full_wall_ms: full.wall_ms,
    first_process_ttft_ms: warming.ttft_ms,
    first_process_wall_ms: warming.wall_ms,
    ratio_ttft_vs_full: coldTtft[coldTtft.length >> 1]! / full.ttft_ms,
    runs: { warming, cold, full },
  });
}

export async function runStoreSuite(options: SuiteOptions): Promise<void> {
  const model = await defaultModelDir();
  const tmp = await mkdtemp(join(tmpdir(), "kvlink-bench-store-"));
  try {
    options.log("store: tiers, recompute, bytes per token");
    await tiersAndBytes(model, options, tmp);
    options.log("store: answers with fp32 / fp16 / int8 caches");
    await answersPerDtype(model, options);
    await coldAsk(model, options, tmp);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
