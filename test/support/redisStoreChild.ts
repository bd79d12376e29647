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
}

const args = JSON.parse(process.argv[2] ?? "{}") as ChildArgs;
const fingerprint = makeFingerprint(args.model);
let computeCalls = 0;
const store = await KeyvKvCacheStore.create({ url: args.url, namespace: args.namespace, fingerprint });
try {
  const results = [];
  for (const doc of args.docs) {
    const lookup = await store.getOrCompute(doc, async () => {
      computeCalls++;
      if (args.mode === "read") throw new Error(`child in read mode had to compute document ${JSON.stringify(doc)}`);
      return makeTestCache({ fingerprint, tokenIds: doc, seed: args.seed });
    });
    results.push({ source: lookup.source, digest: cacheDigest(lookup.cache) });
  }
  process.stdout.write(`${JSON.stringify({ results, computeCalls, stats: store.stats() })}\n`);
} finally {
  await store.dispose();
}
