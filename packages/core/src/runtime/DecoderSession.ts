import { availableParallelism, totalmem } from "node:os";
import type { PastKvType } from "../graph/buildDecoderGraph.js";
import { checkGraphSpecStamp } from "../graph/graphSpecStamp.js";
import { numInputTokenIds } from "../model/ModelSpec.js";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { ContextOverflowError, DisposedError, InvalidInputError, ModelFormatError, RuntimeError } from "../errors/KvLinkError.js";
import { computeInvFreq } from "../rope/computeInvFreq.js";
import { deltaRotation } from "../rope/rotateKeysInto.js";
import { decodeFloat16, encodeFloat16 } from "../store/codec/float16.js";
import { DocumentKvLru, type ResidentDocument } from "./DocumentKvLru.js";
import { Float32Pool } from "./Float32Pool.js";
import { detectSignature, IoNames, type GraphSignature } from "../graph/ioNames.js";
import type { ModelSpec } from "../model/ModelSpec.js";
import { invariant } from "../util/invariant.js";
import { createOrtSession } from "./createOrtSession.js";
import type { ExecutionProviderSettings } from "./executionProvider.js";
import { HostKvCache, type KeyLayout } from "./HostKvCache.js";
import { PlacementPool } from "./PlacementPool.js";
import { PresentKvCache } from "./PresentKvCache.js";
import type {
  AppendDocumentArgs,
  CreateSequenceOptions,
  ExecutionProvider,
  ForwardArgs,
  ForwardResult,
  KvBlock,
  RuntimeInfo,
  SequenceId,
  SequenceStatus,
} from "./Runtime.js";
import type { DocumentKv, KvGeometry } from "./SequenceKv.js";
import { validateForwardArgs, validateKvBlock, type ValidForward } from "./validateForwardArgs.js";

export interface DecoderSessionOptions {
  readonly modelPath: string;
  readonly spec: ModelSpec;
  readonly executionProvider?: ExecutionProvider;
  readonly providerSettings?: ExecutionProviderSettings;
  readonly numThreads?: number;
  readonly documentCacheBytes?: number;
  /**
   * Threads that place document caches into a prompt's slots (kvlink signature; see PlacementPool): the calling
   * thread plus helpers. Default defaultPlacementThreads(); 1 = the calling thread only.
   */
  readonly placementThreads?: number;
}

/**
 * Default of DecoderSessionOptions.placementThreads: min(cores, 8). Measured placing 10 × 512 documents: on 2 cores
 * (AMD EPYC, SmolLM2-135M, idle, runs interleaved) one helper took 93 vs 104 ms and 107 vs 129 ms (medians of 7);
 * on 16 cores (H200 host, Xeon, 1B-shaped) 8 threads took 84 vs 286 ms, and 508 vs 1,834 ms at 32 × 1024. Past 8
 * threads the copies this thread keeps, not the arithmetic, bound it.
 */
export function defaultPlacementThreads(): number {
  return Math.min(availableParallelism(), 8);
}

/**
 * Bytes of finished sequences' slot buffers kept for reuse: 1 GiB, or an eighth of the machine's memory where that
 * is more. A prompt whose slots exceed it allocates (and page-faults) them anew on every request: 32 × 1024
 * documents on a Llama-3.2-1B-shaped model need 2.1 GB of fp32 slots.
 */
function slotPoolBytes(): number {
  return Math.max(1024 ** 3, Math.floor(totalmem() / 8));
}

type Cache = HostKvCache | PresentKvCache;
type Feeds = Record<string, Tensor>;

/**
 * The runtime's logic, independent of threads: one ORT session plus the KV cache of every sequence. Operations
 * run one at a time (a queue), so the session is never released during a run. Used inside the worker
 * (runtime.worker.ts) and directly by InProcessRuntime.
 */
export class DecoderSession {
  readonly info: RuntimeInfo;
  readonly #session: InferenceSession;
  readonly #spec: ModelSpec;
  readonly #geometry: KvGeometry;
  readonly #sequences = new Map<number, Cache>();
  /** Per sequence: the adapter_scale fed with each of its forward passes (graphs with LoRA branches). */
  readonly #adapterScales = new Map<number, number>();
  readonly #hasAdapterScale: boolean;
  readonly #hasLogitsToKeep: boolean;
  readonly #documents: DocumentKvLru;
  /** Slot buffers of finished sequences, reused by new ones (slotPoolBytes at most). */
  readonly #slotPool = new Float32Pool(slotPoolBytes());
  /** Helper threads that place document caches (kvlink signature, placementThreads > 1). */
  readonly #placement: PlacementPool | undefined;
  readonly #invFreq: Float64Array;
  /** Layout of the kvlink graph's past keys (from the input's declared shape). */
  readonly #keyLayout: KeyLayout;
  /** Element type of the kvlink graph's past inputs (and so of the host KV slots). */
  readonly #slotType: PastKvType;
  #nextSequenceId = 1;
  #queue: Promise<unknown> = Promise.resolve();
  #released = false;

  private constructor(
    session: InferenceSession,
    spec: ModelSpec,
    info: RuntimeInfo,
    documentCacheBytes: number,
    keyLayout: KeyLayout,
    slotType: PastKvType,
    placement: PlacementPool | undefined,
  ) {
    this.#keyLayout = keyLayout;
    this.#slotType = slotType;
    this.#placement = placement;
    this.#documents = new DocumentKvLru(documentCacheBytes);
    this.#invFreq = computeInvFreq(spec.rope);
    this.#session = session;
    this.#spec = spec;
    this.info = info;
    this.#geometry = { numLayers: spec.numLayers, numKvHeads: spec.numKvHeads, headDim: spec.headDim };
    this.#hasLogitsToKeep = session.inputNames.includes(IoNames.numLogitsToKeep);
    this.#hasAdapterScale = session.inputNames.includes(IoNames.adapterScale);
  }

  static async create(options: DecoderSessionOptions): Promise<DecoderSession> {
    const executionProvider = options.executionProvider ?? "cpu";
    // More intra-op threads than cores only oversubscribes (ORT spins them all; 100,000 hung and grew memory).
    const numThreads = Math.min(options.numThreads ?? availableParallelism(), availableParallelism());
    const session = await createOrtSession(options.modelPath, {
      executionProvider,
      numThreads,
      ...(options.providerSettings !== undefined ? { providerSettings: options.providerSettings } : {}),
    });
    try {
      await checkGraphSpecStamp(options.modelPath, options.spec);
      const signature = detectSignature(session.inputNames);
      if (signature === undefined) {
        throw new ModelFormatError(
          `${options.modelPath} matches neither graph signature (kvlink needs input_ids, position_ids, attention_bias; ` +
            `standard needs input_ids, attention_mask); inputs are [${session.inputNames.join(", ")}]`,
          { details: { modelPath: options.modelPath, inputNames: [...session.inputNames] } },
        );
      }
      checkLayerIo(session, options.spec, signature, options.modelPath);
      const placementThreads = options.placementThreads ?? defaultPlacementThreads();
      if (!Number.isInteger(placementThreads) || placementThreads < 1) {
        throw new InvalidInputError(`placementThreads must be a positive integer, got ${placementThreads}`);
      }
      const placesDocuments = signature === "kvlink" && placementThreads > 1;
      const info: RuntimeInfo = {
        signature,
        inputNames: [...session.inputNames],
        outputNames: [...session.outputNames],
        executionProvider,
        numThreads,
        placementThreads: placesDocuments ? placementThreads : 1,
      };
      const keyLayout = signature === "kvlink" ? detectKeyLayout(session, options.spec) : "tokenMajor";
      const slotType = signature === "kvlink" ? detectSlotType(session, options.modelPath) : "float32";
      // Last, so no error leaves helpers behind. They start in tens of milliseconds, far less than loading the graph;
      // waiting makes the first prompt use them.
      const placement = placesDocuments ? PlacementPool.create(placementThreads) : undefined;
      await placement?.whenStarted();
      return new DecoderSession(session, options.spec, info, options.documentCacheBytes ?? 2 * 1024 ** 3, keyLayout, slotType, placement);
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  createSequence(options: CreateSequenceOptions = {}): Promise<SequenceId> {
    return this.#enqueue(() => {
      const reserve = options.reserveTokens ?? 0;
      if (!Number.isInteger(reserve) || reserve < 0) {
        throw new InvalidInputError(`createSequence: reserveTokens must be a non-negative integer, got ${reserve}`);
      }
      const adapterScale = options.adapterScale ?? 1;
      if (typeof adapterScale !== "number" || !Number.isFinite(adapterScale)) {
        throw new InvalidInputError(`createSequence: adapterScale must be a finite number, got ${String(adapterScale)}`);
      }
      const id = this.#nextSequenceId++;
      let cache: Cache;
      if (this.info.signature === "kvlink") {
        const host = new HostKvCache(this.#geometry, {
          maxCapacityHint: this.#spec.maxPositionEmbeddings,
          keyLayout: this.#keyLayout,
          slotType: this.#slotType,
          pool: this.#slotPool,
        });
        if (reserve > 0) host.ensureCapacity(Math.min(reserve, this.#spec.maxPositionEmbeddings));
        cache = host;
      } else {
        cache = new PresentKvCache(this.#geometry);
      }
      this.#sequences.set(id, cache);
      this.#adapterScales.set(id, adapterScale);
      return id as SequenceId;
    });
  }

  forward(sequenceId: SequenceId, args: ForwardArgs): Promise<ForwardResult> {
    return this.#enqueue(async () => {
      const cache = this.#sequence(sequenceId);
      const valid = validateForwardArgs(args, {
        vocabSize: numInputTokenIds(this.#spec),
        maxPositionEmbeddings: this.#spec.maxPositionEmbeddings,
        signature: this.info.signature,
        pastLength: cache.length,
        lastPosition: cache.lastPosition,
      });
      return cache instanceof HostKvCache
        ? this.#forwardKvLink(cache, valid, args.returnKv === true, this.#adapterScales.get(sequenceId) ?? 1)
        : this.#forwardStandard(cache, valid, args.returnKv === true, this.#adapterScales.get(sequenceId) ?? 1);
    });
  }

  appendKv(sequenceId: SequenceId, block: KvBlock): Promise<SequenceStatus> {
    return this.#enqueue(() => {
      const cache = this.#sequence(sequenceId);
      validateKvBlock(block, this.#geometry, this.#spec.maxPositionEmbeddings);
      cache.append(block);
      return cache.status();
    });
  }

  putDocument(key: string, block: KvBlock): Promise<void> {
    return this.#enqueue(() => {
      validateKvBlock(block, this.#geometry, this.#spec.maxPositionEmbeddings);
      this.#documents.put(key, this.#resident(block));
    });
  }

  hasDocuments(keys: readonly string[]): Promise<boolean[]> {
    return this.#enqueue(() => keys.map((k) => this.#documents.has(k)));
  }

  /** A fp32 copy of a resident document (fp16 slots decoded), positions 0..n-1; undefined when not resident. */
  readDocument(key: string): Promise<KvBlock | undefined> {
    return this.#enqueue(() => {
      const doc = this.#documents.get(key);
      if (doc === undefined) return undefined;
      const copy = (a: Float32Array | Uint16Array): Float32Array => {
        if (a instanceof Float32Array) return Float32Array.from(a);
        const out = new Float32Array(a.length);
        decodeFloat16(a, out);
        return out;
      };
      const n = doc.numTokens;
      return { numTokens: n, keys: doc.keys.map(copy), values: doc.values.map(copy), positions: Int32Array.from({ length: n }, (_, i) => i) };
    });
  }

  appendDocument(sequenceId: SequenceId, key: string, args: AppendDocumentArgs): Promise<SequenceStatus> {
    return this.#enqueue(async () => {
      const cache = this.#sequence(sequenceId);
      let block = this.#documents.get(key);
      if (block === undefined && args.block !== undefined) {
        validateKvBlock(args.block, this.#geometry, this.#spec.maxPositionEmbeddings);
        block = this.#resident(args.block);
        this.#documents.put(key, block);
      }
      if (block === undefined) {
        throw new InvalidInputError(`document ${key} is not resident in the runtime (never put, or evicted)`, { details: { key } });
      }
      const start = args.start ?? 0;
      const { offset } = args;
      if (!Number.isInteger(start) || start < 0 || start > block.numTokens || !Number.isInteger(offset) || offset < 0) {
        throw new InvalidInputError(`appendDocument: start ${start} / offset ${offset} invalid for a document of ${block.numTokens} tokens`);
      }
      if (offset + block.numTokens > this.#spec.maxPositionEmbeddings) {
        throw new ContextOverflowError(
          `appendDocument: positions up to ${offset + block.numTokens - 1} exceed max_position_embeddings ${this.#spec.maxPositionEmbeddings}`,
        );
      }
      const encodedOffset = args.encodedOffset ?? 0;
      if (!Number.isInteger(encodedOffset) || encodedOffset < 0) {
        throw new InvalidInputError(`appendDocument: encodedOffset ${encodedOffset} must be a non-negative integer`, { details: { encodedOffset } });
      }
      const delta = offset - encodedOffset;
      const rotation = args.rotate && delta !== 0 ? deltaRotation(this.#invFreq, delta) : undefined;
      if (cache instanceof HostKvCache && this.#placement !== undefined) {
        const plan = cache.planDocument(block, start, offset, rotation);
        await this.#placement.run(plan.layers);
        plan.commit();
      } else if (cache instanceof HostKvCache) {
        cache.appendDocument(block, start, offset, rotation);
      } else {
        cache.appendDocument(asFloat32Document(block), start, offset, rotation);
      }
      return cache.status();
    });
  }

  readKv(sequenceId: SequenceId, start: number, end: number): Promise<KvBlock> {
    return this.#enqueue(() => {
      const cache = this.#sequence(sequenceId);
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end > cache.length) {
        throw new InvalidInputError(`readKv: range [${start}, ${end}) is not inside the sequence's ${cache.length} slots`, {
          details: { start, end, length: cache.length },
        });
      }
      return cache.read(start, end);
    });
  }

  truncate(sequenceId: SequenceId, length: number): Promise<SequenceStatus> {
    return this.#enqueue(() => {
      const cache = this.#sequence(sequenceId);
      if (!Number.isInteger(length) || length < 0 || length > cache.length) {
        throw new InvalidInputError(`truncate: length ${length} is outside [0, ${cache.length}]`, {
          details: { length, current: cache.length },
        });
      }
      cache.truncate(length);
      return cache.status();
    });
  }

  disposeSequence(sequenceId: SequenceId): Promise<void> {
    return this.#enqueue(() => {
      const cache = this.#sequences.get(sequenceId);
      if (cache instanceof HostKvCache) cache.release();
      this.#sequences.delete(sequenceId);
      this.#adapterScales.delete(sequenceId);
    });
  }

  /** Waits for queued operations, then frees the session. Idempotent. */
  release(): Promise<void> {
    if (this.#released) return Promise.resolve();
    this.#released = true;
    const done = this.#queue.then(
      () => this.#session.release(),
      () => this.#session.release(),
    );
    this.#sequences.clear();
    this.#documents.clear();
    this.#slotPool.clear();
    return Promise.all([done, this.#placement?.dispose()]).then(() => undefined);
  }

  /**
   * A document block as the runtime keeps it: in fp16 bits when the slots are fp16 (converted once when it becomes
   * resident, so each prompt copies its values as they are and converts only the keys it rotates; a document read
   * from the default fp16 store loses nothing more), and in SharedArrayBuffers when placement helpers will read it.
   */
  #resident(block: KvBlock): ResidentDocument {
    const shared = this.#placement !== undefined;
    const half = this.#slotType === "float16";
    if (!shared && !half) return block;
    const convert = (a: Float32Array): Float32Array | Uint16Array => {
      if (half) {
        const out = new Uint16Array(shared ? new SharedArrayBuffer(a.length * 2) : new ArrayBuffer(a.length * 2));
        encodeFloat16(a, out);
        return out;
      }
      if (a.buffer instanceof SharedArrayBuffer) return a;
      const out = new Float32Array(new SharedArrayBuffer(a.byteLength));
      out.set(a);
      return out;
    };
    return { numTokens: block.numTokens, keys: block.keys.map(convert), values: block.values.map(convert) };
  }

  #enqueue<T>(op: () => T | Promise<T>): Promise<T> {
    if (this.#released) return Promise.reject(new DisposedError("the decoder session has been released"));
    const result = this.#queue.then(op);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #sequence(sequenceId: SequenceId): Cache {
    const cache = this.#sequences.get(sequenceId);
    if (cache === undefined) {
      throw new InvalidInputError(`sequence ${sequenceId} does not exist (never created, or disposed)`, { details: { sequenceId } });
    }
    return cache;
  }

  #commonFeeds(valid: ValidForward, adapterScale: number): Feeds {
    const numNew = valid.inputIds.length;
    const feeds: Feeds = {
      [IoNames.inputIds]: new Tensor("int64", valid.inputIds, [1, numNew]),
    };
    if (this.#session.inputNames.includes(IoNames.positionIds)) {
      feeds[IoNames.positionIds] = new Tensor("int64", BigInt64Array.from(valid.positions, (p) => BigInt(p)), [1, numNew]);
    }
    if (this.#hasLogitsToKeep) {
      feeds[IoNames.numLogitsToKeep] = new Tensor("int64", BigInt64Array.of(BigInt(valid.numLogitsToKeep)), []);
    }
    if (this.#hasAdapterScale) feeds[IoNames.adapterScale] = new Tensor("float32", Float32Array.of(adapterScale), [1, 1, 1]);
    return feeds;
  }

  /**
   * A kvlink forward. Causal prompts longer than CPU_PREFILL_CHUNK_TOKENS run on the CPU as successive passes of
   * that many tokens, each over the slots the earlier ones filled (the same attention: no row sees a later token).
   * ORT's Attention-23 computes the whole [S, capacity+S] score matrix whatever the mask blocks, so one pass does
   * the full square, while chunks over a cache that grows with them do about half of it in smaller pieces. Measured
   * 2026-12-02 on a 2-vCPU AMD EPYC (AVX-512), base SmolLM2-135M, a 4,096-token prompt, warm process (.scratch
   * A/B): one pass 8.1–10.1 s; chunks of 256 5.5–6.0 s (growing the slots to the whole prompt first: 8.6–9.0 s,
   * so the slots grow chunk by chunk); same next token. A process's first long prompt is slower either way
   * (9–12 s). A failed chunk leaves the sequence as it was.
   */
  async #forwardKvLink(cache: HostKvCache, valid: ValidForward, returnKv: boolean, adapterScale: number): Promise<ForwardResult> {
    const numNew = valid.inputIds.length;
    const chunk = this.info.executionProvider === "cpu" ? CPU_PREFILL_CHUNK_TOKENS : Infinity;
    if (valid.mask !== "causal" || numNew <= chunk) return this.#forwardKvLinkPass(cache, valid, returnKv, adapterScale);
    const wanted = valid.numLogitsToKeep === 0 ? numNew : Math.min(valid.numLogitsToKeep, numNew);
    const past = cache.length;
    const logits: Float32Array[] = [];
    const blocks: KvBlock[] = [];
    let last: ForwardResult | undefined;
    try {
      for (let start = 0; start < numNew; start += chunk) {
        const end = Math.min(numNew, start + chunk);
        // This chunk's rows among the last `wanted` (a pass keeps at least one row; unwanted ones are dropped).
        const keepHere = Math.max(0, Math.min(end - start, wanted - (numNew - end)));
        const part: ValidForward = {
          inputIds: valid.inputIds.subarray(start, end),
          positions: valid.positions.subarray(start, end),
          mask: "causal",
          numLogitsToKeep: Math.max(1, keepHere),
        };
        last = await this.#forwardKvLinkPass(cache, part, returnKv, adapterScale);
        if (keepHere > 0) logits.push(last.logits);
        if (returnKv) blocks.push(last.newKv!);
      }
    } catch (error) {
      cache.truncate(past);
      throw error;
    }
    const vocabSize = this.#spec.vocabSize;
    const joined = new Float32Array(wanted * vocabSize);
    let at = 0;
    for (const part of logits) {
      joined.set(part, at);
      at += part.length;
    }
    invariant(at === joined.length, "chunked prefill logits", { rows: at / vocabSize, wanted });
    return { logits: joined, numLogits: wanted, vocabSize, ...(returnKv ? { newKv: concatKvBlocks(blocks, this.#geometry) } : {}), status: last!.status };
  }

  async #forwardKvLinkPass(cache: HostKvCache, valid: ValidForward, returnKv: boolean, adapterScale: number): Promise<ForwardResult> {
    const { numLayers, numKvHeads, headDim } = this.#geometry;
    const numNew = valid.inputIds.length;
    const past = cache.length;
    const capacity = cache.capacity;
    const feeds = this.#commonFeeds(valid, adapterScale);
    feeds[IoNames.attentionBias] = new Tensor("float32", computeKvLinkBias(valid.mask, past, capacity, numNew), [1, 1, numNew, capacity + numNew]);
    const keyDims = cache.keyLayout === "dimMajor" ? [1, numKvHeads, headDim, capacity] : [1, numKvHeads, capacity, headDim];
    for (let l = 0; l < numLayers; l++) {
      feeds[IoNames.pastKey(l)] = slotTensor(cache.pastKeys(l), keyDims);
      feeds[IoNames.pastValue(l)] = slotTensor(cache.pastValues(l), [1, numKvHeads, capacity, headDim]);
    }
    const outputs = await this.#run(feeds);
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let l = 0; l < numLayers; l++) {
      keys.push(float32Output(outputs, IoNames.newKey(l), [1, numKvHeads, numNew, headDim]));
      values.push(float32Output(outputs, IoNames.newValue(l), [1, numKvHeads, numNew, headDim]));
    }
    const newKv: KvBlock = { keys, values, numTokens: numNew, positions: valid.positions };
    cache.append(newKv);
    invariant(cache.length === past + numNew, "KV length after forward", { expected: past + numNew, actual: cache.length });
    return { ...this.#logits(outputs, valid), ...(returnKv ? { newKv } : {}), status: cache.status() };
  }

  async #forwardStandard(cache: PresentKvCache, valid: ValidForward, returnKv: boolean, adapterScale: number): Promise<ForwardResult> {
    const { numLayers, numKvHeads, headDim } = this.#geometry;
    const numNew = valid.inputIds.length;
    const past = cache.length;
    const feeds = this.#commonFeeds(valid, adapterScale);
    feeds[IoNames.attentionMask] = new Tensor("int64", new BigInt64Array(past + numNew).fill(1n), [1, past + numNew]);
    for (let l = 0; l < numLayers; l++) {
      feeds[IoNames.pastKey(l)] = new Tensor("float32", cache.pastKeys(l), [1, numKvHeads, past, headDim]);
      feeds[IoNames.pastValue(l)] = new Tensor("float32", cache.pastValues(l), [1, numKvHeads, past, headDim]);
    }
    const outputs = await this.#run(feeds);
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let l = 0; l < numLayers; l++) {
      keys.push(float32Output(outputs, IoNames.presentKey(l), [1, numKvHeads, past + numNew, headDim]));
      values.push(float32Output(outputs, IoNames.presentValue(l), [1, numKvHeads, past + numNew, headDim]));
    }
    cache.adoptPresent(keys, values, valid.positions);
    const newKv = returnKv ? cache.read(past, past + numNew) : undefined;
    return { ...this.#logits(outputs, valid), ...(newKv ? { newKv } : {}), status: cache.status() };
  }

  async #run(feeds: Feeds): Promise<InferenceSession.OnnxValueMapType> {
    try {
      return await this.#session.run(feeds);
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new RuntimeError(`ONNX Runtime failed during a forward pass: ${message}`, { cause });
    }
  }

  #logits(outputs: InferenceSession.OnnxValueMapType, valid: ValidForward): Pick<ForwardResult, "logits" | "numLogits" | "vocabSize"> {
    const numNew = valid.inputIds.length;
    const vocabSize = this.#spec.vocabSize;
    const wanted = valid.numLogitsToKeep === 0 ? numNew : valid.numLogitsToKeep;
    const produced = this.#hasLogitsToKeep ? wanted : numNew;
    const logits = float32Output(outputs, IoNames.logits, [1, produced, vocabSize]);
    // A graph without num_logits_to_keep returns all S rows: keep the last `wanted`.
    const kept = produced === wanted ? logits : logits.slice((produced - wanted) * vocabSize);
    return { logits: kept, numLogits: wanted, vocabSize };
  }
}

/** Causal prompts longer than this run as successive passes of this many tokens on the CPU (DecoderSession#forwardKvLink). */
export const CPU_PREFILL_CHUNK_TOKENS = 256;

/** Blocks of consecutive tokens ([KVH, n, D] per layer) as one block. */
function concatKvBlocks(blocks: readonly KvBlock[], geometry: KvGeometry): KvBlock {
  const { numLayers, numKvHeads, headDim } = geometry;
  const n = blocks.reduce((a, b) => a + b.numTokens, 0);
  const join = (pick: (b: KvBlock) => Float32Array): Float32Array => {
    const out = new Float32Array(numKvHeads * n * headDim);
    let t0 = 0;
    for (const b of blocks) {
      const src = pick(b);
      for (let h = 0; h < numKvHeads; h++) out.set(src.subarray(h * b.numTokens * headDim, (h + 1) * b.numTokens * headDim), (h * n + t0) * headDim);
      t0 += b.numTokens;
    }
    return out;
  };
  const positions = new Int32Array(n);
  let t = 0;
  for (const b of blocks) {
    positions.set(b.positions, t);
    t += b.numTokens;
  }
  return {
    keys: Array.from({ length: numLayers }, (_, l) => join((b) => b.keys[l]!)),
    values: Array.from({ length: numLayers }, (_, l) => join((b) => b.values[l]!)),
    numTokens: n,
    positions,
  };
}

/** attention_bias [S, capacity+S]: 0 where allowed, -Infinity elsewhere; slots past `past` are always blocked. */
function computeKvLinkBias(mask: "causal" | Uint8Array, past: number, capacity: number, numNew: number): Float32Array {
  const width = capacity + numNew;
  const bias = new Float32Array(numNew * width).fill(-Infinity);
  for (let r = 0; r < numNew; r++) {
    const row = r * width;
    if (mask === "causal") {
      bias.fill(0, row, row + past);
      bias.fill(0, row + capacity, row + capacity + r + 1);
      continue;
    }
    const src = r * (past + numNew);
    for (let c = 0; c < past; c++) if (mask[src + c]) bias[row + c] = 0;
    for (let c = 0; c < numNew; c++) if (mask[src + past + c]) bias[row + capacity + c] = 0;
  }
  return bias;
}

/** A float32 output checked against its expected dims, as an array that owns its whole buffer (transferable). */
function float32Output(outputs: InferenceSession.OnnxValueMapType, name: string, dims: readonly number[]): Float32Array {
  const tensor = outputs[name];
  invariant(tensor !== undefined, `graph output ${name} is missing`, { name });
  const actual = (tensor as Tensor).dims;
  invariant(
    (tensor as Tensor).type === "float32" && actual.length === dims.length && actual.every((d, i) => d === dims[i]),
    `graph output ${name} is ${(tensor as Tensor).type} [${actual.join(", ")}], expected float32 [${dims.join(", ")}]`,
    { name, expected: [...dims], actual: [...actual] },
  );
  const data = (tensor as Tensor).data as Float32Array;
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer ? data : data.slice();
}

/** A resident document of an fp32-slot runtime (the standard signature's PresentKvCache takes only those). */
function asFloat32Document(doc: ResidentDocument): DocumentKv {
  const f32 = (a: Float32Array | Uint16Array): Float32Array => {
    invariant(a instanceof Float32Array, "an fp16 resident document in an fp32 runtime");
    return a;
  };
  return { keys: doc.keys.map(f32), values: doc.values.map(f32), numTokens: doc.numTokens };
}

/** A slot buffer as a past input: fp32, or fp16 raw bits (Node 20 has no Float16Array: ORT takes a Uint16Array). */
function slotTensor(data: Float32Array | Uint16Array, dims: number[]): Tensor {
  return data instanceof Uint16Array ? new Tensor("float16", data, dims) : new Tensor("float32", data, dims);
}

/** The past inputs' element type: every layer's keys and values must agree, float32 or float16. */
function detectSlotType(session: InferenceSession, modelPath: string): PastKvType {
  const types = new Set(
    session.inputMetadata.filter((m) => m.name.startsWith("past_key_values.")).map((m) => (m.isTensor ? String(m.type) : "not a tensor")),
  );
  const [only] = types;
  if (types.size === 1 && (only === "float32" || only === "float16")) return only;
  throw new ModelFormatError(`${modelPath}: past KV inputs must all be float32 or all float16, found [${[...types].join(", ")}]`, {
    details: { modelPath, types: [...types] },
  });
}

/**
 * The kvlink graph's past key layout from the declared shape of past_key_values.0.key: [B,KVH,D,P] (D fixed,
 * P symbolic) is "dimMajor" (decomposed attention); anything else is taken as [B,KVH,P,D], "tokenMajor".
 */
function detectKeyLayout(session: InferenceSession, spec: ModelSpec): KeyLayout {
  const meta = session.inputMetadata.find((m) => m.name === IoNames.pastKey(0));
  const shape = meta !== undefined && meta.isTensor ? meta.shape : [];
  return shape.length === 4 && shape[2] === spec.headDim && typeof shape[3] === "string" ? "dimMajor" : "tokenMajor";
}

/** The graph must have past inputs and KV outputs for exactly spec.numLayers layers. */
function checkLayerIo(session: InferenceSession, spec: ModelSpec, signature: GraphSignature, modelPath: string): void {
  const required: string[] = [IoNames.logits];
  for (let l = 0; l < spec.numLayers; l++) {
    required.push(signature === "kvlink" ? IoNames.newKey(l) : IoNames.presentKey(l));
    required.push(signature === "kvlink" ? IoNames.newValue(l) : IoNames.presentValue(l));
  }
  const missingOut = required.filter((n) => !session.outputNames.includes(n));
  const missingIn: string[] = [];
  for (let l = 0; l < spec.numLayers; l++) {
    for (const n of [IoNames.pastKey(l), IoNames.pastValue(l)]) if (!session.inputNames.includes(n)) missingIn.push(n);
  }
  const extraLayer = session.inputNames.includes(IoNames.pastKey(spec.numLayers));
  if (missingOut.length > 0 || missingIn.length > 0 || extraLayer) {
    throw new ModelFormatError(
      `${modelPath} does not match its config (${spec.numLayers} layers, ${signature} signature): ` +
        `missing inputs [${missingIn.join(", ")}], missing outputs [${missingOut.join(", ")}]` +
        (extraLayer ? `, and it has more than ${spec.numLayers} layers` : ""),
      { details: { modelPath, missingIn, missingOut, numLayers: spec.numLayers } },
    );
  }
}
