import { resolve } from "node:path";
import { Command } from "commander";
import { convertModel } from "../../convert/convertModel.js";
import { isVerbose } from "../commonOptions.js";
import { createCliLogger } from "../createCliLogger.js";
import { interruptSignal } from "../interruptSignal.js";
import { parseChoice } from "../parseOptions.js";
import { printJson } from "../printJson.js";
import { ProgressDisplay } from "../ProgressDisplay.js";

interface ConvertFlags {
  signature: "kvlink" | "standard";
  quant: "q4" | "fp32";
  lora?: string;
  mergeLora?: boolean;
  pastKv: "fp32" | "fp16";
  attention?: "hybrid" | "onnx";
  json?: boolean;
}

/** `kvlink convert <input> <out>`: a GGUF file or a Hugging Face folder into a model folder. */
export function convertCommand(): Command {
  return new Command("convert")
    .description("convert a Llama-family .gguf file or Hugging Face checkpoint folder into a kvlink model folder")
    .argument("<input>", "a .gguf file, or a folder with config.json, *.safetensors and tokenizer files")
    .argument("<out>", "output model folder (created; files of the same names are overwritten)")
    .option("--signature <sig>", "graph signature: kvlink (block masks, for document reuse) | standard", parseChoice(["kvlink", "standard"] as const), "kvlink")
    .option("--quant <q>", "weights: q4 (4-bit MatMulNBits) | fp32", parseChoice(["q4", "fp32"] as const), "q4")
    .option("--lora <adapter.safetensors>", "convert with a PEFT-style LoRA adapter (branches beside the weights; a KVLink adapter also brings its link tokens)")
    .option("--merge-lora", "fold the adapter into the weights (4-bit ones re-quantized) instead of exact branches beside them")
    .option(
      "--past-kv <type>",
      "past KV inputs: fp32 | fp16 (half the bytes a CUDA run uploads per step; attention still in fp32; kvlink signature)",
      parseChoice(["fp32", "fp16"] as const),
      "fp32",
    )
    .option(
      "--attention <impl>",
      "how layers attend: hybrid (default for kvlink graphs with fp32 past: MatMuls for one-token steps over a long past) | onnx (Attention-23 for every step)",
      parseChoice(["hybrid", "onnx"] as const),
    )
    .option("--json", "print one JSON object {model_dir, onnx, signature, quant, seconds}")
    .action(async (input: string, out: string, flags: ConvertFlags, command: Command) => {
      const logger = createCliLogger(isVerbose(command));
      const display = new ProgressDisplay();
      const interrupt = interruptSignal();
      const t0 = performance.now();
      const outDir = resolve(out);
      let onnxPath: string;
      try {
        const paths = await convertModel(resolve(input), outDir, {
          signature: flags.signature,
          quant: flags.quant,
          onProgress: (p) => display.update({ phase: p.phase, done: p.done, total: p.total, detail: p.phase === "convert" ? "tensors" : "steps" }),
          signal: interrupt.signal,
          logger,
          ...(flags.lora !== undefined && { adapter: resolve(flags.lora) }),
          ...(flags.mergeLora === true && { mergeLora: true }),
          graph: {
            ...(flags.pastKv === "fp16" && { pastKvType: "float16" as const }),
            ...(flags.attention !== undefined && { attention: flags.attention }),
          },
        });
        onnxPath = paths.onnxModel;
      } finally {
        display.stop();
        interrupt.dispose();
      }
      const seconds = (performance.now() - t0) / 1000;
      if (flags.json) printJson({ model_dir: outDir, onnx: onnxPath, signature: flags.signature, quant: flags.quant, seconds });
      else process.stdout.write(`wrote ${outDir} (${flags.signature} signature, ${flags.quant}) in ${seconds.toFixed(1)} s\n`);
    });
}
