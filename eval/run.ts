/**
 * `npm run eval`: accuracy of answers over several documents, per model × linking mode, with the project's engine
 * (see eval/README.md). Draws a progress bar on stderr and prints the main table at the end; everything else goes
 * to --out (results.json, summary.md, accuracy-by-slot.svg). Ctrl-C stops the run and writes what was done.
 */
import { execFileSync } from "node:child_process";
import { basename, join, relative } from "node:path";
import cliProgress from "cli-progress";
import { ensureDefaultModel } from "../packages/core/src/setup/ensureDefaultModel.js";
import { adapterScaleFor } from "../packages/core/src/engine/adapterPolicy.js";
import { computeAggregates } from "./harness/computeAggregates.js";
import { DatasetFormatError, loadChatPrompts, loadHeldoutTexts, loadQaRecords, selectRecords, type ChatPrompt, type HeldoutText, type QaRecord } from "./harness/loadJsonl.js";
import { parseEvalArgs, REPO_ROOT, USAGE, UsageError, type EvalArgs } from "./harness/parseEvalArgs.js";
import { renderAccuracyTable } from "./harness/renderSummary.js";
import { computeChatAgreement, runChecks } from "./harness/runChecks.js";
import { runQa } from "./harness/runQa.js";
import type { ChatAnswer, EvalReport, ModelInfo, ModelSpecArg, PerplexityResult, RecordOutcome } from "./harness/types.js";
import { writeReport } from "./harness/writeReport.js";

function gitCommit(): string | undefined {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

function pct(numCorrect: number, numAnswered: number): string {
  return numAnswered === 0 ? "–" : `${((numCorrect / numAnswered) * 100).toFixed(1)}%`;
}

function makeBar(format: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, etaBuffer: 40, fps: 5, noTTYOutput: true, notTTYSchedule: 15000 },
    cliProgress.Presets.shades_classic,
  );
}

async function resolveModels(args: EvalArgs): Promise<ModelSpecArg[]> {
  if (args.models.length > 0) {
    const labels = args.models.map((m) => m.label);
    const dup = labels.find((l, i) => labels.indexOf(l) !== i);
    if (dup !== undefined) throw new UsageError(`two models are labelled ${JSON.stringify(dup)}; give label=<dir>`);
    return [...args.models];
  }
  const dir = await ensureDefaultModel();
  return [{ label: basename(dir), dir }];
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseEvalArgs(argv);
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const started = new Date();
  // Read and check every input before loading any model.
  const records: QaRecord[] = [];
  for (const path of args.data) {
    records.push(...selectRecords(await loadQaRecords(path), { ...(args.split !== undefined ? { split: args.split } : {}), stride: args.stride, ...(args.limit !== undefined ? { limit: args.limit } : {}), ...(args.shard !== undefined ? { shard: args.shard } : {}) }));
  }
  if (args.modes.length === 0 && args.checks.length === 0) throw new UsageError("--modes none needs --checks (there is nothing else to run)");
  if (args.modes.length > 0 && records.length === 0) throw new UsageError(`no records selected from ${args.data.join(", ")}${args.split !== undefined ? ` with --split ${args.split}` : ""}`);
  const chatPrompts: ChatPrompt[] | undefined = args.checks.includes("chat") ? await loadChatPrompts(args.chatPrompts) : undefined;
  const heldoutTexts: HeldoutText[] | undefined = args.checks.includes("ppl") ? await loadHeldoutTexts(args.heldout) : undefined;
  const models = await resolveModels(args);
  const reference = args.reference ?? models[0]!.label;
  if (!models.some((m) => m.label === reference)) throw new UsageError(`--reference ${reference}: no model has that label (${models.map((m) => m.label).join(", ")})`);
  const outDir = args.out ?? join(REPO_ROOT, "eval/results", models.map((m) => m.label).join("+"));

  const controller = new AbortController();
  let firstInterruptMs: number | undefined;
  const onSigint = (): void => {
    // npm and tsx relay Ctrl-C to this process as well as the terminal sending it: only a second press, a moment
    // later, forces an exit (the first stops after the current answer and writes the files).
    if (firstInterruptMs !== undefined && performance.now() - firstInterruptMs > 1500) process.exit(130);
    firstInterruptMs ??= performance.now();
    controller.abort(new Error("interrupted"));
  };
  process.on("SIGINT", onSigint);

  const outcomes: RecordOutcome[] = [];
  const modelInfos: ModelInfo[] = [];
  const chatAnswers: ChatAnswer[] = [];
  const perplexity: PerplexityResult[] = [];
  let failure: unknown;
  const qaBar = makeBar("answers |{bar}| {value}/{total} | {column} acc {acc} | {duration_formatted} elapsed, ETA {eta_formatted}");
  qaBar.start(models.length * args.modes.length * records.length, 0, { column: "", acc: "–" });
  let done = 0;
  try {
    await runQa({
      models,
      modes: args.modes,
      records,
      maxTokens: args.maxTokens,
      epicTokens: args.epicTokens,
      documentPrefix: args.documentPrefix,
      adapter: args.adapter,
      ...(args.system !== undefined ? { system: args.system } : {}),
      numThreads: args.numThreads,
      signal: controller.signal,
      outcomes,
      modelInfos,
      onProgress: (p) => qaBar.update(++done, { column: `${p.model}/${p.mode}`, acc: pct(p.numCorrect, p.numAnswered) }),
      onSkipped: (n) => qaBar.setTotal(qaBar.getTotal() - n),
    });
    qaBar.stop();
    if (args.checks.length > 0 && !controller.signal.aborted) {
      const perModel = (chatPrompts?.length ?? 0) + (heldoutTexts?.length ?? 0);
      const checkBar = makeBar("checks  |{bar}| {value}/{total} | {model} {check} | ETA {eta_formatted}");
      checkBar.start(models.length * perModel, 0, { model: "", check: "" });
      let checksDone = 0;
      try {
        await runChecks({
          models,
          ...(chatPrompts !== undefined ? { chatPrompts } : {}),
          ...(heldoutTexts !== undefined ? { heldoutTexts } : {}),
          numThreads: args.numThreads,
          adapterScale: adapterScaleFor(args.adapter, { numDocuments: 0 }),
          signal: controller.signal,
          chatAnswers,
          perplexity,
          onProgress: (p) => checkBar.update(++checksDone, { model: p.model, check: p.check }),
        });
      } finally {
        checkBar.stop();
      }
    }
  } catch (error) {
    failure = error;
  } finally {
    qaBar.stop();
    process.off("SIGINT", onSigint);
  }

  const labels = models.map((m) => m.label);
  const finished = new Date();
  const report: EvalReport = {
    meta: {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
      interrupted: controller.signal.aborted || failure !== undefined,
      commit: gitCommit(),
      node: process.versions.node,
      data: args.data.map((p) => (relative(REPO_ROOT, p).startsWith("..") ? p : relative(REPO_ROOT, p))),
      modes: args.modes,
      split: args.split,
      limit: args.limit,
      stride: args.stride,
      ...(args.shard !== undefined ? { shard: args.shard } : {}),
      maxTokens: args.maxTokens,
      epicTokens: args.epicTokens,
      documentPrefix: args.documentPrefix,
      adapter: args.adapter,
      system: args.system,
      numThreads: args.numThreads,
      numRecords: records.length,
      models: modelInfos,
    },
    aggregates: computeAggregates(outcomes, labels, args.modes),
    checks: {
      ...(chatPrompts !== undefined ? { chat: computeChatAgreement(chatAnswers, labels, reference), chatAnswers } : {}),
      ...(heldoutTexts !== undefined ? { perplexity } : {}),
    },
    records: outcomes,
  };
  const files = await writeReport(report, outDir);
  const out: string[] = ["", renderAccuracyTable(report.aggregates.byDatasetSplit, modelInfos), ""];
  if (controller.signal.aborted) out.push("interrupted: the files hold the records done so far");
  out.push(`${outcomes.length} answers in ${(report.meta.durationMs / 1000).toFixed(0)} s; wrote ${files.map((f) => relative(process.cwd(), f)).join(", ")}`, "");
  process.stdout.write(out.join("\n"));
  if (failure !== undefined) throw failure;
  return controller.signal.aborted ? 130 : 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || error instanceof DatasetFormatError) {
    process.stderr.write(`eval: ${error.message}\n${error instanceof UsageError ? `\n${USAGE}` : ""}`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`eval failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  }
}
