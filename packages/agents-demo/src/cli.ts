import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { availableParallelism, cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import cliProgress from "cli-progress";
import { pino } from "pino";
import { ConfigError, defaultStoreUrl, KvLinkError, parseStoreUrl, WorkerCrashedError, type Logger } from "@kvlink/core";
import { DEFAULT_QUESTIONS } from "./defaultQuestions.js";
import { formatSummaryTable, summarizeTurns } from "./report/summarizeTurns.js";
import { runAgents, type RunAgentsResult } from "./runAgents.js";

interface Flags {
  corpus?: string;
  store?: string;
  cache: boolean;
  namespace: string;
  model?: string;
  threads?: number;
  maxDocTokens: number;
  k: number;
  precompute: "all" | "none";
  workers?: number;
  workerIndex?: number;
  json?: string;
  verbose?: boolean;
}

const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
};

/** This repository when run from its checkout (packages/agents-demo/dist/cli.js → ../../..), else undefined. */
function thisRepository(): string | undefined {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
  return existsSync(join(repo, "packages", "core")) && existsSync(join(repo, "README.md")) ? repo : undefined;
}

/**
 * Left out of the default corpus (this repository): the demo itself (its prompts would match every question), and
 * the eval, training and benchmark trees (data, logs and result tables rather than documentation of the library).
 */
const DEFAULT_CORPUS_EXCLUDE = ["packages/agents-demo", "eval", "training", "benchmarks", "scripts"];

export function createProgram(): Command {
  return new Command("kvlink-agents")
    .description("agents (supervisor, researcher, reviewer, writer) answering questions over a codebase, sharing document KV caches")
    .argument("[questions...]", "questions (default: three questions about this repository)")
    .option("--corpus <dir>", "a TypeScript codebase: one document per exported declaration, plus its markdown (default: this repository)")
    .option("--store <url>", "document-cache store: sqlite://<path> (default $KVLINK_HOME/cache.sqlite), redis://host:port, memory://")
    .option("--no-cache", "full prefill for every call (no document cache): the baseline to compare with")
    .option("--namespace <ns>", "tenant namespace in the store", "agents")
    .option("--model <model>", "a preset, a model folder or a .gguf file (default: smollm2-135m-instruct)")
    .option("--threads <n>", "ONNX Runtime threads (default: the cores, divided among --workers)", positiveInt)
    .option("--max-doc-tokens <n>", "token budget of one corpus document", positiveInt, 256)
    .option("--k <n>", "documents per retrieval", positiveInt, 3)
    .addOption(new Option("--precompute <when>", "cache every corpus document first, with a progress bar (all), or as the agents first read them (none)").choices(["all", "none"]).default("none"))
    .option("--workers <n>", "run the questions in N processes sharing one store (redis:// or sqlite://) and report cross-process reuse", positiveInt)
    .addOption(new Option("--worker-index <i>").argParser((v) => Number(v)).hideHelp())
    .option("--json <file>", "write the transcript and the figures as JSON")
    .option("--verbose", "log to stderr (pino)")
    .action(async (questions: string[], flags: Flags) => {
      const asked = questions.length > 0 ? questions : flags.corpus === undefined ? [...DEFAULT_QUESTIONS] : undefined;
      if (asked === undefined) throw new ConfigError("with --corpus, give your questions: kvlink-agents --corpus <dir> \"question\" …");
      if (flags.workers !== undefined && flags.workerIndex === undefined) return runParent(asked, flags);
      const result = await runOne(asked, flags);
      if (flags.workerIndex !== undefined) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      printResult(result);
      if (flags.json !== undefined) await writeJson(flags.json, { ...result, environment: environment() });
    });
}

function logger(flags: Flags): Logger | undefined {
  return flags.verbose ? (pino({ level: "debug" }, pino.destination(2)) as unknown as Logger) : undefined;
}

async function runOne(questions: readonly string[], flags: Flags): Promise<RunAgentsResult> {
  const child = flags.workerIndex !== undefined;
  const tag = child ? `[w${flags.workerIndex}] ` : "";
  const out = child ? process.stderr : process.stdout;
  const storeUrl = flags.cache ? (flags.store ?? defaultStoreUrl()) : undefined;
  const bar = !child && process.stderr.isTTY ? new cliProgress.SingleBar({ format: "precompute [{bar}] {value}/{total} documents | {tokens} tokens", hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  let started = false;
  let tokens = 0;
  let lastLine = 0;
  let shownQuestion = -1;
  const abort = new AbortController();
  process.once("SIGINT", () => abort.abort());
  const repo = thisRepository();
  if (flags.corpus === undefined && repo === undefined) throw new ConfigError("not run from a kvlink-ts checkout: give the codebase to read with --corpus <dir>");
  const corpusDir = resolve(flags.corpus ?? repo!);
  try {
    return await runAgents({
      corpusDir,
      questions,
      ...(flags.model !== undefined ? { model: flags.model } : {}),
      numThreads: flags.threads ?? Math.max(1, Math.floor(availableParallelism() / (flags.workers ?? 1))),
      ...(storeUrl !== undefined ? { storeUrl } : {}),
      namespace: flags.namespace,
      noCache: !flags.cache,
      precompute: flags.precompute,
      ...(flags.corpus === undefined ? { exclude: DEFAULT_CORPUS_EXCLUDE } : {}),
      maxDocTokens: flags.maxDocTokens,
      k: flags.k,
      ...(logger(flags) !== undefined ? { logger: logger(flags)! } : {}),
      signal: abort.signal,
      onPrecomputeProgress: (p) => {
        tokens += p.numTokens;
        if (bar !== undefined) {
          if (!started) bar.start(p.total, 0, { tokens: 0 });
          started = true;
          bar.update(p.done, { tokens });
          if (p.done === p.total) bar.stop();
        } else if (p.done === p.total || performance.now() - lastLine > 5000) {
          lastLine = performance.now();
          process.stderr.write(`${tag}precompute: ${p.done}/${p.total} documents, ${tokens} tokens\n`);
        }
      },
      onToken: child ? undefined : (_agent, piece) => out.write(piece),
      onTurn: ({ agent, phase, turn, questionIndex }) => {
        if (phase === "start") {
          if (questionIndex !== shownQuestion && !child) out.write(`\n${"=".repeat(72)}\nQ${questionIndex + 1}: ${questions[questionIndex]}\n`);
          shownQuestion = questionIndex;
          if (!child) out.write(`\n── ${agent}\n`);
          return;
        }
        if (turn === undefined) return;
        if (child) out.write(`${tag}${agent}: ${turn.output.replace(/\s+/g, " ").slice(0, 160)}\n`);
        const k = turn.kvlink;
        out.write(
          `${child ? tag : "\n"}   [${turn.documentIds.length} docs: ${turn.documentIds.join(", ")}]\n` +
            `${tag}   [TTFT ${Math.round(k.ttftMs)} ms | doc tokens ${turn.docTokens}: ${k.docTokensReused} reused, ${k.docTokensComputed} computed` +
            `${turn.verdict !== undefined ? ` | verdict ${turn.verdict.verdict}${turn.verdict.parsed ? "" : " (unparsed: default)"}` : ""}]\n`,
        );
      },
    });
  } finally {
    bar?.stop();
  }
}

function printResult(result: RunAgentsResult): void {
  const out = process.stdout;
  out.write(`\n${"=".repeat(72)}\n`);
  out.write(`corpus: ${result.corpus.documents} documents (${result.corpus.declarations} declarations, ${result.corpus.markdown} markdown sections, ${result.corpus.tokens.toLocaleString("en-US")} tokens) from ${result.corpus.dir}\n`);
  if (result.precompute !== undefined) {
    out.write(`precompute: ${result.precompute.computed} computed, ${result.precompute.fromStore} already in the store, ${result.precompute.seconds.toFixed(1)} s\n`);
  }
  out.write(`mode: ${result.mode === "full" ? "full prefill (--no-cache)" : "kvlink (cached documents)"}${result.store ? `, store ${result.store.url}` : ""}\n\n`);
  out.write(`${formatSummaryTable(result.agents)}\n`);
  out.write(`\n${result.seconds.toFixed(1)} s in all\n`);
}

/** --workers N: N processes of this program on one store, each with its share of the questions. */
async function runParent(questions: readonly string[], flags: Flags): Promise<void> {
  const n = flags.workers!;
  if (!flags.cache) throw new ConfigError("--workers shares caches between processes; it makes no sense with --no-cache");
  const storeUrl = flags.store ?? defaultStoreUrl();
  if (parseStoreUrl(storeUrl).scheme === "memory") throw new ConfigError("--workers needs a store the processes share: redis://host:port or sqlite://<path>, not memory://");
  const shares = Array.from({ length: n }, (_, i) => questions.filter((_, q) => q % n === i));
  const passThrough = process.argv.slice(2).filter((a, i, all) => !(a === "--workers" || all[i - 1] === "--workers" || a.startsWith("--workers=") || a === "--json" || all[i - 1] === "--json"));
  const optionArgs = passThrough.filter((a) => !questions.includes(a));
  const t0 = performance.now();
  const results = await Promise.all(shares.map((share, i) => new Promise<RunAgentsResult | undefined>((resolveChild, reject) => {
    if (share.length === 0) return resolveChild(undefined);
    // execArgv: a parent run under a loader (tsx in the tests) starts its children the same way.
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...optionArgs, "--store", storeUrl, "--workers", String(n), "--worker-index", String(i), ...share], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code !== 0) return reject(new WorkerCrashedError(`agents process w${i} exited with code ${code}`, { details: { worker: i, code } }));
      resolveChild(JSON.parse(stdout.trim().split("\n").at(-1)!) as RunAgentsResult);
    });
  })));
  const done = results.filter((r): r is RunAgentsResult => r !== undefined);
  const out = process.stdout;
  out.write(`\n${"=".repeat(72)}\n${n} processes on ${parseStoreUrl(storeUrl).description}, ${questions.length} questions\n\n`);
  out.write("process  questions  precomputed here  loaded from store  waited for another  seconds\n");
  for (const [i, r] of done.entries()) {
    out.write(`w${i}`.padEnd(9) + String(r.answers.length).padStart(9) + String(r.store?.entriesComputed ?? 0).padStart(18) +
      String(r.store?.entriesLoaded ?? 0).padStart(19) + String(r.store?.waitedForOthers ?? 0).padStart(20) + r.seconds.toFixed(1).padStart(9) + "\n");
  }
  const corpusDocs = done[0]?.corpus.documents ?? 0;
  const computed = done.reduce((s, r) => s + (r.store?.entriesComputed ?? 0), 0);
  out.write(`\ndocuments computed over all processes: ${computed} (corpus: ${corpusDocs} documents)\n\n`);
  out.write(`${formatSummaryTable(summarizeTurns(done.flatMap((r) => r.answers.flatMap((a) => a.turns))))}\n`);
  out.write(`\n${((performance.now() - t0) / 1000).toFixed(1)} s in all\n`);
  if (flags.json !== undefined) await writeJson(flags.json, { workers: done, documentsComputed: computed, environment: environment() });
}

function environment(): Record<string, unknown> {
  return { cpu: cpus()[0]?.model ?? "unknown", cores: availableParallelism(), node: process.version, argv: process.argv.slice(2) };
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
  process.stderr.write(`wrote ${path}\n`);
}

/** Runs the program; returns the exit code (errors printed as `error: message (CODE)`). */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await createProgram().exitOverride().parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode; // commander printed it (or --help / --version)
    const code = error instanceof KvLinkError ? ` (${error.code})` : "";
    process.stderr.write(`error: ${(error as Error).message}${code}\n`);
    if (process.env["KVLINK_DEBUG"] === "1") process.stderr.write(`${(error as Error).stack}\n`);
    return 1;
  }
}
