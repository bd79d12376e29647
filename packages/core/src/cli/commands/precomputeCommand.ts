import { Command } from "commander";
import { expandDocumentPaths } from "../../precompute/expandDocumentPaths.js";
import { DEFAULT_QUEUE_NAME, PrecomputeQueue } from "../../queue/PrecomputeQueue.js";
import { parseStoreUrl } from "../../store/backend/parseStoreUrl.js";
import { addModelOptions, addStoreOptions, DEFAULT_MAX_DOC_TOKENS, isVerbose, type ModelFlags, type StoreFlags } from "../commonOptions.js";
import { createCliLogger } from "../createCliLogger.js";
import { interruptSignal } from "../interruptSignal.js";
import { openEngine, storeUrlFromFlags } from "../openEngine.js";
import { parseInteger } from "../parseOptions.js";
import { printJson } from "../printJson.js";
import { ProgressDisplay } from "../ProgressDisplay.js";
import { readDocuments } from "../readDocuments.js";

interface PrecomputeFlags extends ModelFlags, StoreFlags {
  maxDocTokens: number;
  json?: boolean;
  queue?: string;
  queueName: string;
  wait?: boolean;
}

/**
 * `kvlink precompute <paths...>`: cuts files into documents and computes each document's KV cache into the store,
 * so that later `ask` calls (any process, same model and namespace) reuse them. With `--queue redis://…` the
 * documents are enqueued instead (job id = store key: each document once) for `kvlink worker` processes.
 */
export function precomputeCommand(): Command {
  const command = new Command("precompute")
    .description("compute the KV caches of documents into the store (files, folders walked recursively, or globs like 'docs/**/*.md')")
    .argument("<paths...>", "files, folders (text-like files inside, recursively) or quoted glob patterns (*, **, ?, [..], {a,b})")
    .option("--max-doc-tokens <n>", "token budget of one document: longer files are cut at headings, blank lines, then sentences", parseInteger, DEFAULT_MAX_DOC_TOKENS)
    .option("--json", "print one JSON object {documents, tokens, computed, reused, seconds, store}")
    .option("--queue <url>", "enqueue the documents on this BullMQ queue (redis://host:port) for `kvlink worker` processes instead of computing them here")
    .option("--queue-name <name>", "BullMQ queue name", DEFAULT_QUEUE_NAME)
    .option("--wait", "with --queue: show the queue's progress on these documents until all are done");
  addModelOptions(command);
  addStoreOptions(command, false);
  return command.action(async (inputs: string[], flags: PrecomputeFlags, cmd: Command) => {
    const logger = createCliLogger(isVerbose(cmd));
    const interrupt = interruptSignal();
    const t0 = performance.now();
    const display = new ProgressDisplay();
    try {
      const paths = await expandDocumentPaths(inputs);
      await using engine = await openEngine(flags, { logger, signal: interrupt.signal });
      const documents = await readDocuments(paths, {
        maxDocTokens: flags.maxDocTokens,
        countTokens: (text) => engine.countTokens(text),
        onSkipBinary: (path) => process.stderr.write(`warning: skipping ${path}: not a text file\n`),
      });
      const totalTokens = documents.reduce((sum, d) => sum + d.numTokens, 0);
      if (flags.queue !== undefined) {
        await enqueueDocuments({ ...flags, queue: flags.queue }, engine, documents, { totalTokens, numFiles: paths.length, display, signal: interrupt.signal, t0 });
        return;
      }
      logger.info({ files: paths.length, documents: documents.length, tokens: totalTokens }, "precomputing");
      let doneTokens = 0;
      const tStart = performance.now();
      display.update({ phase: "precompute", done: 0, total: documents.length, detail: `0/${totalTokens} tokens` });
      const results = await engine.precompute(
        documents.map((d) => ({ id: `${d.path}#${d.chunkIndex}`, text: d.text })),
        {
          signal: interrupt.signal,
          onProgress: (p) => {
            doneTokens += p.numTokens;
            const s = Math.max((performance.now() - tStart) / 1000, 1e-3);
            display.update({
              phase: "precompute",
              done: p.done,
              total: p.total,
              detail: `${(p.done / s).toFixed(1)} docs/s | ${Math.round(doneTokens / s)} tokens/s`,
            });
          },
        },
      );
      display.stop();
      const computed = results.filter((r) => r.source === "computed").length;
      const summary = {
        documents: results.length,
        tokens: totalTokens,
        computed,
        reused: results.length - computed,
        seconds: (performance.now() - t0) / 1000,
        store: parseStoreUrl(storeUrlFromFlags(flags)!).description,
      };
      if (flags.json) {
        printJson(summary);
        return;
      }
      process.stdout.write(
        `${summary.documents} documents (${summary.tokens} tokens) from ${paths.length} files: ${summary.computed} computed, ` +
          `${summary.reused} already cached, in ${summary.seconds.toFixed(1)} s -> ${summary.store} (namespace ${flags.namespace})\n`,
      );
    } finally {
      display.stop();
      interrupt.dispose();
    }
  });
}

/** `precompute --queue`: one job per document (id = its store key), then optionally the queue's progress on them. */
async function enqueueDocuments(
  flags: PrecomputeFlags & { queue: string },
  engine: { readonly fingerprint: string; documentKey(text: string): string },
  documents: readonly { readonly path: string; readonly chunkIndex: number; readonly text: string; readonly numTokens: number }[],
  ctx: { readonly totalTokens: number; readonly numFiles: number; readonly display: ProgressDisplay; readonly signal: AbortSignal; readonly t0: number },
): Promise<void> {
  await using queue = new PrecomputeQueue({ url: flags.queue, name: flags.queueName });
  const jobs = documents.map((d) => ({
    key: engine.documentKey(d.text), text: d.text, id: `${d.path}#${d.chunkIndex}`, numTokens: d.numTokens,
    fingerprint: engine.fingerprint, namespace: flags.namespace,
  }));
  const { added, known } = await queue.enqueue(jobs);
  const keys = [...new Set(jobs.map((j) => j.key))];
  let states: string[] = [];
  if (flags.wait) {
    for (;;) {
      ctx.signal.throwIfAborted();
      states = await queue.states(keys);
      const done = states.filter((s) => s === "completed" || s === "failed").length;
      const c = await queue.counts();
      ctx.display.update({ phase: "queue", done, total: keys.length, detail: `${c.active} active | ${c.waiting} waiting | ${c.delayed} retrying | ${c.failed} failed` });
      if (done === keys.length) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    ctx.display.stop();
  }
  const summary = {
    documents: documents.length,
    tokens: ctx.totalTokens,
    enqueued: added,
    alreadyQueued: known,
    ...(flags.wait ? { completed: states.filter((s) => s === "completed").length, failed: states.filter((s) => s === "failed").length } : {}),
    seconds: (performance.now() - ctx.t0) / 1000,
    queue: parseStoreUrl(flags.queue).description,
    queueName: flags.queueName,
  };
  if (flags.json) {
    printJson(summary);
  } else {
    process.stdout.write(
      `${summary.documents} documents (${summary.tokens} tokens) from ${ctx.numFiles} files: ${added} enqueued, ${known} already queued` +
        `${flags.wait ? `; ${summary.completed} completed, ${summary.failed} failed` : ""} -> ${summary.queue} (${flags.queueName})\n`,
    );
  }
}
