import { resolve } from "node:path";
import { Command } from "commander";
import type { LinkMode } from "../../link/LinkPlan.js";
import {
  addModelOptions,
  addSamplingOptions,
  addStoreOptions,
  DEFAULT_MAX_DOC_TOKENS,
  isVerbose,
  modeOption,
  samplingFromFlags,
  type ModelFlags,
  type SamplingFlags,
  type StoreFlags,
} from "../commonOptions.js";
import { createCliLogger } from "../createCliLogger.js";
import { interruptSignal } from "../interruptSignal.js";
import { openEngine } from "../openEngine.js";
import { parseInteger } from "../parseOptions.js";
import { printJson } from "../printJson.js";
import { readDocuments } from "../readDocuments.js";
import { addResponseFormatOptions, responseFormatFromFlags, type ResponseFormatFlags } from "../responseFormatOptions.js";

interface AskFlags extends ModelFlags, StoreFlags, SamplingFlags, ResponseFormatFlags {
  docs: string[];
  question: string;
  system?: string;
  mode: LinkMode;
  maxDocTokens: number;
  json?: boolean;
}

/**
 * `kvlink ask`: answers a question over documents whose KV caches come from the store (or are computed once and
 * stored there), linked with KVLink. Streams the answer, or prints one JSON object with --json.
 */
export function askCommand(): Command {
  const command = new Command("ask")
    .description("answer a question over documents, reusing their cached KV from the store (computed and stored on a miss)")
    .requiredOption("--docs <files...>", "document files; each is one document, or several when longer than --max-doc-tokens")
    .requiredOption("--question <text>", "the question")
    .option("--system <text>", "system message")
    .addOption(modeOption())
    .option("--max-doc-tokens <n>", "token budget of one document (as precompute uses it, so the caches match)", parseInteger, DEFAULT_MAX_DOC_TOKENS)
    .option("--json", "print one JSON object {answer, ttft_ms, doc_tokens_reused, doc_tokens_computed, fresh_tokens, mode}");
  addModelOptions(command);
  addStoreOptions(command, true);
  addSamplingOptions(command, 128);
  addResponseFormatOptions(command);
  command.addHelpText("after", "\nAnswers are greedy unless --temperature, --top-k, --top-p or --seed is given.");
  return command.action(async (flags: AskFlags, cmd: Command) => {
    const logger = createCliLogger(isVerbose(cmd));
    const interrupt = interruptSignal();
    try {
      const responseFormat = await responseFormatFromFlags(flags);
      await using engine = await openEngine(flags, { logger, signal: interrupt.signal });
      const documents = await readDocuments(
        flags.docs.map((p) => resolve(p)),
        {
          maxDocTokens: flags.maxDocTokens,
          countTokens: (text) => engine.countTokens(text),
          onSkipBinary: (path) => process.stderr.write(`warning: skipping ${path}: not a text file\n`),
        },
      );
      const stream = engine.generate({
        documents: documents.map((d) => ({ id: `${d.path}#${d.chunkIndex}`, text: d.text })),
        question: flags.question,
        ...(flags.system !== undefined ? { system: flags.system } : {}),
        mode: flags.mode,
        ...samplingFromFlags(flags),
        // An answer over documents is greedy unless a sampling option asks otherwise.
        ...(flags.temperature === undefined && flags.topK === undefined && flags.topP === undefined && flags.seed === undefined
          ? { greedy: true }
          : {}),
        ...(responseFormat !== undefined ? { responseFormat } : {}),
        signal: interrupt.signal,
      });
      if (flags.json) {
        const { text, stats } = await stream.result();
        printJson({
          answer: text,
          ttft_ms: stats.ttftMs,
          doc_tokens_reused: stats.docTokensReused,
          doc_tokens_computed: stats.docTokensComputed,
          fresh_tokens: stats.freshTokens,
          mode: stats.mode,
        });
        return;
      }
      for await (const piece of stream) process.stdout.write(piece);
      process.stdout.write("\n");
    } finally {
      interrupt.dispose();
    }
  });
}
