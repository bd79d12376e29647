export { ChatKVLink, type ChatKVLinkCallOptions, type ChatKVLinkInput } from "./chat_models.js";
export { KVLinkLLM, type KVLinkLLMCallOptions, type KVLinkLLMInput } from "./llms.js";
export { KVLinkRetriever, KVLINK_METADATA_KEY, type KVLinkDocumentMetadata, type KVLinkRetrieverInput } from "./retrievers.js";
export {
  formatDocumentsForKVLink,
  hasKVLinkMarks,
  parseKVLinkPrompt,
  type FormatDocumentsOptions,
  type FormattableDocument,
  type ParsedKVLinkPrompt,
} from "./format.js";
export {
  formatToolCall,
  parseToolCalls,
  renderToolInstructions,
  withToolInstructions,
  ToolCallStreamParser,
  TOOL_CALL_CLOSE,
  TOOL_CALL_OPEN,
  type InvalidParsedToolCall,
  type ParsedToolCall,
  type ToolCallingMode,
  type ToolCallParserEvent,
} from "./tools.js";
export type { KVLinkCallMetadata } from "./metadata.js";
export type { KVLinkGenerationParams } from "./params.js";
export type {
  KvLinkChatMessage,
  KvLinkDocumentInput,
  KvLinkEngineLike,
  KvLinkGenerateRequest,
  KvLinkGenerationResult,
  KvLinkGenerationStream,
  KvLinkMode,
  KvLinkPrecomputeResult,
} from "./engine.js";
