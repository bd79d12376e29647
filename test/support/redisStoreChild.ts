// A separate Node process for the redis store tests: opens a KeyvKvCacheStore on the URL it is given, runs
// getOrCompute for each document, and prints one JSON line {results: [{source, digest}], computeCalls, stats}.
import { KeyvKvCacheStore } from "../../packages/core/src/store/KeyvKvCacheStore.js";
import { cacheDigest, makeFingerprint, makeTestCache } from "../core/unit/store/testCaches.js";

interface ChildArgs {
  readonly url: string;
  readonly namespace: string;
  readonly model: string;
  readonly docs: readonly (readonly number[])[];
  /** "compute": compute on a miss; "read": a compute call is recorded and fails the run. */
  readonly mode: "compute" | "read";
  readonly seed?: number;
  /** A slower compute, so that two processes overlap on each document. */
  readonly computeDelayMs?: number;
  /** Wall-clock time (ms) to start at, so that processes launched together really overlap. */
  readonly startAtMs?: number;
}

const args = JSON.parse(process.argv[2] ?? "{}") as ChildArgs;
const fingerprint = makeFingerprint(args.model);
let computeCalls = 0;
const store = await KeyvKvCacheStore.create({ url: args.url, namespace: args.namespace, fingerprint, lruBytes: 0, leasePollMs: 10 });
if (args.startAtMs !== undefined) await new Promise((r) => setTimeout(r, Math.max(0, args.startAtMs! - Date.now())));
try {
  const results: { source: string; digest: string }[] = [];
  // Documents in parallel (as the engine's callers do), so leases are held and waited on concurrently.
  await Promise.all(args.docs.map(async (doc, i) => {
    const lookup = await store.getOrCompute(doc, async () => {
      computeCalls++;
      if (args.mode === "read") throw new Error(`child in read mode had to compute document ${JSON.stringify(doc)}`);
      if (args.computeDelayMs !== undefined) await new Promise((r) => setTimeout(r, args.computeDelayMs));
      return makeTestCache({ fingerprint, tokenIds: doc, seed: args.seed });
    });
    results[i] = { source: lookup.source, digest: cacheDigest(lookup.cache) };
  }));
  process.stdout.write(`${JSON.stringify({ results, computeCalls, stats: store.stats() })}\n`);
} finally {
  await store.dispose();
}
