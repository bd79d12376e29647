import { ConfigError, DisposedError, InvalidInputError, ModelFormatError } from "../errors/KvLinkError.js";
import { parseSamplingOptions, type SamplingOptionsInput } from "../generate/SamplingOptionsSchema.js";
import { createResponseConstraint, type ResponseFormatInput } from "../generate/constrain/responseFormat.js";
import type { GraphSignature } from "../graph/ioNames.js";
import type { ModelSpec } from "../model/ModelSpec.js";
import { readModelFolder, type ModelFolder } from "../model/modelFolder.js";
import { InProcessRuntime } from "../runtime/InProcessRuntime.js";
import type { AttentionMaskInput, ExecutionProvider, KvBlock, Runtime, TokenIds } from "../runtime/Runtime.js";
import type { ExecutionProviderSettings } from "../runtime/executionProvider.js";
import { RuntimeClient } from "../runtime/RuntimeClient.js";
import { renderChatTemplate, type ChatMessage } from "../tokenizer/chatTemplate.js";
import { HfTokenizer } from "../tokenizer/HfTokenizer.js";
import type { Tokenizer } from "../tokenizer/Tokenizer.js";
import { silentLogger, type Logger } from "../util/Logger.js";
import { DecoderSequence } from "./DecoderSequence.js";
import { GenerationStream } from "./GenerationStream.js";
import { runGeneration } from "./runGeneration.js";

export interface LoadModelOptions {
  /** Default "cpu". */
  readonly executionProvider?: ExecutionProvider;
  /** Device id and CUDA numerics (TF32) of the provider. */
  readonly providerSettings?: ExecutionProviderSettings;
  /** ORT intra-op threads; default os.availableParallelism(). */
  readonly numThreads?: number;
  readonly logger?: Logger;
  /** Run ONNX Runtime on the calling thread instead of a worker (tests, tools). Default false. */
  readonly inProcess?: boolean;
  /** Bytes of document caches the runtime keeps resident (KvLinkEngine's documentCacheBytes); default the runtime's. */
  readonly documentCacheBytes?: number;
  /** Threads that place document caches into a prompt (KvLinkEngine's placementThreads); default the runtime's. */
  readonly placementThreads?: number;
  /**
   * adapter_scale of every sequence (models with LoRA branches): 1 (default) = the adapted model as converted,
   * 0 = its base weights. KvLinkEngine picks it per prompt instead (EngineOptions.adapter).
   */
  readonly adapterScale?: number;
}

/** Exactly one of `prompt` (raw text, no template), `messages` (rendered with the chat template) or `promptTokenIds`. */
export interface GenerateOptions extends SamplingOptionsInput {
  readonly prompt?: string;
  readonly messages?: readonly ChatMessage[];
  readonly promptTokenIds?: readonly number[];
  /** Constrains the output (JSON schema, JSON object, tool calls); see ResponseFormatSchema. Default plain text. */
  readonly responseFormat?: ResponseFormatInput;
  readonly signal?: AbortSignal;
}

export interface ModelForwardArgs {
  readonly inputIds: TokenIds;
  readonly positionIds?: readonly number[] | Int32Array;
  readonly mask?: AttentionMaskInput;
  /** Default 0 (logits of every input token). */
  readonly numLogitsToKeep?: number;
  /** KV placed in the slots before the input tokens (copied). */
  readonly past?: KvBlock;
}

export interface ModelForwardResult {
  readonly logits: Float32Array;
  readonly numLogits: number;
  readonly vocabSize: number;
  /** The input tokens' KV, per layer [KVH, S, D]. */
  readonly newKv: KvBlock;
}

/**
 * A loaded decoder: its spec, tokenizer and runtime (a worker thread by default). Stateless `forward` for tests
 * and tools, `createSequence` for callers managing KV themselves, `generate` for streaming text.
 */
export class DecoderModel implements AsyncDisposable {
  readonly spec: ModelSpec;
  readonly tokenizer: Tokenizer;
  readonly folder: ModelFolder;
  readonly #runtime: Runtime;
  readonly #logger: Logger;
  readonly #adapterScale: number;
  #disposing: Promise<void> | undefined;

  private constructor(folder: ModelFolder, tokenizer: Tokenizer, runtime: Runtime, logger: Logger, adapterScale: number) {
    this.#adapterScale = adapterScale;
    this.folder = folder;
    this.spec = folder.spec;
    this.tokenizer = tokenizer;
    this.#runtime = runtime;
    this.#logger = logger;
  }

  /** Reads the folder, loads the tokenizer, and starts the runtime; see loadModel(). */
  static async load(dir: string, options: LoadModelOptions = {}): Promise<DecoderModel> {
    const logger = options.logger ?? silentLogger;
    const folder = await readModelFolder(dir);
    const tokenizer = await HfTokenizer.load(dir);
    if (tokenizer.vocabSize > folder.spec.vocabSize) {
      throw new ModelFormatError(
        `${dir}: the tokenizer can produce ids up to ${tokenizer.vocabSize - 1}, but config.json has vocab_size ${folder.spec.vocabSize}`,
        { details: { dir, tokenizerVocabSize: tokenizer.vocabSize, vocabSize: folder.spec.vocabSize } },
      );
    }
    const runtimeOptions = {
      modelPath: folder.paths.onnxModel,
      spec: folder.spec,
      logger,
      ...(options.executionProvider !== undefined ? { executionProvider: options.executionProvider } : {}),
      ...(options.providerSettings !== undefined ? { providerSettings: options.providerSettings } : {}),
      ...(options.numThreads !== undefined ? { numThreads: options.numThreads } : {}),
      ...(options.documentCacheBytes !== undefined ? { documentCacheBytes: options.documentCacheBytes } : {}),
      ...(options.placementThreads !== undefined ? { placementThreads: options.placementThreads } : {}),
    };
    const runtime = options.inProcess ? await InProcessRuntime.create(runtimeOptions) : await RuntimeClient.create(runtimeOptions);
    return new DecoderModel(folder, tokenizer, runtime, logger, options.adapterScale ?? 1);
  }

  /** Which I/O contract the graph implements (detected from its input names). */
  get signature(): GraphSignature {
    return this.#runtime.info.signature;
  }
  get runtime(): Runtime {
    return this.#runtime;
  }
  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  /** A new, empty KV cache in this model's runtime. */
  async createSequence(): Promise<DecoderSequence> {
    this.#ensureNotDisposed();
    return new DecoderSequence(this.#runtime, await this.#runtime.createSequence({ adapterScale: this.#adapterScale }));
  }

  /** One pass over `inputIds` (after `past`, if given) in a throwaway sequence: logits and the new tokens' KV. */
  async forward(args: ModelForwardArgs): Promise<ModelForwardResult> {
    await using sequence = await this.createSequence();
    if (args.past !== undefined) await sequence.appendKv(args.past);
    const out = await sequence.forward({
      inputIds: args.inputIds,
      ...(args.positionIds !== undefined ? { positionIds: args.positionIds } : {}),
      ...(args.mask !== undefined ? { mask: args.mask } : {}),
      numLogitsToKeep: args.numLogitsToKeep ?? 0,
      returnKv: true,
    });
    return { logits: out.logits, numLogits: out.numLogits, vocabSize: out.vocabSize, newKv: out.newKv! };
  }

  /** Token ids of a prompt: raw text as text (no special tokens), or messages through the chat template. */
  encodePrompt(options: Pick<GenerateOptions, "prompt" | "messages" | "promptTokenIds">): number[] {
    const given = [options.prompt, options.messages, options.promptTokenIds].filter((x) => x !== undefined).length;
    if (given !== 1) {
      throw new InvalidInputError(`generate: give exactly one of prompt, messages or promptTokenIds (got ${given})`);
    }
    if (options.promptTokenIds !== undefined) return [...options.promptTokenIds];
    if (options.prompt !== undefined) return this.tokenizer.encode(options.prompt, { specialTokens: "text" });
    const template = this.tokenizer.chatTemplate;
    if (template === undefined) throw new ConfigError(`generate: messages need a chat template; ${this.folder.paths.tokenizerConfig} has none`);
    const rendered = renderChatTemplate(template, options.messages!, {
      addGenerationPrompt: true,
      ...(this.tokenizer.bosToken !== undefined ? { bosToken: this.tokenizer.bosToken } : {}),
      ...(this.tokenizer.eosToken !== undefined ? { eosToken: this.tokenizer.eosToken } : {}),
    });
    return this.tokenizer.encode(rendered, { specialTokens: "parse" });
  }

  /**
   * Streams generated text. Options are checked now (ConfigError / InvalidInputError thrown synchronously);
   * generation then runs in its own sequence, freed when it ends. Abort with `signal`.
   */
  generate(options: GenerateOptions): GenerationStream {
    this.#ensureNotDisposed();
    const startedAt = performance.now();
    const { prompt: _p, messages: _m, promptTokenIds: _t, signal, responseFormat, ...sampling } = options;
    const { maxTokens } = parseSamplingOptions(sampling);
    const constraint = createResponseConstraint(responseFormat, this.tokenizer, { maxTokens });
    const promptIds = this.encodePrompt(options);
    if (promptIds.length === 0) throw new InvalidInputError("generate: the prompt encodes to zero tokens");
    return new GenerationStream(async (emit, cancelled) => {
      await using sequence = await this.createSequence();
      const stop = signal ? AbortSignal.any([signal, cancelled]) : cancelled;
      const result = await runGeneration(sequence, this.spec, this.tokenizer, { promptIds, sampling, startedAt, signal: stop, constraint }, emit);
      this.#logger.debug({ ...result.stats, finishReason: result.finishReason }, "generation finished");
      return result;
    });
  }

  /** Frees the runtime (worker, session, every sequence). Idempotent. */
  dispose(): Promise<void> {
    this.#disposing ??= this.#runtime.dispose();
    return this.#disposing;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  #ensureNotDisposed(): void {
    if (this.#disposing !== undefined) throw new DisposedError("this DecoderModel has been disposed");
  }
}
