/**
 * `npm run eval:tools`: tool calling through ChatKVLink, the way an agent uses it (bindTools, invoke), on the
 * committed tool-call sets (eval/datasets/tool-calls.jsonl; families unseen in training, see
 * eval/generators/toolCalls.ts). Per model: for "call" records whether it called, chose the right tool and passed
 * the right arguments; for "no_call" that it answered in text; for "answer" that it stated the tool's result.
 *
 *   npm run eval:tools -- [--model label=dir]… [--split dev|test] [--limit n] [--tool-choice auto|any] [--out dir]
 *     [--threads n] [--max-tokens n] [--temperature t]
 *
 * Decoding is greedy (temperature 0) unless --temperature is given; ChatKVLink decodes greedily too unless a sampling option is set.
 * Writes results.json (every answer) and summary.md under --out (default eval/results/tools-<labels>).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import cliProgress from "cli-progress";
import { KvLinkEngine } from "../packages/core/src/engine/KvLinkEngine.js";
import { ensureDefaultModel } from "../packages/core/src/setup/ensureDefaultModel.js";
import { ChatKVLink } from "../packages/langchain-adapter/src/chat_models.js";
import type { ToolCallRecord } from "./generators/toolCalls.js";
import { REPO_ROOT } from "./harness/parseEvalArgs.js";
import { scoreToolCall, type ToolCallScore } from "./harness/scoreToolCall.js";
import { toolRecordMessages } from "./harness/toolRecordMessages.js";

interface Args {
  models: { label: string; dir: string }[];
  split: string;
  limit: number | undefined;
  toolChoice: "auto" | "any";
  out: string | undefined;
  threads: number | undefined;
  maxTokens: number;
  temperature: number;
  data: string;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { models: [], split: "test", limit: undefined, toolChoice: "auto", out: undefined, threads: undefined, maxTokens: 96, temperature: 0, data: join(REPO_ROOT, "eval/datasets/tool-calls.jsonl") };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--model") {
      const v = value();
      const eq = v.indexOf("=");
      args.models.push(eq > 0 ? { label: v.slice(0, eq), dir: v.slice(eq + 1) } : { label: basename(v), dir: v });
    } else if (flag === "--split") args.split = value();
    else if (flag === "--limit") args.limit = Number(value());
    else if (flag === "--tool-choice") {
      const v = value();
      if (v !== "auto" && v !== "any") throw new Error(`--tool-choice must be auto or any, got ${v}`);
      args.toolChoice = v;
    } else if (flag === "--out") args.out = value();
    else if (flag === "--threads") args.threads = Number(value());
    else if (flag === "--max-tokens") args.maxTokens = Number(value());
    else if (flag === "--temperature") args.temperature = Number(value());
    else if (flag === "--data") args.data = value();
    else throw new Error(`unknown flag ${flag}`);
  }
  return args;
}

interface Outcome extends ToolCallScore {
  readonly model: string;
  readonly id: string;
  readonly kind: ToolCallRecord["kind"];
  readonly family: string;
  readonly content: string;
  readonly toolCalls: readonly { name: string; args: Record<string, unknown> }[];
  readonly ms: number;
}

const pct = (n: number, d: number): string => (d === 0 ? "–" : `${((100 * n) / d).toFixed(1)} %`);

function summary(outcomes: readonly Outcome[], labels: readonly string[], args: Args, numRecords: number): string {
  const rows = labels.map((label) => {
    const of = (kind: string) => outcomes.filter((o) => o.model === label && o.kind === kind);
    const call = of("call");
    const none = of("no_call");
    const answer = of("answer");
    const all = outcomes.filter((o) => o.model === label);
    const n = (xs: readonly Outcome[], key: keyof ToolCallScore) => xs.filter((o) => o[key]).length;
    return `| ${label} | ${pct(n(call, "called"), call.length)} | ${pct(n(call, "rightTool"), call.length)} | ${pct(n(call, "rightArgs"), call.length)} | ${pct(n(none, "correct"), none.length)} | ${pct(n(answer, "correct"), answer.length)} | ${pct(n(all, "correct"), all.length)} |`;
  });
  return [
    `# Tool calling through ChatKVLink (${args.split} split, ${numRecords} records, tool_choice ${args.toolChoice}, temperature ${args.temperature})`,
    "",
    "| model | call: called | call: right tool | call: right arguments | no_call: answered in text | answer: states the result | all correct |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const records = (await readFile(args.data, "utf8"))
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ToolCallRecord)
    .filter((r) => r.split === args.split)
    .slice(0, args.limit);
  if (records.length === 0) throw new Error(`no ${args.split} records in ${args.data}`);
  const models = args.models.length > 0 ? args.models : [{ label: "default", dir: await ensureDefaultModel() }];
  const outcomes: Outcome[] = [];
  const bar = new cliProgress.SingleBar(
    { format: "tool calls |{bar}| {value}/{total} | {model} correct {acc} | ETA {eta_formatted}", stream: process.stderr, noTTYOutput: true, notTTYSchedule: 15000 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(models.length * records.length, 0, { model: "", acc: "–" });
  for (const m of models) {
    await using engine = await KvLinkEngine.create({ model: m.dir, ...(args.threads === undefined ? {} : { numThreads: args.threads }) });
    const chat = new ChatKVLink({ engine, maxTokens: args.maxTokens, temperature: args.temperature, ...(args.toolChoice === "any" ? { toolChoice: "any" } : {}) });
    for (const r of records) {
      const t0 = performance.now();
      const result = await chat.bindTools([...r.tools]).invoke(toolRecordMessages(r));
      const output = {
        content: typeof result.content === "string" ? result.content : JSON.stringify(result.content),
        toolCalls: (result.tool_calls ?? []).map((c) => ({ name: c.name, args: c.args as Record<string, unknown> })),
      };
      outcomes.push({ model: m.label, id: r.id, kind: r.kind, family: r.family, ...output, ...scoreToolCall(r, output), ms: Math.round(performance.now() - t0) });
      const mine = outcomes.filter((o) => o.model === m.label);
      bar.increment(1, { model: m.label, acc: pct(mine.filter((o) => o.correct).length, mine.length) });
    }
  }
  bar.stop();
  const out = args.out ?? join(REPO_ROOT, "eval/results", `tools-${models.map((m) => m.label).join("+")}`);
  await mkdir(out, { recursive: true });
  const text = summary(outcomes, models.map((m) => m.label), args, records.length);
  await writeFile(join(out, "summary.md"), text);
  await writeFile(join(out, "results.json"), `${JSON.stringify({ meta: { split: args.split, toolChoice: args.toolChoice, temperature: args.temperature, maxTokens: args.maxTokens, numRecords: records.length, models, finishedAt: new Date().toISOString() }, outcomes }, null, 1)}\n`);
  process.stdout.write(`${text}\nwrote ${out}\n`);
}

await main();
