import type { CallbackManagerForRetrieverRun } from "@langchain/core/callbacks/manager";
import { Document, type DocumentInterface } from "@langchain/core/documents";
import { BaseRetriever, type BaseRetrieverInput, type BaseRetrieverInterface } from "@langchain/core/retrievers";
import { InvalidInputError } from "@kvlink/core";
import type { KvLinkEngineLike } from "./engine.js";
import { checkEngine } from "./checkEngine.js";

/** Metadata key of the cache reference KVLinkRetriever adds to each Document. */
export const KVLINK_METADATA_KEY = "kvlink";

/** `metadata.kvlink` of a retrieved Document. */
export interface KVLinkDocumentMetadata {
  /** The engine's cache key for the document text (`engine.documentKey(pageContent)`). */
  readonly cacheKey: string;
}

export interface KVLinkRetrieverInput extends BaseRetrieverInput {
  /** Any retriever: BM25Retriever, `vectorStore.asRetriever()`, ... */
  retriever: BaseRetrieverInterface;
  /** An engine already created; the caller keeps ownership. */
  engine: KvLinkEngineLike;
  /** Precompute the caches of retrieved documents in the background. Default true. */
  warm?: boolean;
  /** Wait for the warm-up before returning the documents (the next model call then never computes them). Default false. */
  awaitWarm?: boolean;
  /**
   * Called when a background warm-up fails. A failed warm-up is harmless by itself (the model call computes the
   * documents and reports any real error), so the default drops it.
   */
  onWarmError?: (error: unknown, documents: readonly DocumentInterface[]) => void;
}

/**
 * Wraps a retriever: returns its Documents (copies, never the wrapped store's objects) with `metadata.kvlink =
 * { cacheKey }`, and starts computing their KV caches so that the model call that follows finds them.
 */
export class KVLinkRetriever extends BaseRetriever {
  static override lc_name(): string {
    return "KVLinkRetriever";
  }

  lc_namespace = ["kvlink", "retrievers"];
  override lc_serializable = false;
  readonly retriever: BaseRetrieverInterface;
  readonly engine: KvLinkEngineLike;
  readonly warm: boolean;
  readonly awaitWarm: boolean;
  readonly #onWarmError: ((error: unknown, documents: readonly DocumentInterface[]) => void) | undefined;
  /** Warm-ups in flight, by cache key (so one document is not precomputed twice at once). */
  readonly #keyToWarmup = new Map<string, Promise<void>>();

  constructor(fields: KVLinkRetrieverInput) {
    super(fields);
    const retriever = fields?.retriever as unknown;
    if (retriever === null || typeof retriever !== "object" || typeof (retriever as { invoke?: unknown }).invoke !== "function") {
      throw new InvalidInputError(`KVLinkRetriever: "retriever" must be a retriever (an object with invoke()), got ${retriever === null ? "null" : typeof retriever}`);
    }
    this.retriever = fields.retriever;
    this.engine = checkEngine(fields.engine, "KVLinkRetriever");
    this.warm = fields.warm ?? true;
    this.awaitWarm = fields.awaitWarm ?? false;
    this.#onWarmError = fields.onWarmError;
  }

  override async _getRelevantDocuments(query: string, runManager?: CallbackManagerForRetrieverRun): Promise<Document[]> {
    const found = await this.retriever.invoke(query, { callbacks: runManager?.getChild("kvlink_wrapped_retriever") });
    const documents = found.map((doc, index) => {
      if (doc === null || typeof doc !== "object" || typeof doc.pageContent !== "string") {
        throw new InvalidInputError(`KVLinkRetriever: the wrapped retriever returned a non-Document at index ${index}`, { details: { index } });
      }
      const metadata: KVLinkDocumentMetadata = { cacheKey: this.engine.documentKey(doc.pageContent) };
      return new Document({
        pageContent: doc.pageContent,
        metadata: { ...doc.metadata, [KVLINK_METADATA_KEY]: metadata },
        ...(doc.id === undefined ? {} : { id: doc.id }),
      });
    });
    if (this.warm && documents.length > 0) {
      const warmup = this.#warmUp(documents);
      if (this.awaitWarm) await warmup;
    }
    return documents;
  }

  /** Resolves once every warm-up started so far has settled (it never rejects). */
  async whenWarm(): Promise<void> {
    await Promise.all([...this.#keyToWarmup.values()]);
  }

  /** Precomputes the documents whose caches are not already being warmed; settles, never rejects. */
  #warmUp(documents: readonly Document[]): Promise<void> {
    const pending: Promise<void>[] = [];
    const toCompute: Document[] = [];
    for (const doc of documents) {
      const key = (doc.metadata[KVLINK_METADATA_KEY] as KVLinkDocumentMetadata).cacheKey;
      const inFlight = this.#keyToWarmup.get(key);
      if (inFlight !== undefined) pending.push(inFlight);
      else if (!toCompute.some((other) => other.pageContent === doc.pageContent)) toCompute.push(doc);
    }
    if (toCompute.length > 0) {
      const inputs = toCompute.map((doc) => (doc.id === undefined ? { text: doc.pageContent } : { id: doc.id, text: doc.pageContent }));
      let settled: Promise<void>;
      try {
        settled = this.engine.precompute(inputs).then(
          () => undefined,
          (error: unknown) => this.#reportWarmError(error, toCompute),
        );
      } catch (error) {
        settled = Promise.resolve(this.#reportWarmError(error, toCompute));
      }
      const keys = toCompute.map((doc) => (doc.metadata[KVLINK_METADATA_KEY] as KVLinkDocumentMetadata).cacheKey);
      const tracked = settled.finally(() => {
        for (const key of keys) if (this.#keyToWarmup.get(key) === tracked) this.#keyToWarmup.delete(key);
      });
      for (const key of keys) this.#keyToWarmup.set(key, tracked);
      pending.push(tracked);
    }
    return Promise.all(pending).then(() => undefined);
  }

  #reportWarmError(error: unknown, documents: readonly DocumentInterface[]): void {
    try {
      this.#onWarmError?.(error, documents);
    } catch {
      // A throwing callback must not turn a background warm-up into an unhandled rejection.
    }
  }
}
