/**
 * LoRA in the graph, side by side in one run: the base model (no adapter), the KVLink adapter as branches beside the
 * 4-bit weights (the default), and the adapter merged into the weights and re-quantized (convert --merge-lora).
 * Prefill tokens/s of a ~260-token prompt and decode tokens/s over 64 greedy tokens, round-robin repetitions,
 * medians; plus the merged model's agreement with the branches (greedy tokens on the acceptance prompts, and the
 * max |Δ logit| of the first token).
 *
 *   npx tsx benchmarks/core/compareLoraModes.ts --base <dir> --branches <dir> --merged <dir> [--reps 3] [--threads 2]
 */
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { DecoderModel } from "../../packages/core/src/decoder/DecoderModel.js";
import { ACCEPTANCE_PROMPTS, LONG_PROMPT } from "../../test/fixtures/acceptancePrompts.js";
import { quantile, record } from "../support/harness.js";

const { values: args } = parseArgs({
  options: { base: { type: "string" }, branches: { type: "string" }, merged: { type: "string" }, reps: { type: "string", default: "3" }, threads: { type: "string", default: "2" } },
});
const dirs = { base: args.base, branches: args.branches, merged: args.merged };
for (const [k, v] of Object.entries(dirs)) if (v === undefined) throw new Error(`--${k} <model dir> is required`);
const reps = Number(args.reps);
const numThreads = Number(args.threads);
const models = Object.fromEntries(
  await Promise.all(Object.entries(dirs).map(async ([k, dir]) => [k, await DecoderModel.load(dir!, { numThreads })] as const)),
) as Record<keyof typeof dirs, DecoderModel>;
const messages = LONG_PROMPT;
const times: Record<string, { prefill: number[]; decode: number[] }> = {};
for (let r = 0; r < reps + 1; r++) {
  for (const [name, model] of Object.entries(models)) {
    const stream = model.generate({ messages, greedy: true, maxTokens: 64 });
    for await (const _ of stream);
    const { stats } = await stream.result();
    if (r === 0) continue; // warm-up
    (times[name] ??= { prefill: [], decode: [] }).prefill.push((stats.numPromptTokens * 1000) / stats.ttftMs);
    times[name]!.decode.push(((stats.numGeneratedTokens - 1) * 1000) / (stats.totalMs - stats.ttftMs));
  }
}
for (const [name, t] of Object.entries(times)) {
  const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
  record("compareLoraModes", { name, params: { threads: numThreads, reps, cpu: cpus()[0]?.model }, prefillTokensPerSecond: quantile(sorted(t.prefill), 0.5), decodeTokensPerSecond: quantile(sorted(t.decode), 0.5) });
}
let sameTokens = 0;
let total = 0;
let maxFirstLogitDiff = 0;
for (const prompt of ACCEPTANCE_PROMPTS) {
  const a = await models.branches.generate({ messages: prompt, greedy: true, maxTokens: 32 }).result();
  const b = await models.merged.generate({ messages: prompt, greedy: true, maxTokens: 32 }).result();
  let n = 0;
  while (n < Math.min(a.tokenIds.length, b.tokenIds.length) && a.tokenIds[n] === b.tokenIds[n]) n++;
  sameTokens += n;
  total += a.tokenIds.length;
}
const probe = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const fa = await models.branches.forward({ inputIds: probe, numLogitsToKeep: 1 });
const fb = await models.merged.forward({ inputIds: probe, numLogitsToKeep: 1 });
for (let i = 0; i < fa.logits.length; i++) maxFirstLogitDiff = Math.max(maxFirstLogitDiff, Math.abs(fa.logits[i]! - fb.logits[i]!));
record("compareLoraModes", { name: "merged-vs-branches", params: { prompts: ACCEPTANCE_PROMPTS.length }, commonPrefixTokens: sameTokens, branchTokens: total, maxAbsLogitDiff: maxFirstLogitDiff });
for (const m of Object.values(models)) await m.dispose();
