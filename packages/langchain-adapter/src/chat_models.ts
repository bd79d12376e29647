import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { DocumentInterface } from "@langchain/core/documents";
import type { BaseLanguageModelInput, StructuredOutputMethodOptions, ToolDefinition } from "@langchain/core/language_models/base";
import {
  BaseChatModel,
  type BaseChatModelCallOptions,
  type BaseChatModelParams,
  type BindToolsInput,
  type LangSmithParams,
  type ToolChoice,
} from "@langchain/core/language_models/chat_models";
import { AIMessageChunk, type BaseMessage, type ToolCallChunk } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import type { Runnable } from "@langchain/core/runnables";
import { convertToOpenAITool } from "@langchain/core/utils/function_calling";
import type { SerializableSchema } from "@langchain/core/utils/standard_schema";
import type { ZodV3Like, ZodV4Like } from "@langchain/core/utils/types";
import { InvalidInputError, InvariantError, UnsupportedModelError } from "@kvlink/core";
import type { KvLinkChatMessage, KvLinkEngineLike, KvLinkGenerateRequest } from "./engine.js";
import { checkEngine } from "./checkEngine.js";
import { toEngineConversation } from "./messages.js";
import { toKVLinkMetadata, toUsageMetadata } from "./metadata.js";
import { pickGenerationParams, resolveGenerationParams, type KVLinkGenerationParams } from "./params.js";
import {
  forcedToolName,
  withToolInstructions,
  TOOL_CALL_CLOSE,
  TOOL_CALL_OPEN,
  toolCallResponseFormat,
  ToolCallStreamParser,
  type ToolCallingMode,
  type ToolCallParserEvent,
} from "./tools.js";

export interface ChatKVLinkCallOptions extends BaseChatModelCallOptions, Partial<KVLinkGenerationParams> {
  /** Documents for this call: their KV caches are reused (computed and stored on a miss). */
  documents?: DocumentInterface[];
  /** Set by `bindTools` (OpenAI-format definitions). */
  tools?: ToolDefinition[];
}

export interface ChatKVLinkInput extends BaseChatModelParams, KVLinkGenerationParams {
  /** An engine already created (e.g. `await KvLinkEngine.create(...)`); the caller keeps ownership. */
  engine: KvLinkEngineLike;
  /** A name for traces and response metadata. Default "kvlink". */
  model?: string;
  /** Stop sequences for every call (call options add to them). */
  stop?: string[];
  /**
   * How tools reach the model: "prompt" (default) describes them in the system message with the `<tool_call>`
   * convention of tools.ts; "template" passes them to a chat template that renders `tools` itself; "none" for a
   * model that cannot call tools (bindTools throws UnsupportedModelError).
   */
  toolCalling?: ToolCallingMode;
  /**
   * The tool_choice of calls that bind tools but give none. Default "auto": the model may answer in text, and a call
   * it starts is constrained to the tools' schemas. "any" (or a tool name) makes every such call a tool call.
   */
  toolChoice?: ToolChoice;
}

/**
 * A LangChain chat model over a KvLinkEngine: documents given as call options (`documents`) or marked in message
 * text (`formatDocumentsForKVLink`) become cached segments, so calls that share documents reuse their KV caches.
 * Each answer reports reuse in `response_metadata.kvlink` and `usage_metadata.input_token_details`. Holds no
 * conversation state, so one instance serves concurrent calls (LangGraph nodes, batch).
 */
export class ChatKVLink extends BaseChatModel<ChatKVLinkCallOptions, AIMessageChunk> {
  static override lc_name(): string {
    return "ChatKVLink";
  }

  override lc_serializable = false;
  readonly engine: KvLinkEngineLike;
  readonly model: string;
  readonly stop: readonly string[] | undefined;
  readonly toolCalling: ToolCallingMode;
  readonly toolChoice: ToolChoice | undefined;
  readonly #params: KVLinkGenerationParams;
  /** Set while withStructuredOutput runs (it calls bindTools synchronously): that binding forces its one tool. */
  #bindingStructuredOutput = false;

  constructor(fields: ChatKVLinkInput) {
    super(fields);
    this.engine = checkEngine(fields?.engine, "ChatKVLink");
    this.model = fields.model ?? "kvlink";
    this.stop = fields.stop === undefined ? undefined : [...fields.stop];
    const toolCalling = fields.toolCalling ?? "prompt";
    if (toolCalling !== "prompt" && toolCalling !== "template" && toolCalling !== "none") {
      throw new InvalidInputError(`ChatKVLink: toolCalling must be "prompt", "template" or "none", got ${JSON.stringify(toolCalling)}`);
    }
    this.toolCalling = toolCalling;
    this.toolChoice = fields.toolChoice;
    this.#params = pickGenerationParams(fields);
  }

  _llmType(): string {
    return "kvlink";
  }

  override invocationParams(options?: this["ParsedCallOptions"]): Record<string, unknown> {
    return {
      model: this.model,
      ...resolveGenerationParams({ ...this.#params, stop: this.stop }, options ?? {}),
      ...(options?.tools === undefined ? {} : { tools: options.tools.map((tool) => tool.function.name) }),
    };
  }

  override getLsParams(options: this["ParsedCallOptions"]): LangSmithParams {
    const params = resolveGenerationParams({ ...this.#params, stop: this.stop }, options);
    return {
      ls_provider: "kvlink",
      ls_model_name: this.model,
      ls_model_type: "chat",
      ...(params.temperature === undefined ? {} : { ls_temperature: params.temperature }),
      ...(params.maxTokens === undefined ? {} : { ls_max_tokens: params.maxTokens }),
      // Always present, as BaseChatModel.getLsParams has it (undefined when no stop list is set).
      ls_stop: params.stop === undefined ? undefined : [...params.stop],
    } as LangSmithParams;
  }

  /** Binds tools (LangChain tools, zod-schema tools or OpenAI definitions); see tools.ts for the call format. */
  override bindTools(tools: BindToolsInput[], kwargs?: Partial<ChatKVLinkCallOptions>): Runnable<BaseLanguageModelInput, AIMessageChunk, ChatKVLinkCallOptions> {
    this.#ensureToolCalling(tools.length);
    const definitions = tools.map((tool) => convertToOpenAITool(tool) as ToolDefinition);
    if (this.#bindingStructuredOutput && definitions.length === 1) {
      // withStructuredOutput (method "functionCalling"): the tool is forced, so the decoder writes exactly one call
      // of it, and traces say the output is structured (as LangChain's providers do).
      const fn = definitions[0]!.function;
      return this.withConfig({
        tools: definitions,
        tool_choice: fn.name,
        ls_structured_output_format: { kwargs: { method: "functionCalling" }, schema: fn.parameters },
        ...kwargs,
      } as Partial<ChatKVLinkCallOptions>);
    }
    return this.withConfig({ tools: definitions, ...kwargs });
  }

  /** LangChain's withStructuredOutput ("functionCalling"), with the tool forced: constrained decoding writes the call. */
  override withStructuredOutput<RunOutput extends Record<string, any> = Record<string, any>>(
    outputSchema: SerializableSchema<RunOutput>,
    config?: StructuredOutputMethodOptions<false>,
  ): Runnable<BaseLanguageModelInput, RunOutput>;
  override withStructuredOutput<RunOutput extends Record<string, any> = Record<string, any>>(
    outputSchema: SerializableSchema<RunOutput>,
    config?: StructuredOutputMethodOptions<true>,
  ): Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }>;
  override withStructuredOutput<RunOutput extends Record<string, any> = Record<string, any>>(
    outputSchema: ZodV4Like<RunOutput> | Record<string, any>,
    config?: StructuredOutputMethodOptions<false>,
  ): Runnable<BaseLanguageModelInput, RunOutput>;
  override withStructuredOutput<RunOutput extends Record<string, any> = Record<string, any>>(
    outputSchema: ZodV4Like<RunOutput> | Record<string, any>,
    config?: StructuredOutputMethodOptions<true>,
  ): Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }>;
  override withStructuredOutput<RunOutput extends Record<string, any> = Record<string, any>>(
    outputSchema: ZodV3Like<RunOutput> | Record<string, any>,
    config?: StructuredOutputMethodOptions<false>,
  ): Runnable<BaseLanguageModelInput, RunOutput>;
  override withStructuredOutput<RunOutput extends Record<string, any> = Record<string, any>>(
    outputSchema: ZodV3Like<RunOutput> | Record<string, any>,
    config?: StructuredOutputMethodOptions<true>,
  ): Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }>;
  override withStructuredOutput(outputSchema: StructuredOutputSchema, config?: StructuredOutputMethodOptions<boolean>): Runnable {
    this.#bindingStructuredOutput = true;
    try {
      return super.withStructuredOutput(outputSchema, config as StructuredOutputMethodOptions<false>);
    } finally {
      this.#bindingStructuredOutput = false;
    }
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const { request, useTools } = this.#buildRequest(messages, options);
    const documentKeys = (request.documents ?? []).map((doc) => this.engine.documentKey(typeof doc === "string" ? doc : doc.text));
    const stream = this.engine.generate(request);
    const parser = useTools ? new ToolCallStreamParser() : undefined;
    let numToolCalls = 0;
    const toChunk = (event: ToolCallParserEvent): ChatGenerationChunk => {
      if (event.kind === "text") return new ChatGenerationChunk({ text: event.text, message: new AIMessageChunk({ content: event.text }) });
      const index = numToolCalls++;
      const toolCallChunk: ToolCallChunk =
        event.kind === "tool_call"
          ? { type: "tool_call_chunk", id: event.call.id, name: event.call.name, args: JSON.stringify(event.call.args), index }
          : // No id: LangChain files an id-less chunk under invalid_tool_calls.
            { type: "tool_call_chunk", ...(event.call.name === undefined ? {} : { name: event.call.name }), args: event.call.args, index };
      return new ChatGenerationChunk({ text: "", message: new AIMessageChunk({ content: "", tool_call_chunks: [toolCallChunk] }) });
    };
    const emit = async function* (events: readonly ToolCallParserEvent[]): AsyncGenerator<ChatGenerationChunk> {
      for (const event of events) {
        const chunk = toChunk(event);
        yield chunk;
        await runManager?.handleLLMNewToken(chunk.text, undefined, undefined, undefined, undefined, { chunk });
      }
    };
    for await (const piece of stream) {
      if (piece.length === 0) continue;
      yield* emit(parser === undefined ? [{ kind: "text", text: piece }] : parser.push(piece));
    }
    if (parser !== undefined) yield* emit(parser.flush());
    const result = await stream.result();
    options.signal?.throwIfAborted();
    yield new ChatGenerationChunk({
      text: "",
      message: new AIMessageChunk({
        content: "",
        usage_metadata: toUsageMetadata(result),
        response_metadata: {
          model_provider: "kvlink",
          model: this.model,
          model_name: this.model,
          finish_reason: result.finishReason,
          kvlink: toKVLinkMetadata(result, documentKeys),
        },
      }),
      generationInfo: { finish_reason: result.finishReason },
    });
  }

  /** Collects `_streamResponseChunks` into one AIMessageChunk (the output type LangChain's helpers expect). */
  override async _generate(messages: BaseMessage[], options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun): Promise<ChatResult> {
    let aggregated: ChatGenerationChunk | undefined;
    for await (const chunk of this._streamResponseChunks(messages, options, runManager)) {
      aggregated = aggregated === undefined ? chunk : aggregated.concat(chunk);
    }
    if (aggregated === undefined) throw new InvariantError("ChatKVLink: _streamResponseChunks yielded no chunk (it always ends with a metadata chunk)");
    const usage = (aggregated.message as AIMessageChunk).usage_metadata;
    return {
      generations: [aggregated],
      llmOutput:
        usage === undefined
          ? {}
          : { tokenUsage: { promptTokens: usage.input_tokens, completionTokens: usage.output_tokens, totalTokens: usage.total_tokens } },
    };
  }

  #buildRequest(messages: readonly BaseMessage[], options: this["ParsedCallOptions"]): { request: KvLinkGenerateRequest; useTools: boolean } {
    const conversation = toEngineConversation(messages, options.documents, "ChatKVLink");
    const tools = options.tools ?? [];
    this.#ensureToolCalling(tools.length);
    const toolChoice = options.tool_choice ?? this.toolChoice;
    const useTools = tools.length > 0 && toolChoice !== "none";
    let engineMessages: KvLinkChatMessage[] = conversation.messages;
    let templateVariables: Record<string, unknown> | undefined;
    let responseFormat: KvLinkGenerateRequest["responseFormat"];
    if (useTools) {
      const forced = forcedToolName(toolChoice);
      if (forced !== undefined && !tools.some((tool) => tool.function.name === forced)) {
        throw new InvalidInputError(`ChatKVLink: tool_choice names "${forced}", which is not among the bound tools (${tools.map((t) => t.function.name).join(", ")})`, {
          details: { toolChoice: forced },
        });
      }
      if (this.toolCalling === "template") templateVariables = { tools };
      else engineMessages = withToolInstructions(engineMessages, tools, toolChoice);
      // The decoder writes the calls: masked to `<tool_call>{"name": <a bound tool>, "arguments": <its schema>}`.
      responseFormat = toolCallResponseFormat(tools, toolChoice, this.toolCalling === "template" ? { open: `${TOOL_CALL_OPEN}\n`, close: `\n${TOOL_CALL_CLOSE}` } : {});
    }
    const request: KvLinkGenerateRequest = {
      messages: engineMessages,
      ...(conversation.documents.length > 0 ? { documents: conversation.documents } : {}),
      ...resolveGenerationParams({ ...this.#params, stop: this.stop }, options),
      ...(templateVariables === undefined ? {} : { templateVariables }),
      ...(responseFormat === undefined ? {} : { responseFormat }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    return { request, useTools };
  }

  #ensureToolCalling(numTools: number): void {
    if (numTools > 0 && this.toolCalling === "none") {
      throw new UnsupportedModelError(
        `ChatKVLink "${this.model}" cannot call tools (toolCalling: "none"); use a model whose chat template or the "prompt" convention supports tool calls`,
        { details: { model: this.model, toolCalling: this.toolCalling } },
      );
    }
  }
}

/** Whatever BaseChatModel.withStructuredOutput takes as a schema (zod v3/v4, a standard schema, JSON schema). */
type StructuredOutputSchema = Parameters<BaseChatModel["withStructuredOutput"]>[0];

