import { DecoderModel } from "../../packages/core/src/decoder/DecoderModel.js";
import type { ChatPrompt, HeldoutText } from "./loadJsonl.js";
import type { ChatAgreement, ChatAnswer, ModelSpecArg, PerplexityResult } from "./types.js";

export const CHAT_MAX_TOKENS = 48;
export const CHAT_COMPARED_TOKENS = 24;
export const PPL_CHUNK_TOKENS = 1024;

export interface CheckRunOptions {
  readonly models: readonly ModelSpecArg[];
  readonly chatPrompts?: readonly ChatPrompt[];
  readonly heldoutTexts?: readonly HeldoutText[];
  readonly numThreads: number;
  /**
   * adapter_scale of the checks' prompts, none of which cites a document: 0 is what KvLinkEngine runs them with
   * under its default adapter policy ("documents"), 1 forces the adapter on ("always").
   */
  readonly adapterScale: number;
  readonly signal: AbortSignal;
  /** Filled as they come, so an interrupted run keeps what it did. */
  readonly chatAnswers: ChatAnswer[];
  readonly perplexity: PerplexityResult[];
  readonly onProgress?: (p: { model: string; check: "chat" | "ppl"; done: number }) => void;
}

/** Length of the common prefix of two id lists. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * Agreement of each model's chat answers with the reference model's: a prompt agrees when the first
 * `comparedTokens` generated ids (or the whole answers, when shorter) are identical.
 */
export function computeChatAgreement(
  answers: readonly ChatAnswer[],
  models: readonly string[],
  reference: string,
  comparedTokens = CHAT_COMPARED_TOKENS,
): ChatAgreement[] {
  const refByPrompt = new Map(answers.filter((a) => a.model === reference).map((a) => [a.promptId, a.tokenIds]));
  return models.map((model) => {
    const mine = answers.filter((a) => a.model === model && refByPrompt.has(a.promptId));
    let numAgreeing = 0;
    let prefixSum = 0;
    for (const a of mine) {
      const ref = refByPrompt.get(a.promptId)!;
      const x = a.tokenIds.slice(0, comparedTokens);
      const y = ref.slice(0, comparedTokens);
      if (x.length === y.length && commonPrefixLength(x, y) === x.length) numAgreeing++;
      prefixSum += commonPrefixLength(a.tokenIds, ref);
    }
    return {
      model,
      reference,
      numPrompts: mine.length,
      numAgreeing,
      agreement: mine.length === 0 ? Number.NaN : numAgreeing / mine.length,
      meanCommonPrefixTokens: mine.length === 0 ? Number.NaN : prefixSum / mine.length,
      comparedTokens,
    };
  });
}

/**
 * Summed negative log-likelihood of tokenIds[1..] given all logits [n, vocabSize] of one forward pass over tokenIds
 * (row i predicts token i+1), and the number of tokens scored (n - 1).
 */
export function chunkNll(logits: Float32Array, vocabSize: number, tokenIds: readonly number[]): { sumNll: number; numScored: number } {
  let sumNll = 0;
  for (let i = 0; i + 1 < tokenIds.length; i++) {
    const row = logits.subarray(i * vocabSize, (i + 1) * vocabSize);
    let max = -Infinity;
    for (let v = 0; v < vocabSize; v++) if (row[v]! > max) max = row[v]!;
    let sumExp = 0;
    for (let v = 0; v < vocabSize; v++) sumExp += Math.exp(row[v]! - max);
    sumNll += max + Math.log(sumExp) - row[tokenIds[i + 1]!]!;
  }
  return { sumNll, numScored: Math.max(0, tokenIds.length - 1) };
}

/** Chunks of at most `size` ids (each scored on its own: the first token of a chunk is context only). */
export function chunkIds(ids: readonly number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < ids.length; i += size) out.push(ids.slice(i, i + size));
  return out;
}

/** Chat answers (greedy, chat template, no system message) and full-attention perplexity, one model at a time. */
export async function runChecks(options: CheckRunOptions): Promise<void> {
  for (const model of options.models) {
    if (options.signal.aborted) return;
    await using decoder = await DecoderModel.load(model.dir, { numThreads: options.numThreads, adapterScale: options.adapterScale });
    for (const [i, p] of (options.chatPrompts ?? []).entries()) {
      if (options.signal.aborted) return;
      try {
        const result = await decoder
          .generate({ messages: [{ role: "user", content: p.prompt }], greedy: true, maxTokens: CHAT_MAX_TOKENS, signal: options.signal })
          .result();
        options.chatAnswers.push({ model: model.label, promptId: p.id, text: result.text, tokenIds: result.tokenIds });
      } catch (error) {
        if (options.signal.aborted) return;
        options.chatAnswers.push({ model: model.label, promptId: p.id, text: `[error] ${error instanceof Error ? error.name : "Error"}`, tokenIds: [] });
      }
      options.onProgress?.({ model: model.label, check: "chat", done: i + 1 });
    }
    const texts = options.heldoutTexts ?? [];
    if (texts.length === 0) continue;
    const chunkTokens = Math.min(PPL_CHUNK_TOKENS, decoder.spec.maxPositionEmbeddings);
    let sumNll = 0;
    let numScored = 0;
    for (const [i, t] of texts.entries()) {
      const ids = decoder.tokenizer.encode(t.text, { specialTokens: "text" });
      for (const chunk of chunkIds(ids, chunkTokens)) {
        if (chunk.length < 2) continue;
        if (options.signal.aborted) return;
        const out = await decoder.forward({ inputIds: chunk, numLogitsToKeep: 0 });
        const r = chunkNll(out.logits, out.vocabSize, chunk);
        sumNll += r.sumNll;
        numScored += r.numScored;
      }
      options.onProgress?.({ model: model.label, check: "ppl", done: i + 1 });
    }
    const meanNll = numScored === 0 ? Number.NaN : sumNll / numScored;
    options.perplexity.push({ model: model.label, numTexts: texts.length, numScoredTokens: numScored, meanNll, perplexity: Math.exp(meanNll), chunkTokens });
  }
}
