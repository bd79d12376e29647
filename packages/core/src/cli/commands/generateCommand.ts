import type { AdapterPolicy } from "../../engine/adapterPolicy.js";
import { Command } from "commander";
import { loadModel } from "../../decoder/loadModel.js";
import { createCliLogger } from "../createCliLogger.js";
import { interruptSignal } from "../interruptSignal.js";
import { addAdapterOption, addExecutionProviderOptions, documentFreeAdapterScale, isVerbose, providerOptionsFromFlags, samplingFromFlags } from "../commonOptions.js";
import { printJson } from "../printJson.js";
import { resolveModelDir } from "../resolveModelDir.js";
import { parseInteger, parseNumber } from "../parseOptions.js";
import { addResponseFormatOptions, responseFormatFromFlags, type ResponseFormatFlags } from "../responseFormatOptions.js";

interface GenerateFlags extends ResponseFormatFlags {
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
  adapter: AdapterPolicy;
  deviceId?: number;
  tf32?: boolean;
}

/** `kvlink generate`: streams a completion to stdout, or prints one JSON object with --json. */
export function generateCommand(): Command {
  const command = addAdapterOption(addExecutionProviderOptions(new Command("generate")))
    .description("generate text from a prompt (streams to stdout)")
    .option("--model <dir>", "model folder (default: the default model, downloaded and converted on first use)")
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
    .option("--threads <n>", "ONNX Runtime intra-op threads", parseInteger);
  addResponseFormatOptions(command);
  return command.action(async (flags: GenerateFlags, cmd: Command) => {
      const logger = createCliLogger(isVerbose(cmd));
      const interrupt = interruptSignal();
      try {
        const responseFormat = await responseFormatFromFlags(flags);
        const modelDir = await resolveModelDir(flags.model, { logger, signal: interrupt.signal });
        await using model = await loadModel(modelDir, {
          ...providerOptionsFromFlags(flags),
          ...documentFreeAdapterScale(flags),
          logger,
          ...(flags.threads !== undefined ? { numThreads: flags.threads } : {}),
          // Plain generation places no documents: no placement helper threads.
          placementThreads: 1,
        });
        const useTemplate = flags.raw !== true && model.tokenizer.chatTemplate !== undefined;
        const messages = [...(flags.system !== undefined ? [{ role: "system", content: flags.system }] : []), { role: "user", content: flags.prompt }];
        const stream = model.generate({
          ...(useTemplate ? { messages } : { prompt: flags.prompt }),
          ...samplingFromFlags(flags),
          ...(responseFormat !== undefined ? { responseFormat } : {}),
          signal: interrupt.signal,
        });
        if (flags.json) {
          const result = await stream.result();
          const s = result.stats;
          printJson({ text: result.text, tokens: s.numGeneratedTokens, ttft_ms: s.ttftMs, tokens_per_s: s.tokensPerSecond });
          return;
        }
        for await (const piece of stream) process.stdout.write(piece);
        process.stdout.write("\n");
      } finally {
        interrupt.dispose();
      }
    });
}
