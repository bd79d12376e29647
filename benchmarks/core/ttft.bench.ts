/**
 * Time to first token, side by side in one process (engine/measureTtft.ts): full prefill vs KVLink over warm
 * document caches vs the floor (the fresh tokens' forward pass alone), for 10 x 512-token documents (the
 * README's headline figure) and 5 x 100 (a quick point).
 */
import { KvLinkEngine } from "../../packages/core/src/engine/KvLinkEngine.js";
import { measureTtft } from "../../packages/core/src/engine/measureTtft.js";
import { quantile, record } from "../support/harness.js";
import { defaultModelDir, type SuiteOptions } from "./decode.bench.js";

export async function runTtftSuite(options: SuiteOptions): Promise<void> {
  const model = await defaultModelDir();
  const points = options.quick
    ? [{ numDocs: 3, docTokens: 64, repetitions: 2 }]
    : [
        { numDocs: 5, docTokens: 100, repetitions: 5 },
        { numDocs: 10, docTokens: 512, repetitions: 5 },
      ];
  await using engine = await KvLinkEngine.create({ model, numThreads: options.numThreads });
  for (const point of points) {
    options.log(`ttft: ${point.numDocs} x ${point.docTokens} tokens, ${point.repetitions} repetitions`);
    const report = await measureTtft(engine, point);
    const { runs, ...summary } = report;
    const kvlinkRuns = runs.filter((r) => r.mode === "kvlink").map((r) => r.ttft_ms).sort((a, b) => a - b);
    record("ttft", {
      name: "ttft",
      params: { numDocs: point.numDocs, docTokens: point.docTokens, numThreads: options.numThreads, signature: engine.signature, model },
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
