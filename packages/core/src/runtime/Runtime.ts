import type { GraphSignature } from "../graph/ioNames.js";
import type { ModelSpec } from "../model/ModelSpec.js";
import type { Logger } from "../util/Logger.js";
import type { ExecutionProviderSettings } from "./executionProvider.js";

/** Names a sequence (one KV cache) inside a runtime; only meaningful to the runtime that created it. */
export type SequenceId = number & { readonly __brand: "SequenceId" };

/** ORT execution provider: the bundled ones by name, or any other name ORT knows (passed through). */
export type ExecutionProvider = "cpu" | "webgpu" | "cuda" | (string & {});

export interface RuntimeOptions {
  /** Path of the decoder `.onnx` file (external data, if any, next to it). */
  readonly modelPath: string;
  /** The architecture the graph was built for: sizes of the KV cache and the limits inputs are checked against. */
  readonly spec: ModelSpec;
  /** Default "cpu". */
  readonly executionProvider?: ExecutionProvider;
  /** Device id and CUDA numerics (TF32) of the provider. */
  readonly providerSettings?: ExecutionProviderSettings;
  /** ORT intra-op threads; default `os.availableParallelism()`. */
  readonly numThreads?: number;
  readonly logger?: Logger;
  /** Bytes of resident document caches (putDocument), least recently used evicted. Default 2 GiB. */
  readonly documentCacheBytes?: number;
  /** Threads that place document caches into a prompt's slots (PlacementPool); default min(cores, 8). */
  readonly placementThreads?: number;
}

export interface CreateSequenceOptions {
  readonly reserveTokens?: number;
  /**
   * Multiplier of the model's LoRA branches for every forward pass of this sequence (the graph's adapter_scale
   * input): 1 (default) = the adapted model, 0 = its base weights exactly. Ignored by graphs without LoRA.
   */
  readonly adapterScale?: number;
}

/** Where a resident document goes in a sequence (appendDocument). */
export interface AppendDocumentArgs {
  /** First document token to place (tokens before it were recomputed fresh); default 0. */
  readonly start?: number;
  /** Global position of the document's first token: slot positions become offset + j. */
  readonly offset: number;
  /** Rotate keys from their encoded positions to offset..offset+n-1 (true) or keep them as encoded (false: the naive baseline). */
  readonly rotate: boolean;
  /**
   * Position the cache's first token was encoded at: 0 for a document encoded alone (the default), s for one
   * encoded after an s-token prefix whose KV is not stored (KvLinkEngine's `documentPrefix`). Keys rotate by
   * offset − encodedOffset.
   */
  readonly encodedOffset?: number;
  /**
   * The document's cache, used (and made resident) when `key` is not resident: the caller supplies it in the same
   * request, so no other request can evict it between a put and this placement.
   */
  readonly block?: KvBlock;
}

/**
 * Token-wise attention pattern for a forward pass:
 * - "causal": new token i sees every existing slot and new tokens 0..i;
 * - a boolean matrix [S][P+S] (columns: the P existing slots in order, then the S new tokens);
 * - the same matrix flattened row-major into a Uint8Array (1 = may attend).
 * Explicit masks need the KVLink signature.
 */
export type AttentionMaskInput =
  | "causal"
  | readonly (readonly boolean[])[]
  | { readonly numRows: number; readonly numCols: number; readonly allowed: Uint8Array };

export type TokenIds = readonly number[] | Int32Array | Uint32Array;

export interface ForwardArgs {
  readonly inputIds: TokenIds;
  /** Default: contiguous after the sequence's last position (0 for an empty sequence). */
  readonly positionIds?: readonly number[] | Int32Array;
  /** Default "causal". */
  readonly mask?: AttentionMaskInput;
  /** Logits of the last L tokens; 0 means all S. */
  readonly numLogitsToKeep: number;
  /** Also return the KV of the new tokens (a copy; the sequence keeps its own). */
  readonly returnKv?: boolean;
}

/**
 * Per-layer K and V of `numTokens` consecutive slots, each array laid out [numKvHeads, numTokens, headDim]
 * (keys post-RoPE at `positions`).
 */
export interface KvBlock {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  readonly numTokens: number;
  readonly positions: Int32Array;
}

export interface SequenceStatus {
  /** Filled slots. */
  readonly length: number;
  /** Position id of the last slot; -1 when empty. */
  readonly lastPosition: number;
}

export interface ForwardResult {
  /** Row-major [numLogits, vocabSize]: the logits of the last numLogits new tokens. */
  readonly logits: Float32Array;
  readonly numLogits: number;
  readonly vocabSize: number;
  readonly newKv?: KvBlock;
  readonly status: SequenceStatus;
}

export interface RuntimeInfo {
  readonly signature: GraphSignature;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly executionProvider: ExecutionProvider;
  readonly numThreads: number;
  /** Threads that place document caches (the runtime's thread and its helpers; 1 = no helpers). */
  readonly placementThreads: number;
}

/**
 * Runs one decoder graph and owns the KV caches of its sequences. Token ids, masks and KV blocks flow in;
 * logits and KV copies flow out. Implemented by RuntimeClient (a worker thread) and InProcessRuntime.
 */
export interface Runtime extends AsyncDisposable {
  readonly info: RuntimeInfo;
  readonly disposed: boolean;
  /**
   * A new, empty sequence. `reserveTokens` preallocates KV slots for that many tokens, so placing documents and
   * prefilling copy nothing twice (slots beyond it grow in chunks).
   */
  createSequence(options?: CreateSequenceOptions): Promise<SequenceId>;
  forward(sequenceId: SequenceId, args: ForwardArgs): Promise<ForwardResult>;
  /**
   * Places precomputed KV into the next slots (KVLink linking). The block is copied unless
   * `transfer` is set, in which case a worker runtime detaches its arrays (zero-copy).
   */
  appendKv(sequenceId: SequenceId, block: KvBlock, options?: { readonly transfer?: boolean }): Promise<SequenceStatus>;
  /**
   * Keeps a document's cache (encoded alone at positions 0..n-1) resident in the runtime under `key`, so
   * prompts can link it without sending it again. `transfer` detaches the arrays (zero-copy to a worker).
   */
  putDocument(key: string, block: KvBlock, options?: { readonly transfer?: boolean }): Promise<void>;
  /** Which of these documents are resident (they may be evicted later, least recently used first). */
  hasDocuments(keys: readonly string[]): Promise<boolean[]>;
  /**
   * A copy of a resident document's cache in fp32 at positions 0..n-1 (fp16-resident ones decoded), or undefined when
   * it is not resident. For writing it to a store again after a lost write; linking never needs it.
   */
  readDocument(key: string): Promise<KvBlock | undefined>;
  /**
   * Copies a resident document into the next slots of a sequence, re-rotating its keys to `offset` in the
   * same pass. CacheCorruptError-free by construction; InvalidInputError if the document is not resident.
   */
  appendDocument(sequenceId: SequenceId, key: string, args: AppendDocumentArgs): Promise<SequenceStatus>;
  /** Copies out slots [start, end). */
  readKv(sequenceId: SequenceId, start: number, end: number): Promise<KvBlock>;
  /** Drops every slot from `length` on. */
  truncate(sequenceId: SequenceId, length: number): Promise<SequenceStatus>;
  disposeSequence(sequenceId: SequenceId): Promise<void>;
  dispose(): Promise<void>;
}
