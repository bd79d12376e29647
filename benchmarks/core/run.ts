/**
 * `npm run bench` (packages/core: `tsx ../../benchmarks/core/run.ts`): runs the suites in order and prints one JSON
 * line per figure (also appended to benchmarks/results/<suite>.jsonl). Arguments select suites (default: all):
 *
 *   tsx benchmarks/core/run.ts [decode] [ttft] [store] [constrain] [--quick]
 *
 * Environment: KVLINK_MODEL_DIR (else the default model under KVLINK_HOME), KVLINK_THREADS (default 2, the
 * reference host), KVLINK_GGUF (the default model's GGUF, for the converted decode variants), KVLINK_BENCH_FP32=0
 * (skip the fp32 variant). Progress goes to stderr.
 */
import { runConstrainSuite } from "./constrain.bench.js";
import { runDecodeSuite, type SuiteOptions } from "./decode.bench.js";
import { runStoreSuite } from "./store.bench.js";
import { runTtftSuite } from "./ttft.bench.js";

const SUITES: Record<string, (options: SuiteOptions) => Promise<void>> = {
  decode: runDecodeSuite,
  ttft: runTtftSuite,
  store: runStoreSuite,
  constrain: runConstrainSuite,
};

async function main(argv: readonly string[]): Promise<number> {
  const quick = argv.includes("--quick");
  const names = argv.filter((a) => !a.startsWith("--"));
  const unknown = names.filter((n) => !(n in SUITES));
  if (unknown.length > 0) {
    process.stderr.write(`unknown suite(s) ${unknown.join(", ")}; expected any of ${Object.keys(SUITES).join(", ")}\n`);
    return 2;
  }
  const threadsEnv = process.env["KVLINK_THREADS"];
  const numThreads = threadsEnv !== undefined && threadsEnv !== "" ? Number(threadsEnv) : 2;
  if (!Number.isInteger(numThreads) || numThreads < 1) {
    process.stderr.write(`KVLINK_THREADS must be a positive integer, got ${JSON.stringify(threadsEnv)}\n`);
    return 2;
  }
  const started = performance.now();
  const log = (message: string): void => {
    process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
  };
  for (const name of names.length > 0 ? names : Object.keys(SUITES)) {
    log(`suite ${name}${quick ? " (quick)" : ""}`);
    await SUITES[name]!({ quick, numThreads, log });
  }
  log("done");
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
