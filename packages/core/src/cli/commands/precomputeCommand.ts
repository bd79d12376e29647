import { Command } from "commander";
import { expandDocumentPaths } from "../../precompute/expandDocumentPaths.js";
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
}

/**
 * `kvlink precompute <paths...>`: cuts files into documents and computes each document's KV cache into the store,
 * so that later `ask` calls (any process, same model and namespace) reuse them.
 */
export function precomputeCommand(): Command {
  const command = new Command("precompute")
    .description("compute the KV caches of documents into the store (files, folders walked recursively, or globs like 'docs/**/*.md')")
    .argument("<paths...>", "files, folders (text-like files inside, recursively) or quoted glob patterns (*, **, ?, [..], {a,b})")
    .option("--max-doc-tokens <n>", "token budget of one document: longer files are cut at headings, blank lines, then sentences", parseInteger, DEFAULT_MAX_DOC_TOKENS)
    .option("--json", "print one JSON object {documents, tokens, computed, reused, seconds, store}");
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
