import { resolve } from "node:path";
import { Command } from "commander";
import { writeTinyModel } from "../../graph/writeTinyModel.js";
import { parseChoice, parseInteger } from "../parseOptions.js";

interface TinyModelFlags {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  intermediate?: number;
  seed: number;
  signature: "kvlink" | "standard";
  quant: "fp32" | "q4";
  maxPositions: number;
  linkTokens: number;
  slots: number;
  pastKv: "fp32" | "fp16";
}

/** `kvlink tiny-model <dir>`: writes a deterministic random tiny model folder (tests, demos). */
export function tinyModelCommand(): Command {
  return new Command("tiny-model")
    .description("write a tiny random Llama-style model folder (ONNX graph, tokenizer, kvlink.json)")
    .argument("<dir>", "output folder (created; files of the same names are overwritten)")
    .option("--layers <n>", "decoder layers", parseInteger, 2)
    .option("--hidden <n>", "hidden size", parseInteger, 32)
    .option("--heads <n>", "attention heads", parseInteger, 4)
    .option("--kv-heads <n>", "key/value heads", parseInteger, 2)
    .option("--vocab <n>", "vocabulary size (≥ 277)", parseInteger, 384)
    .option("--intermediate <n>", "MLP size (default 2 × hidden)", parseInteger)
    .option("--seed <n>", "weights seed", parseInteger, 0)
    .option("--signature <sig>", "graph signature: kvlink | standard", parseChoice(["kvlink", "standard"] as const), "kvlink")
    .option("--quant <q>", "weights: fp32 | q4", parseChoice(["fp32", "q4"] as const), "fp32")
    .option("--max-positions <n>", "max_position_embeddings", parseInteger, 1024)
    .option("--link-tokens <n>", "KVLink link tokens per document slot", parseInteger, 2)
    .option("--slots <n>", "document slots (most documents per prompt) listed in kvlink.json", parseInteger, 8)
    .option("--past-kv <type>", "past KV inputs: fp32 | fp16 (see kvlink convert --past-kv)", parseChoice(["fp32", "fp16"] as const), "fp32")
    .action(async (dir: string, flags: TinyModelFlags) => {
      const model = await writeTinyModel(resolve(dir), {
        layers: flags.layers,
        hidden: flags.hidden,
        heads: flags.heads,
        kvHeads: flags.kvHeads,
        vocab: flags.vocab,
        ...(flags.intermediate !== undefined ? { intermediate: flags.intermediate } : {}),
        seed: flags.seed,
        signature: flags.signature,
        quant: flags.quant,
        maxPositionEmbeddings: flags.maxPositions,
        numLinkTokens: flags.linkTokens,
        numSlots: flags.slots,
        pastKvType: flags.pastKv === "fp16" ? "float16" : "float32",
      });
      const s = model.spec;
      process.stdout.write(
        `wrote ${model.dir}: ${s.numLayers} layers, hidden ${s.hiddenSize}, ${s.numHeads}/${s.numKvHeads} heads, ` +
          `vocab ${s.vocabSize}, ${flags.signature} signature, ${flags.quant}\n`,
      );
    });
}
