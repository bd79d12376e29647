import { Document } from "@langchain/core/documents";
import { InvalidInputError, KvLinkEngine, silentLogger, type CacheKeyString, type Logger } from "@kvlink/core";
import { ChatKVLink, KVLinkRetriever } from "@kvlink/langchain";
import { buildCorpus, type CorpusDocument } from "./corpus/buildCorpus.js";
import { summarizeTurns, type AgentSummary } from "./report/summarizeTurns.js";
import { Bm25Retriever } from "./retrieval/Bm25Retriever.js";
import type { AgentName } from "./workflow/agentPrompts.js";
import { buildWorkflow, type AgentTurn } from "./workflow/buildWorkflow.js";

export interface RunAgentsOptions {
  readonly corpusDir: string;
  readonly questions: readonly string[];
  /** A model preset, folder or .gguf (default: the default preset). */
  readonly model?: string;
  readonly numThreads?: number;
  /** The document-cache store; undefined = none (documents are computed in this process only). */
  readonly storeUrl?: string;
  readonly namespace?: string;
  /** Full prefill for every call (mode "full"): the baseline; no document is cached or reused. */
  readonly noCache?: boolean;
  /** Precompute every corpus document before the questions ("all", default) or as agents first read them ("none"). */
  readonly precompute?: "all" | "none";
  readonly maxDocTokens?: number;
  /** Folders of the corpus to leave out (relative paths). */
  readonly exclude?: readonly string[];
  /** Documents per retrieval. Default 3. */
  readonly k?: number;
  readonly logger?: Logger;
  readonly onCorpusProgress?: (p: { readonly done: number; readonly total: number }) => void;
  readonly onPrecomputeProgress?: (p: { readonly done: number; readonly total: number; readonly numTokens: number }) => void;
  readonly onToken?: (agent: AgentName, piece: string) => void;
  readonly onTurn?: (event: { readonly agent: AgentName; readonly phase: "start" | "end"; readonly turn?: AgentTurn; readonly questionIndex: number }) => void;
  readonly signal?: AbortSignal;
}

export interface RunAgentsResult {
  readonly corpus: { readonly dir: string; readonly documents: number; readonly tokens: number; readonly declarations: number; readonly markdown: number };
  readonly precompute: { readonly documents: number; readonly computed: number; readonly fromStore: number; readonly seconds: number } | undefined;
  readonly answers: readonly { readonly question: string; readonly answer: string; readonly turns: readonly AgentTurn[] }[];
  readonly agents: readonly AgentSummary[];
  readonly mode: "kvlink" | "full";
  readonly store: {
    readonly url: string;
    /** Entries this process loaded from the store (computed by another process or an earlier run). */
    readonly entriesLoaded: number;
    readonly entriesComputed: number;
    /** Misses that waited for another process's computation of the same document. */
    readonly waitedForOthers: number;
  } | undefined;
  readonly seconds: number;
}

/**
 * Runs the agents over a corpus: builds the documents (ts-morph + markdown), optionally precomputes their caches,
 * then answers each question with the supervisor/researcher/reviewer/writer workflow, every model call through
 * ChatKVLink and every retrieval through KVLinkRetriever over BM25.
 */
export async function runAgents(options: RunAgentsOptions): Promise<RunAgentsResult> {
  if (options.questions.length === 0) throw new InvalidInputError("give at least one question");
  for (const q of options.questions) if (typeof q !== "string" || q.trim() === "") throw new InvalidInputError("a question must be a non-empty string");
  const t0 = performance.now();
  const noCache = options.noCache === true;
  await using engine = await KvLinkEngine.create({
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(options.numThreads !== undefined ? { numThreads: options.numThreads } : {}),
    ...(options.storeUrl !== undefined && !noCache ? { storeUrl: options.storeUrl, namespace: options.namespace ?? "agents" } : {}),
    // Resident document caches are fp32 (~46 KB per token on the default model): bound them, the store has the rest.
    documentCacheBytes: 512 * 1024 ** 2,
    logger: options.logger ?? silentLogger,
  });
  const corpus = await buildCorpus(options.corpusDir, {
    maxDocTokens: options.maxDocTokens ?? 256,
    countTokens: (text) => engine.countTokens(text),
    ...(options.exclude !== undefined ? { exclude: options.exclude } : {}),
    ...(options.onCorpusProgress !== undefined ? { onFile: options.onCorpusProgress } : {}),
  });
  if (corpus.length === 0) throw new InvalidInputError(`no TypeScript declarations or markdown found in ${options.corpusDir}`, { details: { dir: options.corpusDir } });

  let precompute: RunAgentsResult["precompute"];
  if (!noCache && (options.precompute ?? "all") === "all") {
    const tp = performance.now();
    // Documents already in the store are not loaded now (an index read each): calls load them when they need them.
    const store = engine.store;
    const stored = store === undefined ? corpus.map(() => false) : await Promise.all(corpus.map((d) => store.has(engine.documentKey(d.text) as CacheKeyString)));
    const missing = corpus.filter((_, i) => !stored[i]);
    const results = await engine.precompute(missing.map((d) => ({ id: d.id, text: d.text })), {
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.onPrecomputeProgress !== undefined ? { onProgress: options.onPrecomputeProgress } : {}),
    });
    precompute = {
      documents: corpus.length,
      computed: results.filter((r) => r.source === "computed").length,
      fromStore: corpus.length - missing.length + results.filter((r) => r.source === "store").length,
      seconds: (performance.now() - tp) / 1000,
    };
  }

  const model = new ChatKVLink({ engine, greedy: true, ...(noCache ? { mode: "full" as const } : {}) });
  const bm25 = new Bm25Retriever({ documents: corpus.map(toDocument), k: options.k ?? 3 });
  // warm: false, so each model call computes its own misses and reports them (no background warm-up to hide cost).
  const retriever = new KVLinkRetriever({ retriever: bm25, engine, warm: false });
  const answers: { question: string; answer: string; turns: AgentTurn[] }[] = [];
  for (const [questionIndex, question] of options.questions.entries()) {
    const workflow = buildWorkflow({
      model, retriever, countTokens: (text) => engine.countTokens(text),
      ...(options.onToken !== undefined ? { onToken: options.onToken } : {}),
      ...(options.onTurn !== undefined ? { onTurn: (e) => options.onTurn!({ ...e, questionIndex }) } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
    const state = await workflow.invoke({ question }, options.signal === undefined ? {} : { signal: options.signal });
    answers.push({ question, answer: state.answer ?? "", turns: state.turns });
  }
  const stats = engine.store?.stats();
  return {
    corpus: {
      dir: options.corpusDir,
      documents: corpus.length,
      tokens: corpus.reduce((s, d) => s + d.numTokens, 0),
      declarations: corpus.filter((d) => d.kind === "declaration").length,
      markdown: corpus.filter((d) => d.kind === "markdown").length,
    },
    precompute,
    answers,
    agents: summarizeTurns(answers.flatMap((a) => a.turns)),
    mode: noCache ? "full" : "kvlink",
    store: stats === undefined || engine.store === undefined ? undefined : {
      url: (engine.store as { url?: string }).url ?? "",
      entriesLoaded: stats.hits.store,
      entriesComputed: stats.computed,
      waitedForOthers: stats.leaseWaits,
    },
    seconds: (performance.now() - t0) / 1000,
  };
}

function toDocument(doc: CorpusDocument): Document {
  return new Document({ pageContent: doc.text, metadata: { id: doc.id, path: doc.path, kind: doc.kind, title: doc.title }, id: doc.id });
}
