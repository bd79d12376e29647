import { createHash } from "node:crypto";
import { setImmediate as nextTick } from "node:timers/promises";
import type {
  KvLinkDocumentInput,
  KvLinkEngineLike,
  KvLinkGenerateRequest,
  KvLinkGenerationResult,
  KvLinkGenerationStream,
  KvLinkPrecomputeResult,
} from "../../../packages/langchain-adapter/src/engine.js";

export interface FakeEngineOptions {
  /** The answer text for a request. Default: "echo: " + the last user message (or question). */
  readonly respond?: (request: KvLinkGenerateRequest) => string;
  /** Characters per streamed piece. Default 3. */
  readonly pieceSize?: number;
  /** Makes precompute fail (to test warm-up error handling). */
  readonly failPrecompute?: boolean;
}

/**
 * A deterministic in-test engine: answers are computed from the request, streamed in fixed-size pieces, and a
 * per-engine document cache (token = whitespace-separated word) yields real reuse counts.
 */
export class FakeKvLinkEngine implements KvLinkEngineLike {
  readonly requests: KvLinkGenerateRequest[] = [];
  readonly precomputeCalls: (string | KvLinkDocumentInput)[][] = [];
  readonly #cache = new Set<string>();
  readonly #options: FakeEngineOptions;
  #gate: Promise<void> | undefined;

  constructor(options: FakeEngineOptions = {}) {
    this.#options = options;
  }

  documentKey(text: string): string {
    return `fake:${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
  }

  hasCached(text: string): boolean {
    return this.#cache.has(this.documentKey(text));
  }

  /** Makes precompute calls wait until the returned function is called. */
  holdPrecompute(): () => void {
    let release!: () => void;
    this.#gate = new Promise<void>((resolve) => (release = resolve));
    return release;
  }

  async precompute(documents: readonly (string | KvLinkDocumentInput)[]): Promise<KvLinkPrecomputeResult[]> {
    this.precomputeCalls.push([...documents]);
    await nextTick();
    await this.#gate;
    if (this.#options.failPrecompute === true) throw new Error("fake precompute failure");
    return documents.map((doc) => {
      const text = typeof doc === "string" ? doc : doc.text;
      const key = this.documentKey(text);
      const source = this.#cache.has(key) ? ("memory" as const) : ("computed" as const);
      this.#cache.add(key);
      return { key, numTokens: countWords(text), source };
    });
  }

  generate(request: KvLinkGenerateRequest): KvLinkGenerationStream {
    this.requests.push(request);
    let docTokensReused = 0;
    let docTokensComputed = 0;
    for (const doc of request.documents ?? []) {
      const text = typeof doc === "string" ? doc : doc.text;
      const key = this.documentKey(text);
      if (this.#cache.has(key) && request.mode !== "full") docTokensReused += countWords(text);
      else docTokensComputed += countWords(text);
      this.#cache.add(key);
    }
    let text = (this.#options.respond ?? echo)(request);
    let finishReason: KvLinkGenerationResult["finishReason"] = "stop";
    for (const stop of request.stop ?? []) {
      const at = text.indexOf(stop);
      if (at !== -1) text = text.slice(0, at);
    }
    if (request.maxTokens !== undefined && countWords(text) > request.maxTokens) {
      text = text.split(" ").slice(0, request.maxTokens).join(" ");
      finishReason = "length";
    }
    const prompt = [request.system ?? "", request.question ?? "", ...(request.messages ?? []).map((m) => m.content)].join(" ");
    const freshTokens = countWords(prompt);
    const result: KvLinkGenerationResult = {
      text,
      tokenIds: text.split(" ").map((_, i) => i),
      finishReason,
      stats: {
        mode: request.mode ?? "kvlink",
        ttftMs: 1,
        docTokensReused,
        docTokensComputed,
        freshTokens,
        promptPositions: freshTokens + docTokensReused + docTokensComputed,
        numGeneratedTokens: countWords(text),
        tokensPerSecond: 100,
        phases: { tokenizeMs: 0, documentsMs: 0, linkMs: 0, prefillMs: 0, decodeMs: 0 },
      },
    };
    const pieceSize = this.#options.pieceSize ?? 3;
    const signal = request.signal;
    return {
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < text.length; i += pieceSize) {
          signal?.throwIfAborted();
          await nextTick();
          yield text.slice(i, i + pieceSize);
        }
      },
      result: async () => result,
    };
  }
}

function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => w.length > 0).length;
}

function echo(request: KvLinkGenerateRequest): string {
  const users = (request.messages ?? []).filter((m) => m.role === "user");
  return `echo: ${users[users.length - 1]?.content ?? request.question ?? ""}`;
}
