import { resolve } from "node:path";
import { Command } from "commander";
import { loadModel } from "../../decoder/loadModel.js";
import { ConfigError } from "../../errors/KvLinkError.js";
import { createCliLogger } from "../createCliLogger.js";
import { parseInteger, parseNumber } from "../parseOptions.js";

interface GenerateFlags {
  model?: string;
  prompt: string;
  system?: string;
  raw?: boolean;
  maxTokens: number;
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  json?: boolean;
  threads?: number;
  executionProvider: string;
}

/** `kvlink generate`: streams a completion to stdout, or prints one JSON object with --json. */
export function generateCommand(): Command {
  return new Command("generate")
    .description("generate text from a prompt (streams to stdout)")
    .option("--model <dir>", "model folder")
    .requiredOption("--prompt <text>", "the user message (or raw text with --raw)")
    .option("--system <text>", "system message (chat template only)")
    .option("--raw", "feed the prompt as raw text, without the chat template")
    .option("--max-tokens <n>", "most tokens to generate", parseInteger, 128)
    .option("--greedy", "pick the most likely token (no sampling)")
    .option("--temperature <t>", "sampling temperature", parseNumber)
    .option("--top-k <k>", "keep the k most likely tokens (0 = off)", parseInteger)
    .option("--top-p <p>", "nucleus sampling mass (1 = off)", parseNumber)
    .option("--seed <n>", "sampling seed", parseInteger)
    .option("--json", "print one JSON object {text, tokens, ttft_ms, tokens_per_s} instead of streaming")
    .option("--threads <n>", "ONNX Runtime intra-op threads", parseInteger)
    .option("--execution-provider <ep>", "cpu | webgpu | cuda | another ORT provider", "cpu")
    .action(async (flags: GenerateFlags, command: Command) => {
      const verbose = command.optsWithGlobals<{ verbose?: boolean }>().verbose === true;
      if (flags.model === undefined) throw new ConfigError("--model <dir> is required (there is no default model yet)");
      const logger = createCliLogger(verbose);
      await using model = await loadModel(resolve(flags.model), {
        executionProvider: flags.executionProvider,
        logger,
        ...(flags.threads !== undefined ? { numThreads: flags.threads } : {}),
      });
      const useTemplate = flags.raw !== true && model.tokenizer.chatTemplate !== undefined;
      const messages = [...(flags.system !== undefined ? [{ role: "system", content: flags.system }] : []), { role: "user", content: flags.prompt }];
      const abort = new AbortController();
      const onSigint = (): void => abort.abort(new Error("interrupted"));
      process.once("SIGINT", onSigint);
      try {
        const stream = model.generate({
          ...(useTemplate ? { messages } : { prompt: flags.prompt }),
          maxTokens: flags.maxTokens,
          ...(flags.greedy ? { greedy: true } : {}),
          ...(flags.temperature !== undefined ? { temperature: flags.temperature } : {}),
          ...(flags.topK !== undefined ? { topK: flags.topK } : {}),
          ...(flags.topP !== undefined ? { topP: flags.topP } : {}),
          ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
          signal: abort.signal,
        });
        if (flags.json) {
          const result = await stream.result();
          const s = result.stats;
          process.stdout.write(
            `${JSON.stringify({ text: result.text, tokens: s.numGeneratedTokens, ttft_ms: s.ttftMs, tokens_per_s: s.tokensPerSecond })}\n`,
          );
          return;
        }
        for await (const piece of stream) process.stdout.write(piece);
        process.stdout.write("\n");
      } finally {
        process.off("SIGINT", onSigint);
      }
    });
}
