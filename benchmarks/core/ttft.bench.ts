/**
 * Time to first token, side by side in one process (engine/measureTtft.ts): full prefill, re-rotated caches,
 * KVLink over warm document caches, and the floor (the fresh tokens' forward pass alone over caches already
 * in place), with each mode's phase breakdown. Points: the headline 10 × 512 tokens, a sweep over the number
 * of documents (1, 4, 16, 32 of 128 tokens) and one over document length (2 documents of 128, 512, 2048 tokens);
 * one warm-up and 1–2 measured repetitions each, which is what a 2-core host can do in about 20 minutes.
 */
import { KvLinkEngine } from "../../packages/core/src/engine/KvLinkEngine.js";
import { measureTtft } from "../../packages/core/src/engine/measureTtft.js";
import { quantile, record } from "../support/harness.js";
import { defaultModelDir, type SuiteOptions } from "./decode.bench.js";

interface TtftPoint {
  readonly sweep: "headline" | "numDocs" | "docTokens";
  readonly numDocs: number;
  readonly docTokens: number;
  readonly repetitions: number;
}

function points(quick: boolean): TtftPoint[] {
  if (quick) {
    return [
      { sweep: "headline", numDocs: 3, docTokens: 64, repetitions: 2 },
      ...[1, 4].map((numDocs) => ({ sweep: "numDocs" as const, numDocs, docTokens: 64, repetitions: 1 })),
      ...[64, 128].map((docTokens) => ({ sweep: "docTokens" as const, numDocs: 2, docTokens, repetitions: 1 })),
    ];
  }
  return [
    { sweep: "headline", numDocs: 10, docTokens: 512, repetitions: 2 },
    ...[1, 4, 16, 32].map((numDocs) => ({ sweep: "numDocs" as const, numDocs, docTokens: 128, repetitions: 1 })),
    ...[128, 512, 2048].map((docTokens) => ({ sweep: "docTokens" as const, numDocs: 2, docTokens, repetitions: 1 })),
  ];
}

export async function runTtftSuite(options: SuiteOptions): Promise<void> {
  const model = await defaultModelDir();
  await using engine = await KvLinkEngine.create({ model, numThreads: options.numThreads });
  for (const point of points(options.quick)) {
    options.log(`ttft: ${point.sweep} ${point.numDocs} x ${point.docTokens} tokens, ${point.repetitions} repetitions`);
    const params = { sweep: point.sweep, numDocs: point.numDocs, docTokens: point.docTokens, numThreads: options.numThreads, signature: engine.signature, model };
    let report;
    try {
      report = await measureTtft(engine, point);
    } catch (error) {
      // e.g. more documents than the model has trained link-token sets for: reported, not fatal to the sweep.
      const message = error instanceof Error ? error.message : String(error);
      record("ttft", { name: "ttft", params, skipped: message });
      options.log(`ttft: skipped: ${message}`);
      continue;
    }
    const { runs, ...summary } = report;
    const kvlinkRuns = runs.filter((r) => r.mode === "kvlink").map((r) => r.ttft_ms).sort((a, b) => a - b);
    record("ttft", {
      name: "ttft",
      params,
      // p50Ms/p95Ms of the kvlink TTFT, so every line of the results has them; the other modes are in the summary.
      p50Ms: report.kvlink_ms,
      p95Ms: quantile(kvlinkRuns, 0.95),
      meanMs: kvlinkRuns.reduce((a, b) => a + b, 0) / kvlinkRuns.length,
      n: kvlinkRuns.length,
      ...summary,
      runs,
    });
  }
}
