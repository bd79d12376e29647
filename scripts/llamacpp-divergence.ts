/**
 * Where our greedy tokens and llama.cpp's part on a preset's GGUF, and who the exact computation sides with.
 *
 *   npx tsx scripts/llamacpp-divergence.ts [--preset qwen2.5-coder-1.5b-instruct] [--tokens 24] [--no-reference]
 *       [--out <file.json>]
 *
 * Needs `kvlink setup --model <preset> --keep-gguf` (what `npm run test:models` runs). For each acceptance prompt
 * (test/fixtures/acceptancePrompts.ts) it decodes greedily with
 *   - ours: the preset as set up (4-bit weights, int8 activations in MatMulNBits, 8-bit head),
 *   - ours-fp32: the same weights with fp32 activations and an fp32 head (converted once per converter version into
 *     <KVLINK_HOME>/models/<preset folder>-fp32act; the graph the tiny-model tests prove equal to the float64
 *     reference within 1e-4),
 *   - llama.cpp (node-llama-cpp) on the GGUF itself,
 * and, where ours-fp32 and llama.cpp first choose different tokens, runs the float64 reference forward pass
 * (test/support/referenceForward.ts, on the GGUF's dequantized weights) over the shared prefix and prints its logits
 * for both candidates. Several minutes per divergence on 2 cores at 1.5B; `--no-reference` skips it.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { convertModel, FP32_ACTIVATION_KERNELS } from "../packages/core/src/convert/convertModel.js";
import { loadGgufWeights } from "../packages/core/src/convert/loadGgufWeights.js";
import { resolveKvlinkHome } from "../packages/core/src/setup/ensureModel.js";
import { findModelPreset } from "../packages/core/src/setup/modelPresets.js";
import { renderChatTemplate } from "../packages/core/src/tokenizer/chatTemplate.js";
import { HfTokenizer } from "../packages/core/src/tokenizer/HfTokenizer.js";
import { ensureBenchConversion } from "../benchmarks/core/ensureBenchConversion.js";
import { ACCEPTANCE_PROMPTS } from "../test/fixtures/acceptancePrompts.js";
import { commonPrefixLength } from "../test/core/model/runners/GreedyRunner.js";
import { LlamaCppRunner } from "../test/core/model/runners/LlamaCppRunner.js";
import { OursRunner } from "../test/core/model/runners/OursRunner.js";
import { causalMask, referenceForward } from "../test/support/referenceForward.js";

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const presetName = flag("preset", "qwen2.5-coder-1.5b-instruct");
const numTokens = Number(flag("tokens", "24"));
const withReference = !args.includes("--no-reference");
const outFile = args.includes("--out") ? flag("out", "") : undefined;
const log = (m: string): void => void process.stderr.write(`[divergence] ${m}\n`);

const preset = findModelPreset(presetName);
if (preset === undefined) throw new Error(`unknown preset ${presetName}`);
const models = join(resolveKvlinkHome(), "models");
const dir = join(models, preset.source.folderName);
const gguf = join(models, `${preset.source.folderName}.gguf`);
if (!existsSync(dir) || !existsSync(gguf)) throw new Error(`run \`kvlink setup --model ${presetName} --keep-gguf\` first (${dir}, ${gguf})`);

const fp32Dir = await ensureBenchConversion(`${preset.source.folderName}-fp32act`, log, (out) =>
  convertModel(gguf, out, { signature: "kvlink", quant: "q4", graph: FP32_ACTIVATION_KERNELS }),
);

const tokenizer = await HfTokenizer.load(dir);
const llama = await LlamaCppRunner.create("llama.cpp", gguf, { numThreads: 2, contextSize: 4096 });
const ours = await OursRunner.create("ours", dir, { numThreads: 2 });
const oursFp32 = await OursRunner.create("ours-fp32", fp32Dir, { numThreads: 2 });
const text = (ids: readonly number[]): string => tokenizer.decode(ids, { skipSpecialTokens: false });

interface Row {
  prompt: string;
  agree: { ours: number; oursFp32: number; oursVsFp32: number };
  llama: string;
  oursFp32: string;
  divergence?: { step: number; oursFp32Token: string; llamaToken: string; reference?: { oursFp32Token: number; llamaToken: number; argmax: string; seconds: number } };
}
const rows: Row[] = [];
let weights: Awaited<ReturnType<typeof loadGgufWeights>>["weights"] | undefined;
for (const messages of ACCEPTANCE_PROMPTS) {
  const ids = tokenizer.encode(renderChatTemplate(tokenizer.chatTemplate!, messages, { addGenerationPrompt: true }), { specialTokens: "parse" });
  const a = await ours.greedy(ids, numTokens);
  const f = await oursFp32.greedy(ids, numTokens);
  const b = await llama.greedy(ids, numTokens);
  const row: Row = {
    prompt: messages.at(-1)!.content,
    agree: { ours: commonPrefixLength(a.tokenIds, b.tokenIds), oursFp32: commonPrefixLength(f.tokenIds, b.tokenIds), oursVsFp32: commonPrefixLength(a.tokenIds, f.tokenIds) },
    llama: text(b.tokenIds),
    oursFp32: text(f.tokenIds),
  };
  const k = row.agree.oursFp32;
  if (k < numTokens) {
    const fa = f.tokenIds[k]!;
    const lb = b.tokenIds[k]!;
    row.divergence = { step: k, oursFp32Token: text([fa]), llamaToken: text([lb]) };
    if (withReference) {
      weights ??= (log("loading the GGUF's weights for the float64 reference"), (await loadGgufWeights(gguf, { quant: "q4" })).weights);
      const input = [...ids, ...f.tokenIds.slice(0, k)];
      const t0 = performance.now();
      const out = referenceForward(weights, { inputIds: input, positionIds: input.map((_, i) => i), mask: causalMask(input.length) });
      const V = weights.spec.vocabSize;
      const last = out.logits.subarray((input.length - 1) * V, input.length * V);
      let best = 0;
      for (let i = 1; i < V; i++) if (last[i]! > last[best]!) best = i;
      row.divergence.reference = { oursFp32Token: last[fa]!, llamaToken: last[lb]!, argmax: text([best]), seconds: (performance.now() - t0) / 1000 };
    }
  }
  rows.push(row);
  log(`${JSON.stringify(row.prompt)}: common prefix with llama.cpp ${row.agree.ours}/${numTokens} (fp32 activations ${row.agree.oursFp32}/${numTokens})`);
}
await ours.dispose();
await oursFp32.dispose();
await llama.dispose();

const lines = [
  `| prompt | ours = llama.cpp | ours fp32 act = llama.cpp | first divergence (fp32 act vs llama.cpp) | float64 reference logits there |`,
  `|---|---:|---:|---|---|`,
  ...rows.map((r) => {
    const d = r.divergence;
    const ref = d?.reference;
    return `| ${r.prompt} | ${r.agree.ours}/${numTokens} | ${r.agree.oursFp32}/${numTokens} | ${d ? `step ${d.step}: ${JSON.stringify(d.oursFp32Token)} vs ${JSON.stringify(d.llamaToken)}` : "—"} | ${ref ? `${JSON.stringify(d!.oursFp32Token)} ${ref.oursFp32Token.toFixed(4)}, ${JSON.stringify(d!.llamaToken)} ${ref.llamaToken.toFixed(4)} (argmax ${JSON.stringify(ref.argmax)})` : "—"} |`;
  }),
];
process.stdout.write(`${lines.join("\n")}\n`);
if (outFile !== undefined) {
  await mkdir(join(outFile, ".."), { recursive: true });
  await writeFile(outFile, `${JSON.stringify({ preset: presetName, numTokens, rows }, null, 1)}\n`);
}
