import type { AdapterPolicy } from "../../engine/adapterPolicy.js";
import { createInterface } from "node:readline";
import { Command } from "commander";
import { loadModel } from "../../decoder/loadModel.js";
import type { ChatMessage } from "../../tokenizer/chatTemplate.js";
import { ConfigError } from "../../errors/KvLinkError.js";
import { addAdapterOption, addExecutionProviderOptions, addSamplingOptions, documentFreeAdapterScale, isVerbose, providerOptionsFromFlags, samplingFromFlags, type SamplingFlags } from "../commonOptions.js";
import { createCliLogger } from "../createCliLogger.js";
import { parseInteger } from "../parseOptions.js";
import { resolveModelDir } from "../resolveModelDir.js";

interface ChatFlags extends SamplingFlags {
  model?: string;
  system?: string;
  threads?: number;
  executionProvider: string;
  adapter: AdapterPolicy;
  deviceId?: number;
  tf32?: boolean;
}

/**
 * `kvlink chat`: a multi-turn conversation on stdin/stdout. Each line is a user turn; the whole history is re-sent
 * each turn and the reply streams out, followed by a blank line. `/reset` forgets the history, `/exit` or end of
 * input ends. Ctrl-C stops the reply being generated (a second one quits).
 */
export function chatCommand(): Command {
  const command = addAdapterOption(addExecutionProviderOptions(new Command("chat")))
    .description("chat with the model: one user message per line on stdin, replies streamed to stdout (/reset, /exit)")
    .option("--model <dir>", "model folder (default: the default model, set up on first use)")
    .option("--system <text>", "system message");
  addSamplingOptions(command, 256);
  return command
    .option("--threads <n>", "ONNX Runtime intra-op threads", parseInteger)
    .action(async (flags: ChatFlags, cmd: Command) => {
      const logger = createCliLogger(isVerbose(cmd));
      const modelDir = await resolveModelDir(flags.model, { logger });
      await using model = await loadModel(modelDir, {
        ...providerOptionsFromFlags(flags),
        ...documentFreeAdapterScale(flags),
        logger,
        ...(flags.threads !== undefined ? { numThreads: flags.threads } : {}),
        // Plain generation places no documents: no placement helper threads.
        placementThreads: 1,
      });
      if (model.tokenizer.chatTemplate === undefined) throw new ConfigError(`the model in ${modelDir} has no chat template; use \`kvlink generate --raw\``);
      const interactive = process.stdin.isTTY === true;
      const rl = createInterface({ input: process.stdin, ...(interactive ? { output: process.stdout, prompt: "> " } : {}), terminal: interactive });
      const history: ChatMessage[] = [];
      let turn: AbortController | undefined;
      const onSigint = (): void => {
        if (turn !== undefined && !turn.signal.aborted) turn.abort(new Error("interrupted"));
        else rl.close();
      };
      rl.on("SIGINT", onSigint);
      process.on("SIGINT", onSigint);
      try {
        if (interactive) rl.prompt();
        for await (const line of rl) {
          const text = line.trim();
          if (text === "/exit") break;
          if (text === "/reset") {
            history.length = 0;
            if (interactive) process.stdout.write("(history cleared)\n");
          } else if (text !== "") {
            history.push({ role: "user", content: text });
            turn = new AbortController();
            const messages = [...(flags.system !== undefined ? [{ role: "system" as const, content: flags.system }] : []), ...history];
            const stream = model.generate({ messages, ...samplingFromFlags(flags), signal: turn.signal });
            let reply = "";
            try {
              for await (const piece of stream) {
                reply += piece;
                process.stdout.write(piece);
              }
            } catch (error) {
              if (!turn.signal.aborted) throw error;
              process.stdout.write(" [interrupted]");
            }
            turn = undefined;
            process.stdout.write("\n\n");
            history.push({ role: "assistant", content: reply });
          }
          if (interactive) rl.prompt();
        }
      } finally {
        process.off("SIGINT", onSigint);
        rl.close();
      }
    });
}
