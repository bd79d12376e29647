import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { DocumentInterface } from "@langchain/core/documents";
import { LLM, type BaseLLMCallOptions, type BaseLLMParams } from "@langchain/core/language_models/llms";
import { GenerationChunk, type LLMResult } from "@langchain/core/outputs";
import type { KvLinkEngineLike, KvLinkGenerateRequest } from "./engine.js";
import { checkEngine } from "./checkEngine.js";
import { parseKVLinkPrompt } from "./format.js";
import { checkDocuments, DocumentList } from "./messages.js";
import { toKVLinkMetadata, toUsageMetadata } from "./metadata.js";
import { pickGenerationParams, resolveGenerationParams, type KVLinkGenerationParams } from "./params.js";

export interface KVLinkLLMCallOptions extends BaseLLMCallOptions, Partial<KVLinkGenerationParams> {
  /** Documents for this call: their KV caches are reused (computed and stored on a miss). */
  documents?: DocumentInterface[];
}

export interface KVLinkLLMInput extends BaseLLMParams, KVLinkGenerationParams {
  /** An engine already created (e.g. `await KvLinkEngine.create(...)`); the caller keeps ownership. */
  engine: KvLinkEngineLike;
  /** A name for traces. Default "kvlink". */
  model?: string;
  /** System message put before every prompt. Default: the chat template's own default. */
  system?: string;
  /** Stop sequences for every call (call options add to them). */
  stop?: string[];
}

/**
 * String in, string out over a KvLinkEngine. The prompt is sent as one user turn through the model's chat
 * template (the engine has no raw-completion mode); documents come from call options or are marked in the prompt
 * by formatDocumentsForKVLink. Each generation's `generationInfo.kvlink` reports KV reuse.
 */
export class KVLinkLLM extends LLM<KVLinkLLMCallOptions> {
  static override lc_name(): string {
    return "KVLinkLLM";
  }

  override lc_serializable = false;
  readonly engine: KvLinkEngineLike;
  readonly model: string;
  readonly system: string | undefined;
  readonly stop: readonly string[] | undefined;
  readonly #params: KVLinkGenerationParams;

  constructor(fields: KVLinkLLMInput) {
    super(fields);
    this.engine = checkEngine(fields?.engine, "KVLinkLLM");
    this.model = fields.model ?? "kvlink";
    this.system = fields.system;
    this.stop = fields.stop === undefined ? undefined : [...fields.stop];
    this.#params = pickGenerationParams(fields);
  }

  _llmType(): string {
    return "kvlink";
  }

  override invocationParams(options?: this["ParsedCallOptions"]): Record<string, unknown> {
    return { model: this.model, ...resolveGenerationParams({ ...this.#params, stop: this.stop }, options ?? {}) };
  }

  override async *_streamResponseChunks(
    prompt: string,
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<GenerationChunk> {
    const parsed = parseKVLinkPrompt(prompt);
    const documents = new DocumentList();
    for (const doc of checkDocuments(options.documents, "KVLinkLLM")) documents.add(doc);
    for (const doc of parsed.documents) documents.add(doc);
    const request: KvLinkGenerateRequest = {
      question: parsed.text,
      ...(this.system === undefined ? {} : { system: this.system }),
      ...(documents.list.length > 0 ? { documents: documents.list } : {}),
      ...resolveGenerationParams({ ...this.#params, stop: this.stop }, options),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    const documentKeys = documents.list.map((doc) => this.engine.documentKey(doc.text));
    const stream = this.engine.generate(request);
    for await (const piece of stream) {
      if (piece.length === 0) continue;
      const chunk = new GenerationChunk({ text: piece });
      yield chunk;
      await runManager?.handleLLMNewToken(piece, undefined, undefined, undefined, undefined, { chunk });
    }
    const result = await stream.result();
    options.signal?.throwIfAborted();
    yield new GenerationChunk({
      text: "",
      generationInfo: {
        finish_reason: result.finishReason,
        usage_metadata: toUsageMetadata(result),
        kvlink: toKVLinkMetadata(result, documentKeys),
      },
    });
  }

  /** Collects the stream; `generate()` callers get `generationInfo` (KV reuse) and token usage too. */
  override async _generate(prompts: string[], options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun): Promise<LLMResult> {
    const collected = await Promise.all(prompts.map((prompt) => this.#collect(prompt, options, runManager)));
    let promptTokens = 0;
    let completionTokens = 0;
    for (const chunk of collected) {
      const usage = chunk.generationInfo?.["usage_metadata"] as { input_tokens: number; output_tokens: number } | undefined;
      promptTokens += usage?.input_tokens ?? 0;
      completionTokens += usage?.output_tokens ?? 0;
    }
    return {
      generations: collected.map((chunk) => [{ text: chunk.text, ...(chunk.generationInfo === undefined ? {} : { generationInfo: chunk.generationInfo }) }]),
      llmOutput: { tokenUsage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens } },
    };
  }

  /** The text of one prompt (LLM's contract; `_generate` is what LangChain calls). */
  async _call(prompt: string, options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun): Promise<string> {
    return (await this.#collect(prompt, options, runManager)).text;
  }

  async #collect(prompt: string, options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun): Promise<GenerationChunk> {
    let aggregated = new GenerationChunk({ text: "" });
    for await (const chunk of this._streamResponseChunks(prompt, options, runManager)) aggregated = aggregated.concat(chunk);
    return aggregated;
  }
}
