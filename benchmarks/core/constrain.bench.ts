/**
 * The cost of schema-constrained decoding (issue 13 A5) on the default model's vocabulary (49,152 tokens):
 * - building the vocabulary trie (once per tokenizer);
 * - the per-token mask cost along a forced tool call and a JSON-schema answer: "cold" (a new automaton, so every
 *   state's mask is computed by a trie walk) and "warm" (the same format again: masks cached per state), in ms per
 *   generated token, plus the trie nodes one cold walk visits;
 * - end to end: decode tokens/s of the same greedy request with and without responseFormat (engine, default model).
 *
 * `npm run bench -- constrain` (or `npx tsx benchmarks/core/run.ts constrain`); JSON lines to stdout and
 * benchmarks/results/constrain.jsonl. Each line names the CPU.
 */
import { cpus, loadavg } from "node:os";
import { KvLinkEngine } from "../../packages/core/src/engine/KvLinkEngine.js";
import { ByteAutomaton } from "../../packages/core/src/generate/constrain/ByteAutomaton.js";
import { GrammarConstraint } from "../../packages/core/src/generate/constrain/GrammarConstraint.js";
import { parseResponseFormat, responseFormatProgram, type ResponseFormatInput } from "../../packages/core/src/generate/constrain/responseFormat.js";
import { TokenMasker } from "../../packages/core/src/generate/constrain/TokenMask.js";
import { computeTokenBytes, TokenTrie } from "../../packages/core/src/generate/constrain/TokenTrie.js";
import { HfTokenizer } from "../../packages/core/src/tokenizer/HfTokenizer.js";
import { quantile, record } from "../support/harness.js";
import { defaultModelDir, type SuiteOptions } from "./decode.bench.js";

const ADDER = {
  type: "object",
  properties: { a: { type: "integer", description: "The first integer to add." }, b: { type: "integer", description: "The second integer to add." } },
  required: ["a", "b"],
};
const WEATHER = {
  type: "object",
  properties: {
    city: { type: "string" },
    unit: { enum: ["celsius", "fahrenheit"] },
    days: { type: "integer" },
    notes: { type: "array", items: { type: "string" } },
  },
  required: ["city", "unit"],
};

/** A response format and a text valid for it (what a model would write). */
const CASES: readonly { name: string; format: ResponseFormatInput; text: string }[] = [
  {
    name: "tool_call",
    format: { type: "tool_calls", tools: [{ name: "math_addition", parameters: ADDER }, { name: "get_weather", parameters: WEATHER }] },
    text: '<tool_call>{"name": "math_addition", "arguments": {"a": 1836281973, "b": 19973286}}</tool_call>',
  },
  {
    name: "json_schema",
    format: { type: "json_schema", schema: WEATHER },
    text: '{"city": "Paris", "unit": "celsius", "days": 3, "notes": ["Bring an umbrella on Tuesday.", "Café terraces open."]}',
  },
];

const stats = (ms: readonly number[]): { p50Ms: number; p95Ms: number; meanMs: number; n: number } => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { p50Ms: quantile(sorted, 0.5), p95Ms: quantile(sorted, 0.95), meanMs: ms.reduce((a, b) => a + b, 0) / ms.length, n: ms.length };
};

export async function runConstrainSuite(options: SuiteOptions): Promise<void> {
  const host = { cpu: cpus()[0]?.model ?? "unknown", logicalCores: cpus().length, loadAverage1m: loadavg()[0] };
  const modelDir = await defaultModelDir();
  const tokenizer = await HfTokenizer.load(modelDir);
  const reps = options.quick ? 2 : 5;

  // The trie: token bytes + construction, on fresh objects each time (forTokenizer caches per tokenizer).
  const buildMs: number[] = [];
  let numNodes = 0;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const bytes = computeTokenBytes(tokenizer);
    const control = [...tokenizer.specialTokenIds].filter((id) => bytes[id] === undefined);
    numNodes = new TokenTrie(bytes, control).numNodes;
    buildMs.push(performance.now() - t0);
  }
  record("constrain", { name: "constrain.trieBuild", params: { vocabSize: tokenizer.vocabSize, numNodes, ...host }, ...stats(buildMs) });
  const trie = TokenTrie.forTokenizer(tokenizer);

  for (const c of CASES) {
    const format = parseResponseFormat(c.format);
    const ids = tokenizer.encode(c.text, { specialTokens: "text" });
    const scores = new Float64Array(tokenizer.vocabSize);
    // Cold: a new automaton per repetition (nothing cached). Warm: the masker of the last cold run, again.
    const cold: number[] = [];
    const warm: number[] = [];
    let nodesPerColdToken = 0;
    let masker: TokenMasker | undefined;
    for (let rep = 0; rep < reps + 1; rep++) {
      masker = new TokenMasker(new ByteAutomaton(responseFormatProgram(format)!), trie, { eosTokenIds: tokenizer.eosTokenIds });
      const constraint = new GrammarConstraint(masker, tokenizer.eosTokenIds);
      for (const id of [...ids, tokenizer.eosTokenIds[0]!]) {
        scores.fill(0);
        const t0 = performance.now();
        constraint.maskLogits(scores);
        constraint.accept(id);
        if (rep > 0) cold.push(performance.now() - t0); // rep 0 warms the JIT
      }
      if (rep > 0) nodesPerColdToken = masker.numNodesVisited / (ids.length + 1);
    }
    for (let rep = 0; rep < reps; rep++) {
      const constraint = new GrammarConstraint(masker!, tokenizer.eosTokenIds);
      for (const id of [...ids, tokenizer.eosTokenIds[0]!]) {
        scores.fill(0);
        const t0 = performance.now();
        constraint.maskLogits(scores);
        constraint.accept(id);
        warm.push(performance.now() - t0);
      }
    }
    const params = { format: c.name, numTokens: ids.length + 1, trieNodesPerColdToken: Math.round(nodesPerColdToken), ...host };
    record("constrain", { name: "constrain.maskPerToken.cold", params, ...stats(cold) });
    record("constrain", { name: "constrain.maskPerToken.warm", params, ...stats(warm) });
    options.log(`${c.name}: mask per token cold p50 ${stats(cold).p50Ms.toFixed(2)} ms, warm p50 ${stats(warm).p50Ms.toFixed(3)} ms`);
  }

  // End to end on the default model: the same greedy request, plain and constrained (decode phase only).
  await using engine = await KvLinkEngine.create({ model: modelDir, numThreads: options.numThreads });
  const question = "What is the weather in Paris? Answer with a JSON object.";
  const runs = options.quick ? 1 : 3;
  for (const [name, responseFormat] of [["plain", undefined], ["json_schema", CASES[1]!.format], ["tool_call", CASES[0]!.format]] as const) {
    const tps: number[] = [];
    let numTokens = 0;
    for (let i = 0; i < runs + 1; i++) {
      const { stats: s } = await engine
        .generate({ question, greedy: true, maxTokens: 48, ...(responseFormat === undefined ? {} : { responseFormat }) })
        .result();
      if (i > 0) tps.push(s.tokensPerSecond); // the first run warms caches (and the trie, for constrained runs)
      numTokens = s.numGeneratedTokens;
    }
    tps.sort((a, b) => a - b);
    record("constrain", { name: `constrain.decode.${name}`, params: { threads: options.numThreads, maxTokens: 48, numGeneratedTokens: numTokens, runs, ...host }, tokensPerSecond: quantile(tps, 0.5) });
    options.log(`decode ${name}: ${quantile(tps, 0.5).toFixed(1)} tokens/s (${numTokens} tokens)`);
  }
}
