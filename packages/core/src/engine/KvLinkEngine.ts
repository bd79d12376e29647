import { createHash } from "node:crypto";
import { join } from "node:path";
import { z } from "zod";
import { ConfigError, ContextOverflowError, DisposedError, InvalidInputError } from "../errors/KvLinkError.js";
import { createResponseConstraint, parseResponseFormat, responseFormatProgram } from "../generate/constrain/responseFormat.js";
import type { LogitsConstraint } from "../generate/LogitsConstraint.js";
import { ADAPTER_POLICIES, adapterScaleFor, DEFAULT_ADAPTER_TASKS, type AdapterPolicy } from "./adapterPolicy.js";
import type { AdapterTask } from "../model/modelFolder.js";
import { providerSettingsOf } from "../runtime/executionProvider.js";
import { parseSamplingOptions } from "../generate/SamplingOptionsSchema.js";
import { runDecodeLoop, type DecodeFinishReason } from "../generate/runDecodeLoop.js";
import { buildPositionMask } from "../link/buildAttentionMask.js";
import { buildPromptLayout, documentSegmentText } from "../link/buildPromptLayout.js";
import { cachedTokenPositions, LINK_MODES, planLink, type LinkMode, type LinkPlan, type LinkTokenConfig } from "../link/LinkPlan.js";
import type { DocumentKvCache, ModelFingerprint } from "../kv/DocumentKvCache.js";
import { computeModelFingerprint } from "../model/modelFingerprint.js";
import type { ModelSpec } from "../model/ModelSpec.js";
import { readModelFolder, type ModelFolder } from "../model/modelFolder.js";
import { assertRopeRerotatable } from "../rope/assertRopeRerotatable.js";
import type { ExecutionProvider, ForwardArgs, KvBlock, Runtime, SequenceId } from "../runtime/Runtime.js";
import type { KvCacheStore } from "../store/KvCacheStore.js";
import { KeyvKvCacheStore } from "../store/KeyvKvCacheStore.js";
import { KV_CACHE_DTYPES, type KvCacheDtype } from "../store/codec/kvFormat.js";
import { computeCacheKey } from "../store/cacheKey.js";
import { resolveModel } from "../setup/resolveModel.js";
import { sha256FilesCached } from "../setup/sha256FilesCached.js";
import type { Tokenizer } from "../tokenizer/Tokenizer.js";
import { silentLogger, type Logger } from "../util/Logger.js";
import { DecoderModel } from "../decoder/DecoderModel.js";
import { GenerationStream } from "../decoder/GenerationStream.js";
import { assertRequest, GenerateRequestSchema, PrecomputeArgsSchema } from "./requestSchemas.js";
import type {
  DocumentInput,
  FinishReason,
  GenerateRequest,
  GenerationResult,
  GenerationStats,
  PrecomputeResult,
} from "./types.js";

export const EngineOptionsSchema = z.strictObject({
  /** A preset name (MODEL_PRESETS), a model folder or a .gguf file; absent = the default preset (set up on first use). */
  model: z.string().min(1).optional(),
  executionProvider: z.string().default("cpu"),
  /** GPU ordinal for the cuda provider. */
  deviceId: z.number().int().nonnegative().optional(),
  /** cuda only: false = full fp32 cuBLAS math (NVIDIA_TF32_OVERRIDE=0, process-wide); default ORT's TF32. */
  tf32: z.boolean().optional(),
  numThreads: z.number().int().positive().optional(),
  /** Run ONNX Runtime on the calling thread (tests, tools); default false = a worker thread. */
  inProcess: z.boolean().default(false),
  /** Default linking mode of generate(). */
  mode: z.enum(LINK_MODES as [LinkMode, ...LinkMode[]]).default("kvlink"),
  /** Bytes of document caches the runtime keeps in memory (fp32; fp16 for float16-past graphs), least recently used evicted. */
  documentCacheBytes: z.number().int().positive().default(2 * 1024 ** 3),
  /**
   * Threads that copy and re-rotate document caches into a prompt's KV slots (helper threads beside the inference
   * worker, on shared memory); default min(cores, 8); 1 = the inference worker alone.
   */
  placementThreads: z.number().int().positive().optional(),
  /** KVLINK_HOME for the default model. */
  home: z.string().optional(),
  /**
   * Open a document-cache store the engine owns (memory://, sqlite://<path>, redis://host:port): made after the
   * model fingerprint is known, disposed with the engine. Not together with `store`.
   */
  storeUrl: z.string().min(1).optional(),
  /** Tenant namespace of the `storeUrl` store. */
  namespace: z.string().default("default"),
  /** Secret of the `storeUrl` store (≥ 16 characters): entries are HMAC-tagged, untagged or forged ones are misses. */
  storeSecret: z.string().min(16).optional(),
  /** Storage precision of the `storeUrl` store. */
  storeDtype: z.enum(KV_CACHE_DTYPES as unknown as [KvCacheDtype, ...KvCacheDtype[]]).default("fp16"),
  /**
   * How documents are encoded. "none" (default, KVLink's rule): each document alone from position 0. "template":
   * after the chat template's opening (system turn and user header, as the default prompt renders it), whose KV is
   * not stored: the document's tokens were computed after a real attention sink, "in distribution", and are
   * rotated from there to their global positions. A training-free option; it changes the cache bytes, so it is part
   * of the engine's fingerprint (and of every cache key).
   */
  documentPrefix: z.enum(["none", "template"]).default("none"),
  /**
   * Where a model's LoRA adapter (the KVLink fine-tune) runs. "documents" (default): in the prompts it was trained
   * for (kvlink.json adapterTasks): those that cite at least one document, document encoding, and, for an adapter
   * trained on tool calls, prompts with bound tools (responseFormat `tool_calls`); any other prompt runs the base
   * weights exactly (the graph's adapter_scale = 0), so ordinary chat is the base model's. "always": in every
   * prompt. Document caches are the same bytes either way. No effect on models without an adapter.
   */
  adapter: z.enum(ADAPTER_POLICIES).default("documents"),
});
export type EngineOptionsInput = z.input<typeof EngineOptionsSchema> & {
  readonly logger?: Logger;
  /** A persistent document-cache store (memory, sqlite, redis); documents found there are not recomputed. */
  readonly store?: KvCacheStore;
  readonly onSetupProgress?: (p: { phase: string; done: number; total: number }) => void;
};

/** A prompt laid out and prefilled, without generation (see KvLinkEngine.linkPrompt). */
export interface LinkedPrompt {
  readonly plan: LinkPlan;
  /** Logits of the next token [vocabSize]. */
  readonly logits: Float32Array;
  /** Token ids of each document in the request, by cache key. */
  readonly documentTokenIds: ReadonlyMap<string, readonly number[]>;
  readonly linkMs: number;
  readonly docTokensComputedNow: number;
}

const MAX_REMEMBERED_DOCUMENTS = 4096;

interface DocumentEntry {
  readonly key: string;
  readonly tokenIds: readonly number[];
}

/**
 * KVLink over one decoder model: documents are encoded once, independently, and reused in every prompt that
 * cites them (re-rotated to their global positions, with link tokens computed fresh per query).
 *
 * Data flows: text → tokenizer → layout (link/) → runtime (worker: KV slots, document caches, forward passes)
 * → sampler → text. The optional store persists document caches across processes.
 */
export class KvLinkEngine implements AsyncDisposable {
  readonly spec: ModelSpec;
  readonly tokenizer: Tokenizer;
  readonly links: LinkTokenConfig;
  readonly fingerprint: ModelFingerprint;
  readonly modelDir: string;
  readonly #model: DecoderModel;
  readonly #runtime: Runtime;
  readonly #store: KvCacheStore | undefined;
  readonly #ownsStore: boolean;
  readonly #logger: Logger;
  readonly #defaultMode: LinkMode;
  /** Tokens every document is encoded after (documentPrefix "template"), empty for "none". */
  readonly #documentPrefixIds: readonly number[];
  /** EngineOptions.adapter: where LoRA branches run. */
  readonly #adapter: AdapterPolicy;
  /** kvlink.json adapterTasks: what the model's adapter was trained for. */
  readonly #adapterTasks: readonly AdapterTask[];
  readonly #inflight = new Map<string, Promise<"memory" | "store" | "computed">>();
  /** Document text → tokens and key, least recently used first (tokenizing 5k tokens costs ~40 ms per request). */
  readonly #textToEntry = new Map<string, DocumentEntry>();
  #disposing: Promise<void> | undefined;

  private constructor(init: {
    spec: ModelSpec;
    tokenizer: Tokenizer;
    links: LinkTokenConfig;
    fingerprint: ModelFingerprint;
    modelDir: string;
    model: DecoderModel;
    store: KvCacheStore | undefined;
    ownsStore: boolean;
    logger: Logger;
    mode: LinkMode;
    documentPrefixIds: readonly number[];
    adapter: AdapterPolicy;
    adapterTasks: readonly AdapterTask[];
  }) {
    this.spec = init.spec;
    this.tokenizer = init.tokenizer;
    this.links = init.links;
    this.fingerprint = init.fingerprint;
    this.modelDir = init.modelDir;
    this.#model = init.model;
    this.#runtime = init.model.runtime;
    this.#store = init.store;
    this.#ownsStore = init.ownsStore;
    this.#logger = init.logger;
    this.#defaultMode = init.mode;
    this.#documentPrefixIds = init.documentPrefixIds;
    this.#adapter = init.adapter;
    this.#adapterTasks = init.adapterTasks;
  }

  static async create(input: EngineOptionsInput = {}): Promise<KvLinkEngine> {
    const { logger = silentLogger, store, onSetupProgress, ...rest } = input;
    const parsed = EngineOptionsSchema.safeParse(rest);
    if (!parsed.success) throw new ConfigError(`invalid engine options: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
    const options = parsed.data;
    if (store !== undefined && options.storeUrl !== undefined) throw new ConfigError("give either `store` or `storeUrl`, not both");
    const modelDir = await resolveModel(options.model, {
      ...(options.home ? { home: options.home } : {}),
      ...(onSetupProgress ? { onProgress: onSetupProgress } : {}),
      logger,
    });
    // The engine composes the decoder: DecoderModel.load reads the folder, checks the tokenizer against it and
    // starts the runtime.
    const providerSettings = providerSettingsOf(options);
    const model = await DecoderModel.load(modelDir, {
      executionProvider: options.executionProvider as ExecutionProvider,
      ...(providerSettings !== undefined ? { providerSettings } : {}),
      ...(options.numThreads ? { numThreads: options.numThreads } : {}),
      inProcess: options.inProcess,
      documentCacheBytes: options.documentCacheBytes,
      ...(options.placementThreads !== undefined ? { placementThreads: options.placementThreads } : {}),
      logger,
    });
    const { folder, tokenizer } = model;
    let ownedStore: KvCacheStore | undefined;
    let fingerprint: ModelFingerprint;
    let documentPrefixIds: readonly number[];
    try {
      assertRopeRerotatable(folder.spec.rope);
      documentPrefixIds = options.documentPrefix === "template" ? templatePrefixIds(tokenizer) : [];
      fingerprint = withDocumentPrefix(await fingerprintOf(folder), documentPrefixIds);
      if (store !== undefined && store.fingerprint !== fingerprint) {
        // Keys come from the store: another fingerprint (another model, or documentPrefix) would mix caches.
        throw new ConfigError(
          `the given store belongs to fingerprint ${store.fingerprint}, this engine computes ${fingerprint} (model${documentPrefixIds.length > 0 ? " + documentPrefix" : ""}); open the store with engine.fingerprint or pass storeUrl`,
          { details: { storeFingerprint: store.fingerprint, engineFingerprint: fingerprint } },
        );
      }
      ownedStore =
        options.storeUrl === undefined
          ? undefined
          : await KeyvKvCacheStore.create({
              fingerprint,
              namespace: options.namespace,
              url: options.storeUrl,
              dtype: options.storeDtype,
              ...(options.storeSecret !== undefined && { secret: options.storeSecret }),
              geometry: { numLayers: folder.spec.numLayers, numKvHeads: folder.spec.numKvHeads, headDim: folder.spec.headDim },
              // The runtime keeps resident document caches itself; a second in-process copy would only cost memory.
              lruBytes: 0,
              logger,
            });
    } catch (error) {
      await model.dispose();
      throw error;
    }
    const runtime = model.runtime;
    const kv = folder.kvlinkConfig;
    const links: LinkTokenConfig = {
      numLinkTokens: kv.numLinkTokens,
      linkTokenIds: kv.linkTokenIds,
      ...(kv.memStartTokenId !== undefined ? { memStartTokenId: kv.memStartTokenId } : {}),
      ...(kv.memEndTokenId !== undefined ? { memEndTokenId: kv.memEndTokenId } : {}),
    };
    logger.info({ modelDir, signature: runtime.info.signature, numLinkTokens: links.numLinkTokens }, "engine ready");
    return new KvLinkEngine({
      spec: folder.spec, tokenizer, links, fingerprint, modelDir, model, store: ownedStore ?? store, ownsStore: ownedStore !== undefined, logger, mode: options.mode,
      documentPrefixIds,
      adapter: options.adapter,
      adapterTasks: kv.adapterTasks ?? DEFAULT_ADAPTER_TASKS,
    });
  }

  get signature(): "kvlink" | "standard" {
    return this.#runtime.info.signature;
  }
  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  /** The document-cache store in use (given as `store` or opened from `storeUrl`), if any. */
  get store(): KvCacheStore | undefined {
    return this.#store;
  }

  /** Token count of a text as a document would be tokenized. */
  countTokens(text: string): number {
    return this.#documentEntry(text).tokenIds.length;
  }

  /** The cache key a document text maps to (model fingerprint + the document's token ids). */
  documentKey(text: string): string {
    return this.#documentEntry(text).key;
  }

  /** Computes (or finds) the caches of these documents, so later prompts reuse them. */
  async precompute(
    documents: readonly (string | DocumentInput)[],
    options: {
      signal?: AbortSignal;
      onProgress?: (p: { done: number; total: number; numTokens: number }) => void;
      /** A document resident in this process but missing from the store (a write lost in an outage) is stored again. */
      verifyStored?: boolean;
    } = {},
  ): Promise<PrecomputeResult[]> {
    this.#ensureNotDisposed();
    assertRequest(PrecomputeArgsSchema, { documents, options }, "precompute arguments");
    const results: PrecomputeResult[] = [];
    for (const [i, doc] of documents.entries()) {
      options.signal?.throwIfAborted();
      const entry = this.#documentEntry(typeof doc === "string" ? doc : doc.text);
      let source = await this.#ensureDocument(entry);
      if (options.verifyStored === true && source === "memory" && this.#store !== undefined && !(await this.#store.has(entry.tokenIds))) {
        source = await this.#storeAgain(this.#store, entry);
      }
      results.push({ key: entry.key, numTokens: entry.tokenIds.length, source });
      try {
        options.onProgress?.({ done: i + 1, total: documents.length, numTokens: entry.tokenIds.length });
      } catch (error) {
        this.#logger.warn({ err: error }, "onProgress callback threw");
      }
    }
    return results;
  }

  /** Answers a request over cached documents, streaming text; see GenerateRequest. */
  generate(request: GenerateRequest): GenerationStream<GenerationResult> {
    this.#ensureNotDisposed();
    return new GenerationStream<GenerationResult>((emit, cancelled) => {
      assertRequest(GenerateRequestSchema, request, "generate request"); // before the signal is combined
      const signal = request.signal ? AbortSignal.any([request.signal, cancelled]) : cancelled;
      return this.#generate({ ...request, signal }, emit);
    });
  }

  /**
   * Lays out and prefills a request without generating: the plan (global positions, document placements)
   * and the logits of the next token. For scoring, tests and benchmarks.
   */
  async linkPrompt(request: GenerateRequest): Promise<LinkedPrompt> {
    this.#ensureNotDisposed();
    const prepared = await this.#prepare(request);
    const seq = await this.#runtime.createSequence({
      reserveTokens: prepared.plan.numPositions,
      adapterScale: this.#adapterScale(prepared.docEntries.length, request),
    });
    try {
      const { logits, linkMs, docTokensRecomputed } = await this.#prefill(seq, prepared.plan, prepared.docEntries);
      return {
        plan: prepared.plan,
        logits,
        documentTokenIds: new Map(prepared.docEntries.map((e) => [e.key, e.tokenIds])),
        linkMs,
        docTokensComputedNow: prepared.docTokensComputedNow + docTokensRecomputed,
      };
    } finally {
      await this.#runtime.disposeSequence(seq);
    }
  }

  async #prepare(request: GenerateRequest): Promise<{
    plan: LinkPlan;
    docEntries: DocumentEntry[];
    docTokensComputedNow: number;
    tokenizeMs: number;
    documentsMs: number;
  }> {
    const t0 = performance.now();
    assertRequest(GenerateRequestSchema, request, "generate request");
    if (request.responseFormat !== undefined) responseFormatProgram(parseResponseFormat(request.responseFormat));
    request.signal?.throwIfAborted();
    const mode = request.mode ?? this.#defaultMode;
    if (!LINK_MODES.includes(mode)) throw new InvalidInputError(`unknown mode "${String(mode)}"; expected one of ${LINK_MODES.join(", ")}`);
    const recompute = request.recomputePrefixTokens ?? 0;
    if (!Number.isSafeInteger(recompute) || recompute < 0) {
      throw new InvalidInputError(`recomputePrefixTokens must be a non-negative integer, got ${String(recompute)}`, { details: { recomputePrefixTokens: recompute } });
    }
    if (request.documents !== undefined && !Array.isArray(request.documents)) throw new InvalidInputError("`documents` must be an array of strings or {text}");
    const docEntries = (request.documents ?? []).map((d, i) => {
      const text = typeof d === "string" ? d : d !== null && typeof d === "object" ? d.text : undefined;
      if (typeof text !== "string") throw new InvalidInputError(`documents[${i}] must be a string or {text: string}, got ${d === null ? "null" : typeof d}`, { details: { index: i } });
      return this.#documentEntry(text);
    });
    const pieces = buildPromptLayout(this.tokenizer, {
      ...(request.system !== undefined ? { system: request.system } : {}),
      ...(request.question !== undefined ? { question: request.question } : {}),
      ...(request.messages !== undefined ? { messages: request.messages } : {}),
      documents: docEntries,
      ...(request.useChatTemplate !== undefined ? { useChatTemplate: request.useChatTemplate } : {}),
      ...(request.templateVariables !== undefined ? { templateVariables: request.templateVariables } : {}),
    });
    const plan = planLink(pieces, {
      mode,
      links: this.links,
      recomputePrefixTokens: recompute,
      maxPositionEmbeddings: this.spec.maxPositionEmbeddings,
    });
    const t1 = performance.now();
    // Make sure every cached document is resident in the runtime (memory, store, or computed once).
    let docTokensComputedNow = 0;
    const seen = new Set<string>();
    for (const placement of plan.documents) {
      if (seen.has(placement.key)) continue;
      seen.add(placement.key);
      const entry = docEntries.find((e) => e.key === placement.key)!;
      if ((await this.#ensureDocument(entry)) === "computed") docTokensComputedNow += entry.tokenIds.length - placement.numRecomputed;
    }
    request.signal?.throwIfAborted();
    return { plan, docEntries, docTokensComputedNow, tokenizeMs: t1 - t0, documentsMs: performance.now() - t1 };
  }

  async #generate(request: GenerateRequest, emit: (piece: string) => void): Promise<GenerationResult> {
    const t0 = performance.now();
    const sampling = parseSamplingOptions({
      ...(request.maxTokens !== undefined ? { maxTokens: request.maxTokens } : {}),
      ...(request.greedy !== undefined ? { greedy: request.greedy } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.topK !== undefined ? { topK: request.topK } : {}),
      ...(request.topP !== undefined ? { topP: request.topP } : {}),
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
      ...(request.repetitionPenalty !== undefined ? { repetitionPenalty: request.repetitionPenalty } : {}),
      ...(request.stop !== undefined ? { stop: [...request.stop] } : {}),
    });
    const constraint = createResponseConstraint(request.responseFormat, this.tokenizer, { maxTokens: sampling.maxTokens });
    const prepared = await this.#prepare(request);
    const t2 = performance.now();
    const runtime = this.#runtime;
    // KV slots for the whole prompt and the first answer tokens, allocated once (later tokens grow in chunks).
    const seq = await runtime.createSequence({
      reserveTokens: prepared.plan.numPositions + Math.min(sampling.maxTokens, 256),
      adapterScale: this.#adapterScale(prepared.docEntries.length, request),
    });
    try {
      const { logits, linkMs, docTokensRecomputed } = await this.#prefill(seq, prepared.plan, prepared.docEntries);
      const t3 = performance.now();
      return await this.#decode(seq, logits, prepared.plan, sampling, emit, request.signal, {
        t0,
        tokenizeMs: prepared.tokenizeMs,
        documentsMs: prepared.documentsMs,
        linkMs,
        prefillMs: t3 - t2 - linkMs,
        docTokensComputedNow: prepared.docTokensComputedNow + docTokensRecomputed,
        mode: prepared.plan.mode,
      }, constraint);
    } finally {
      await runtime.disposeSequence(seq);
    }
  }

  /**
   * Places document caches and runs the fresh tokens; returns the last position's logits, the time spent placing
   * caches (linkMs) and the time spent in forward passes (forwardMs: the floor linking cannot avoid).
   */
  async #prefill(
    seq: SequenceId,
    plan: LinkPlan,
    docEntries: readonly DocumentEntry[],
  ): Promise<{ logits: Float32Array; linkMs: number; forwardMs: number; docTokensRecomputed: number }> {
    const runtime = this.#runtime;
    const rotate = plan.mode !== "naive";
    let linkMs = 0;
    let forwardMs = 0;
    let docTokensRecomputed = 0;
    const place = async (placement: LinkPlan["documents"][number]): Promise<void> => {
      const t = performance.now();
      const args = { start: placement.numRecomputed, offset: placement.offset, rotate, encodedOffset: this.#documentPrefixIds.length };
      try {
        await runtime.appendDocument(seq, placement.key, args);
      } catch (error) {
        // Evicted since #prepare made it resident (concurrent prompts, or this prompt's documents exceed
        // documentCacheBytes): fetch it again and hand it over with the placement, in one runtime request, so nothing
        // can evict it in between. Once placed, the document is a copy in this sequence's slots.
        const entry = docEntries.find((e) => e.key === placement.key);
        if (entry === undefined || !(error instanceof InvalidInputError) || error.details["key"] !== placement.key) throw error;
        const { block, source } = await this.#fetchBlock(entry);
        if (source === "computed") docTokensRecomputed += entry.tokenIds.length - placement.numRecomputed;
        await runtime.appendDocument(seq, placement.key, { ...args, block });
      }
      linkMs += performance.now() - t;
    };
    const forward = async (args: ForwardArgs): Promise<Float32Array> => {
      const t = performance.now();
      const out = await runtime.forward(seq, args);
      forwardMs += performance.now() - t;
      return out.logits;
    };
    const fresh = plan.freshTokenIds;
    if (runtime.info.signature === "kvlink" || plan.documents.length === 0) {
      for (const placement of plan.documents) await place(placement);
      const t = performance.now();
      const slotPositions = cachedTokenPositions(plan);
      const mask =
        plan.documents.length === 0
          ? ("causal" as const)
          : { numRows: fresh.length, numCols: slotPositions.length + fresh.length, allowed: buildPositionMask(slotPositions, plan.freshPositions) };
      linkMs += performance.now() - t;
      const logits = await forward({ inputIds: fresh, positionIds: plan.freshPositions, mask, numLogitsToKeep: 1 });
      return { logits, linkMs, forwardMs, docTokensRecomputed };
    }
    // Standard signature: sequential causal passes in position order give the same result.
    let next = 0;
    let logits: Float32Array | undefined;
    const runFreshUpTo = async (endPosition: number): Promise<void> => {
      let end = next;
      while (end < fresh.length && plan.freshPositions[end]! < endPosition) end++;
      if (end === next) return;
      logits = await forward({
        inputIds: fresh.slice(next, end),
        positionIds: plan.freshPositions.slice(next, end),
        mask: "causal",
        numLogitsToKeep: 1,
      });
      next = end;
    };
    for (const placement of plan.documents) {
      await runFreshUpTo(placement.offset + placement.numRecomputed);
      await place(placement);
    }
    await runFreshUpTo(Infinity);
    if (logits === undefined || next !== fresh.length) {
      throw new InvalidInputError("the prompt must end with fresh tokens (a question or a generation prompt) after the last document");
    }
    return { logits, linkMs, forwardMs, docTokensRecomputed };
  }

  async #decode(
    seq: SequenceId,
    firstLogits: Float32Array,
    plan: LinkPlan,
    sampling: ReturnType<typeof parseSamplingOptions>,
    emit: (piece: string) => void,
    signal: AbortSignal | undefined,
    timing: { t0: number; tokenizeMs: number; documentsMs: number; linkMs: number; prefillMs: number; docTokensComputedNow: number; mode: LinkMode },
    constraint?: LogitsConstraint,
  ): Promise<GenerationResult> {
    let position = plan.numPositions;
    const loop = await runDecodeLoop({
      tokenizer: this.tokenizer,
      sampling,
      firstLogits,
      // Link tokens and markers from extra embedding rows are inputs only (the head never emits them): the repetition
      // penalty sees the prompt's sampleable ids.
      promptIds: plan.freshTokenIds.filter((id) => id < this.spec.vocabSize),
      positionsLeft: this.spec.maxPositionEmbeddings - plan.numPositions,
      forward: async (id) => (await this.#runtime.forward(seq, { inputIds: [id], positionIds: [position++], mask: "causal", numLogitsToKeep: 1 })).logits,
      emit,
      ...(signal !== undefined && { signal }),
      ...(constraint !== undefined && { constraint }),
    });
    const reused = plan.numDocTokensReused - timing.docTokensComputedNow;
    const stats: GenerationStats = {
      mode: timing.mode,
      ttftMs: loop.firstTokenAt - timing.t0,
      docTokensReused: Math.max(0, reused),
      docTokensComputed: plan.numDocTokensComputed + timing.docTokensComputedNow,
      freshTokens: plan.freshTokenIds.length,
      promptPositions: plan.numPositions,
      numGeneratedTokens: loop.tokenIds.length,
      tokensPerSecond: loop.tokensPerSecond,
      phases: { tokenizeMs: timing.tokenizeMs, documentsMs: timing.documentsMs, linkMs: timing.linkMs, prefillMs: timing.prefillMs, decodeMs: loop.decodeMs },
    };
    this.#logger.debug({ ...stats.phases, mode: stats.mode, ttftMs: stats.ttftMs }, "generated");
    return { text: loop.text, tokenIds: loop.tokenIds, finishReason: engineFinishReason(loop.finishReason), stats };
  }

  /** Tokens and cache key of a document text; recently seen texts are not tokenized again. */
  #documentEntry(text: string): DocumentEntry {
    if (typeof text !== "string") throw new InvalidInputError(`a document must be a string, got ${typeof text}`);
    const known = this.#textToEntry.get(text);
    if (known !== undefined) {
      this.#textToEntry.delete(text);
      this.#textToEntry.set(text, known);
      return known;
    }
    const tokenIds = this.tokenizer.encode(documentSegmentText(text), { specialTokens: "text" });
    // One key for a document everywhere: the store's (what `kvlink cache ls` shows and store.delete takes); without a
    // store, the same function over an fp32 in-memory entry.
    const key =
      this.#store !== undefined
        ? this.#store.keyFor(tokenIds)
        : computeCacheKey({ fingerprint: this.fingerprint, tokenIds, dtype: "fp32", namespace: "default" });
    const entry = { key, tokenIds };
    this.#textToEntry.set(text, entry);
    if (this.#textToEntry.size > MAX_REMEMBERED_DOCUMENTS) this.#textToEntry.delete(this.#textToEntry.keys().next().value!);
    return entry;
  }

  /** Makes a document's cache resident in the runtime: memory, else the store, else computed (once). */
  #ensureDocument(entry: DocumentEntry): Promise<"memory" | "store" | "computed"> {
    const pending = this.#inflight.get(entry.key);
    // A caller that waits for another's computation reuses its result: only the first counts the tokens as computed.
    if (pending) return pending.then((source) => (source === "computed" ? "memory" : source));
    const task = this.#loadOrCompute(entry).finally(() => this.#inflight.delete(entry.key));
    this.#inflight.set(entry.key, task);
    return task;
  }

  async #loadOrCompute(entry: DocumentEntry): Promise<"memory" | "store" | "computed"> {
    const runtime = this.#runtime;
    if (entry.tokenIds.length === 0) return "memory";
    const [resident] = await runtime.hasDocuments([entry.key]);
    if (resident) return "memory";
    const { block, source } = await this.#fetchBlock(entry);
    // A block from the store may share arrays with its LRU and other callers: copy (no transfer).
    await runtime.putDocument(entry.key, block, { transfer: source === "computed" && this.#store === undefined });
    return source;
  }

  /** A document's cache from the store (computed and stored on a miss), or computed when there is no store. */
  async #fetchBlock(entry: DocumentEntry): Promise<{ block: KvBlock; source: "store" | "computed" }> {
    const store = this.#store;
    if (store === undefined) return { block: await this.#computeDocumentKv(entry.tokenIds), source: "computed" };
    // Through the store, a computed cache comes back as it decodes from its stored dtype, so this process uses the
    // same values as every process that later loads it (the answer does not depend on who computed the document).
    const { cache, source } = await store.getOrCompute(entry.tokenIds, async () => this.#documentCache(entry, await this.#computeDocumentKv(entry.tokenIds)));
    return { block: documentToBlock(cache), source: source === "computed" ? "computed" : "store" };
  }

  #documentCache(entry: DocumentEntry, block: KvBlock): DocumentKvCache {
    return {
      fingerprint: this.fingerprint,
      tokenIds: Int32Array.from(entry.tokenIds),
      layout: { numLayers: this.spec.numLayers, numKvHeads: this.spec.numKvHeads, numTokens: block.numTokens, headDim: this.spec.headDim },
      keys: block.keys,
      values: block.values,
    };
  }

  /**
   * Writes a document resident in the runtime, but missing from the store (its write was lost in an outage), to the
   * store again from the runtime's copy; fetches or computes it only when the runtime no longer holds it. "memory"
   * when the resident copy was written. Writes absorb outages: a caller that must know checks `store.has`.
   */
  async #storeAgain(store: KvCacheStore, entry: DocumentEntry): Promise<"memory" | "store" | "computed"> {
    const block = await this.#runtime.readDocument(entry.key);
    if (block === undefined) return (await this.#fetchBlock(entry)).source;
    await store.set(this.#documentCache(entry, block));
    return "memory";
  }

  /** The adapter_scale of a prompt citing `numDocuments` documents, with or without bound tools (see EngineOptions.adapter). */
  #adapterScale(numDocuments: number, request?: Pick<GenerateRequest, "responseFormat">): number {
    return adapterScaleFor(this.#adapter, { numDocuments, toolsBound: request?.responseFormat?.type === "tool_calls" }, this.#adapterTasks);
  }

  /** A document encoded alone from position 0: no BOS, no system prompt, causal within itself. */
  async #computeDocumentKv(tokenIds: readonly number[]): Promise<KvBlock> {
    if (this.#documentPrefixIds.length + tokenIds.length > this.spec.maxPositionEmbeddings) {
      throw new ContextOverflowError(
        `a document of ${tokenIds.length} tokens (after a ${this.#documentPrefixIds.length}-token encoding prefix) exceeds the model's ${this.spec.maxPositionEmbeddings} positions; split it into smaller documents`,
        { details: { numTokens: tokenIds.length, maxPositionEmbeddings: this.spec.maxPositionEmbeddings } },
      );
    }
    const runtime = this.#runtime;
    const prefix = this.#documentPrefixIds;
    const seq = await runtime.createSequence({ reserveTokens: prefix.length + tokenIds.length, adapterScale: 1 });
    try {
      const inputIds = [...prefix, ...tokenIds];
      const positions = inputIds.map((_, i) => i);
      await runtime.forward(seq, { inputIds, positionIds: positions, mask: "causal", numLogitsToKeep: 1 });
      return await runtime.readKv(seq, prefix.length, inputIds.length);
    } finally {
      await runtime.disposeSequence(seq);
    }
  }

  #ensureNotDisposed(): void {
    if (this.#disposing !== undefined) throw new DisposedError("this KvLinkEngine has been disposed");
  }

  dispose(): Promise<void> {
    this.#disposing ??= (async () => {
      try {
        await this.#model.dispose();
      } finally {
        if (this.#ownsStore) await this.#store?.dispose();
      }
    })();
    return this.#disposing;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /**
   * The floor for a request: lays out and places the caches like generate(), then reports the time of the
   * fresh-token forward pass(es) alone (forwardMs) apart from placing the caches (placeMs).
   */
  async measureFloor(request: GenerateRequest): Promise<{ readonly forwardMs: number; readonly placeMs: number; readonly plan: LinkPlan }> {
    this.#ensureNotDisposed();
    const { plan, docEntries } = await this.#prepare(request);
    const seq = await this.#runtime.createSequence({ reserveTokens: plan.numPositions, adapterScale: this.#adapterScale(docEntries.length, request) });
    try {
      const { linkMs, forwardMs } = await this.#prefill(seq, plan, docEntries);
      return { forwardMs, placeMs: linkMs, plan };
    } finally {
      await this.#runtime.disposeSequence(seq);
    }
  }
}

function documentToBlock(cache: DocumentKvCache): KvBlock {
  const n = cache.layout.numTokens;
  return { keys: [...cache.keys], values: [...cache.values], numTokens: n, positions: Int32Array.from({ length: n }, (_, i) => i) };
}

/** The chat template's opening before the user's content, as a default request renders it (no custom system). */
function templatePrefixIds(tokenizer: Tokenizer): number[] {
  const pieces = buildPromptLayout(tokenizer, { question: "?", documents: [{ key: "prefix", tokenIds: [0] }] });
  const first = pieces[0];
  return first?.kind === "text" && pieces[1]?.kind === "documents" ? [...first.tokenIds] : [];
}

/** Encoding documents after a prefix changes their KV bytes: a distinct fingerprint (so distinct cache keys). */
function withDocumentPrefix(fingerprint: ModelFingerprint, prefixIds: readonly number[]): ModelFingerprint {
  if (prefixIds.length === 0) return fingerprint;
  return createHash("sha256").update(`${fingerprint}\ndocument-prefix:${prefixIds.join(",")}`).digest("hex") as ModelFingerprint;
}

/**
 * The fingerprint of a model folder (weights, tokenizer, spec), as KvLinkEngine computes it, without loading the
 * model: what a KeyvKvCacheStore needs to open that model's entries.
 */
export async function computeFolderFingerprint(dir: string): Promise<ModelFingerprint> {
  return fingerprintOf(await readModelFolder(dir));
}

/**
 * Weights and tokenizer hashes are streamed (a 1.5B model's external data is over 2 GiB, more than readFile
 * takes) and cached in `<model>/.kvlink-sha256.json` by file size and mtime, so only the first open reads them.
 */
async function fingerprintOf(folder: ModelFolder): Promise<ModelFingerprint> {
  const cache = join(folder.paths.dir, ".kvlink-sha256.json");
  const weights = [folder.paths.onnxModel, ...(folder.paths.onnxExternalData !== undefined ? [folder.paths.onnxExternalData] : [])];
  const weightsSha256 = await sha256FilesCached(weights, cache);
  const tokenizerSha256 = await sha256FilesCached([folder.paths.tokenizerJson], cache);
  return computeModelFingerprint({ weightsSha256, tokenizerSha256, spec: folder.spec });
}

/** The engine's coarse finish reason: "stop" for EOS or a stop string, "length" for maxTokens or a full context. */
function engineFinishReason(reason: DecodeFinishReason): FinishReason {
  return reason === "eos" || reason === "stopString" ? "stop" : "length";
}
