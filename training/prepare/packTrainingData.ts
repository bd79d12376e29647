/**
 * Packs the mixed training data for KVLink fine-tuning (training/kvlink_train/train.py), tokenized and laid out
 * exactly as the engine lays out prompts: the chat template rendered by buildPromptLayout, each document tokenized
 * alone through documentSegmentText, the question after the documents. Link tokens are inserted on the GPU side by
 * layout.py (the same rule as planLink; test/training/layout.test.ts proves it), so one pack serves every K.
 *
 *   npx tsx training/prepare/packTrainingData.ts [--out training/packed] [--seed 7] [--scale 1] [--mix kvlink|tools]
 *
 * Mixture (examples at --scale 1), all offline:
 *   qa-linked     synthetic (generator's train pools) + Wikipedia rule QA (train-split articles), 1–20 documents,
 *                 loss: CE on the gold reply, in the linked layout the engine uses for reuse;
 *   qa-full       the same kinds in the ordinary layout (full attention), so full mode learns the task too;
 *   distill       Wikipedia documents + open questions without gold: the base model with FULL attention writes the
 *                 answer (on the GPU), the linked student matches its distribution (KL) and its tokens;
 *   chat          template chat prompts, no documents: KL to the base model on its own greedy answers;
 *   text          kernel-doc passages (Debian linux-doc-6.1, GPL-2.0): KL to the base model on every token.
 * --mix tools (recipe 4: continues a trained adapter with train.py --init-adapter) adds tool calling, rendered as
 * ChatKVLink renders it (the adapter's toEngineConversation + withToolInstructions), from the train families of
 * eval/generators/toolCalls.ts (dev and test families are never trained on):
 *   tool-call     tools bound, a request one of them does: CE on `<tool_call>{"name", "arguments"}</tool_call>`;
 *   tool-answer   the call and its <tool_response> in the history: CE on a reply stating the result;
 *   tool-none     tools bound, a question none fits: KL to the base model on its own answer (text, no call);
 * and replays the kvlink mixture at half --scale, so reuse accuracy is kept.
 * Also writes dev.jsonl.gz (the committed dev split, for the ablation table — never trained on), meta.json (vocab,
 * eos, our ONNX engine's logits on a reference prompt) and tokenizer.json.
 */
import { mkdir, copyFile, writeFile } from "node:fs/promises";
import { createWriteStream, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createGzip } from "node:zlib";
import { DecoderModel } from "../../packages/core/src/decoder/DecoderModel.js";
import { buildPromptLayout, documentSegmentText } from "../../packages/core/src/link/buildPromptLayout.js";
import { resolveModel } from "../../packages/core/src/setup/resolveModel.js";
import { HfTokenizer } from "../../packages/core/src/tokenizer/HfTokenizer.js";
import type { Tokenizer } from "../../packages/core/src/tokenizer/Tokenizer.js";
import { ensureConvertedCopy } from "../../test/support/defaultModelFiles.js";
import { toEngineConversation } from "../../packages/langchain-adapter/src/messages.js";
import { formatToolCall, withToolInstructions } from "../../packages/langchain-adapter/src/tools.js";
import { generateToolCallRecords } from "../../eval/generators/toolCalls.js";
import { toolRecordMessages } from "../../eval/harness/toolRecordMessages.js";
import {
  generateChatPrompts,
  generateSyntheticExamples,
  generateWikiExamples,
  loadLinuxDocTexts,
  loadWikiArticles,
  mulberry32,
  wikiSplitOf,
  type Article,
  type QaRecord,
} from "../../eval/generators/index.js";

/** System prompts seen in training; undefined = none given (the chat template's default, as `kvlink ask` sends). */
const SYSTEMS: readonly (string | undefined)[] = [
  undefined,
  undefined,
  undefined,
  "Answer the question using the documents.",
  "You are a helpful assistant. Use the provided documents to answer the user's question.",
  "Answer briefly, based only on the documents.",
];

const OPEN_QUESTIONS: readonly ((t: string) => string)[] = [
  (t) => `What do the documents say about ${t}?`,
  (t) => `Give a one-sentence summary of the text about ${t}.`,
  (t) => `What is ${t}?`,
  (t) => `According to the documents, what is ${t} known for?`,
  (t) => `Tell me two facts about ${t} from the documents.`,
];

interface Packed {
  kind: "qa" | "distill" | "chat" | "text";
  layout: "linked" | "full";
  prefix: number[];
  docs: number[][];
  suffix: number[];
  response: number[] | null;
  ce: number;
  kl: number;
  max_new: number;
}

function parseArgs(argv: string[]): { out: string; seed: number; scale: number; mix: "kvlink" | "tools" } {
  const get = (name: string, fallback: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  const mix = get("mix", "kvlink");
  if (mix !== "kvlink" && mix !== "tools") throw new Error(`--mix must be kvlink or tools, got ${mix}`);
  return { out: resolve(get("out", "training/packed")), seed: Number(get("seed", "7")), scale: Number(get("scale", "1")), mix };
}

/** The prompt as the engine lays it out: [prefix text, documents, suffix text]. */
function promptPieces(
  tok: Tokenizer,
  request: { system?: string; documents: readonly string[]; question?: string; messages?: readonly { role: string; content: string }[] },
): { prefix: number[]; docs: number[][]; suffix: number[] } {
  const docs = request.documents.map((text, i) => ({ key: `d${i}`, tokenIds: tok.encode(documentSegmentText(text), { specialTokens: "text" }) }));
  const pieces = buildPromptLayout(tok, {
    ...(request.system !== undefined && { system: request.system }),
    ...(request.question !== undefined && { question: request.question }),
    ...(request.messages !== undefined && { messages: request.messages as never }),
    documents: docs,
  });
  const texts = pieces.filter((p) => p.kind === "text");
  const docPiece = pieces.find((p) => p.kind === "documents");
  if (docs.length > 0 && (pieces.length !== 3 || pieces[0]!.kind !== "text" || docPiece === undefined || pieces[2]!.kind !== "text")) {
    throw new Error(`unexpected layout: ${pieces.map((p) => p.kind).join(", ")}`);
  }
  if (docs.length === 0) return { prefix: texts.flatMap((p) => (p.kind === "text" ? [...p.tokenIds] : [])), docs: [], suffix: [] };
  const prefix = pieces[0]!.kind === "text" ? [...pieces[0]!.tokenIds] : [];
  const suffix = pieces[2]!.kind === "text" ? [...pieces[2]!.tokenIds] : [];
  return { prefix, docs: docs.map((d) => [...d.tokenIds]), suffix };
}

async function writeJsonlGz(path: string, rows: readonly unknown[]): Promise<void> {
  const gz = createGzip({ level: 9 });
  const file = createWriteStream(path);
  gz.pipe(file);
  for (const r of rows) if (!gz.write(`${JSON.stringify(r)}\n`)) await new Promise((res) => gz.once("drain", res));
  gz.end();
  await new Promise<void>((res, rej) => file.on("finish", () => res()).on("error", rej));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const rng = mulberry32(args.seed);
  // --mix tools replays the kvlink mixture at half the scale next to the tool-calling data.
  const n = (count: number): number => Math.round(count * args.scale * (args.mix === "tools" ? 0.5 : 1));
  // The BASE model (no adapter): its tokenizer and its logits on the reference prompt, which train.py checks the
  // dequantized PyTorch model against before training.
  const modelDir = await resolveModel("smollm2-135m-instruct-base");
  const tok = await HfTokenizer.load(modelDir);
  const imEnd = tok.eosTokenIds[0]!;
  const log = (msg: string): void => void process.stderr.write(`[pack] ${msg}\n`);
  const articles: Article[] = await loadWikiArticles();
  const trainArticles = articles.filter((a) => wikiSplitOf(a.title) === "train");
  const system = (): string | undefined => SYSTEMS[Math.floor(rng() * SYSTEMS.length)];
  const reply = (text: string): number[] => [...tok.encode(text, { specialTokens: "text" }), imEnd];
  const out: Packed[] = [];

  // qa: generated + Wikipedia rule QA with gold replies; most linked, some full.
  const qa = [
    ...generateSyntheticExamples({ seed: args.seed * 1000 + 1, count: n(4800), minDocs: 1, maxDocs: 15, twoHopFraction: 0.5 }),
    ...generateWikiExamples({ seed: args.seed * 1000 + 2, count: n(3600), articles, minDocs: 1, maxDocs: 16 }),
  ];
  for (const ex of qa) {
    const pieces = promptPieces(tok, { ...optional(system()), documents: ex.documents, question: ex.question });
    const layout = rng() < 0.14 ? "full" : "linked";
    out.push({ kind: "qa", layout, ...pieces, response: reply(ex.response), ce: 1, kl: 0, max_new: 0 });
  }
  log(`qa ${qa.length}`);

  // distill: open questions over Wikipedia train articles; the teacher (base, full attention) answers on the GPU.
  for (let i = 0; i < n(1400); i++) {
    const k = 2 + Math.floor(rng() * 7);
    const docs = Array.from({ length: k }, () => trainArticles[Math.floor(rng() * trainArticles.length)]!);
    const about = docs[Math.floor(rng() * k)]!;
    const question = OPEN_QUESTIONS[Math.floor(rng() * OPEN_QUESTIONS.length)]!(about.title);
    const pieces = promptPieces(tok, { ...optional(system()), documents: docs.map(articleText), question });
    out.push({ kind: "distill", layout: "linked", ...pieces, response: null, ce: 0.5, kl: 1, max_new: 48 });
  }
  // chat: no documents, KL to the base on its own answers. The engine runs prompts without documents on the base
  // weights (adapter scale 0), so this only limits drift where the adapter is forced on: fewer than in recipe 1.
  for (const prompt of generateChatPrompts({ seed: args.seed * 1000 + 3, count: n(600), articles })) {
    const pieces = promptPieces(tok, { question: prompt, documents: [] });
    out.push({ kind: "chat", layout: "full", ...pieces, response: null, ce: 0.3, kl: 1, max_new: 64 });
  }
  // text: plain continuation with full attention (perplexity kept).
  const texts = await loadLinuxDocTexts();
  for (const t of texts.slice(0, n(800))) {
    const ids = tok.encode(t.text, { specialTokens: "text" }).slice(0, 384);
    if (ids.length < 32) continue;
    out.push({ kind: "text", layout: "full", prefix: ids, docs: [], suffix: [], response: null, ce: 0, kl: 1, max_new: 0 });
  }
  if (args.mix === "tools") {
    const records = generateToolCallRecords({ seed: args.seed * 1000 + 5, split: "train", count: Math.round(4000 * args.scale) });
    for (const r of records) {
      const conversation = toEngineConversation(toolRecordMessages(r), undefined, "packTrainingData");
      const messages = withToolInstructions(conversation.messages, r.tools);
      const pieces = promptPieces(tok, { documents: [], messages });
      if (r.kind === "call") out.push({ kind: "qa", layout: "full", ...pieces, response: reply(formatToolCall(r.call!)), ce: 1, kl: 0, max_new: 0 });
      else if (r.kind === "answer") out.push({ kind: "qa", layout: "full", ...pieces, response: reply(r.reply!), ce: 1, kl: 0, max_new: 0 });
      else out.push({ kind: "chat", layout: "full", ...pieces, response: null, ce: 0.3, kl: 1, max_new: 64 });
    }
    log(`tools ${records.length} (${records.filter((r) => r.kind === "call").length} call, ${records.filter((r) => r.kind === "answer").length} answer, ${records.filter((r) => r.kind === "no_call").length} none)`);
  }
  log(`total ${out.length} (${count(out, "qa")} qa, ${count(out, "distill")} distill, ${count(out, "chat")} chat, ${count(out, "text")} text)`);

  // dev: the committed dev split of the harness's QA sets (ablation table only).
  const dev = ["eval/datasets/synthetic.jsonl", "eval/datasets/wiki.jsonl"].flatMap((file) =>
    readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as QaRecord)
      .filter((r) => r.split === "dev")
      .map((r) => ({ id: r.id, dataset: r.dataset, kind: r.kind, answer: r.answer, ...promptPieces(tok, { documents: r.documents, question: r.question }) })),
  );

  await mkdir(args.out, { recursive: true });
  await writeJsonlGz(join(args.out, "train.jsonl.gz"), shuffle(out, rng));
  await writeJsonlGz(join(args.out, "dev.jsonl.gz"), dev);
  await copyFile(join(modelDir, "tokenizer.json"), join(args.out, "tokenizer.json"));

  // A reference prompt: our ONNX engine's top logits, for train.py to check it loaded the same model. They come
  // from an fp32-activation build of the base: train.py dequantizes to fp32, and the default q4 build's int8
  // activations and 8-bit head move the top logits by up to 0.25, over train.py's 0.02 bound.
  const referenceDir = await ensureConvertedCopy({ signature: "kvlink", quant: "q4", fp32Activations: true });
  await using model = await DecoderModel.load(referenceDir, { numThreads: 2 });
  const ref = promptPieces(tok, { documents: ["The Harrow Point lighthouse was built in 1871 by the engineer Agnes Morrow."], question: "Who built the Harrow Point lighthouse?" });
  const refIds = [...ref.prefix, ...ref.docs.flat(), ...ref.suffix];
  const fwd = await model.forward({ inputIds: refIds, numLogitsToKeep: 1 });
  const top = [...fwd.logits.keys()].sort((a, b) => fwd.logits[b]! - fwd.logits[a]!).slice(0, 20);
  await writeFile(
    join(args.out, "meta.json"),
    `${JSON.stringify({ vocabSize: model.spec.vocabSize, eosTokenId: imEnd, seed: args.seed, scale: args.scale, mix: args.mix, numTrain: out.length, numDev: dev.length, reference: { ids: refIds, topIds: top, topLogits: top.map((i) => fwd.logits[i]) } }, null, 1)}\n`,
  );
  log(`wrote ${args.out} (dev ${dev.length})`);
}

function articleText(a: Article): string {
  const words = a.extract.split(/\s+/u);
  return `${a.title}\n${words.slice(0, 140).join(" ")}`;
}

function optional(system: string | undefined): { system?: string } {
  return system === undefined ? {} : { system };
}

function count(rows: readonly Packed[], kind: Packed["kind"]): number {
  return rows.filter((r) => r.kind === kind).length;
}

function shuffle<T>(items: readonly T[], rng: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

await main();
