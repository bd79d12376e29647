/** @kvlink/core public entry: named exports only (package.json "exports" blocks deep imports). */
export const VERSION = "0.1.0";

// Errors
export { KvLinkErrorCode } from "./errors/codes.js";
export {
  CacheCorruptError,
  ConfigError,
  ContextOverflowError,
  DisposedError,
  DownloadError,
  ExecutionProviderError,
  InvalidInputError,
  InvariantError,
  KvLayoutError,
  KvLinkError,
  ModelFormatError,
  ModelLoadError,
  RopeUnsupportedError,
  RuntimeError,
  StoreUnavailableError,
  TokenizerError,
  UnsupportedModelError,
  WorkerCrashedError,
  type KvLinkErrorOptions,
} from "./errors/KvLinkError.js";
export { silentLogger, type Logger } from "./util/Logger.js";

// Model description, weights, folders
export { numInputTokenIds, type ModelSpec, type RopeSpec, type RopeScalingLinear, type RopeScalingLlama3 } from "./model/ModelSpec.js";
export { LORA_TARGETS, type LayerWeights, type LinearWeight, type LoraBranch, type LoraTarget, type ModelWeights } from "./model/ModelWeights.js";
export { hfConfigToSpec, specToHfConfig } from "./model/hfConfig.js";
export {
  readModelFolder,
  writeModelFolder,
  type KvLinkConfig,
  type ModelFolder,
  type ModelFolderPaths,
  type WriteModelFolderInput,
} from "./model/modelFolder.js";

// Tokenizer
export type { DecodeOptions, EncodeOptions, Tokenizer } from "./tokenizer/Tokenizer.js";
export { HfTokenizer } from "./tokenizer/HfTokenizer.js";
export { IncrementalDecoder } from "./tokenizer/IncrementalDecoder.js";
export { renderChatTemplate, type ChatMessage, type ChatTemplateOptions } from "./tokenizer/chatTemplate.js";

// ONNX graphs
export { detectSignature, IoNames, type GraphSignature } from "./graph/ioNames.js";
export { buildDecoderGraph, type BuildDecoderGraphOptions } from "./graph/buildDecoderGraph.js";

// Runtime (worker thread / in-process)
export type {
  AttentionMaskInput,
  ExecutionProvider,
  ForwardArgs,
  ForwardResult,
  KvBlock,
  Runtime,
  RuntimeInfo,
  RuntimeOptions,
  SequenceId,
  SequenceStatus,
  TokenIds,
} from "./runtime/Runtime.js";
export { RuntimeClient, type RuntimeClientOptions } from "./runtime/RuntimeClient.js";
export { InProcessRuntime } from "./runtime/InProcessRuntime.js";

// Sampling and stopping
export { Sampler, type TokenDistribution } from "./generate/Sampler.js";
export { StopCondition, type StopConditionOptions, type StopReason } from "./generate/StopCondition.js";
export {
  parseSamplingOptions,
  SamplingOptionsSchema,
  type SamplingOptions,
  type SamplingOptionsInput,
} from "./generate/SamplingOptionsSchema.js";

// Constrained decoding (JSON schema, JSON object, tool calls)
export type { LogitsConstraint } from "./generate/LogitsConstraint.js";
export {
  createResponseConstraint,
  parseResponseFormat,
  ResponseFormatSchema,
  type ResponseFormat,
  type ResponseFormatInput,
} from "./generate/constrain/responseFormat.js";
export { compileJsonSchema, type GrammarNode } from "./generate/constrain/compileJsonSchema.js";
export { ByteAutomaton, type AutomatonOptions, type AutomatonState, type ProgramStep } from "./generate/constrain/ByteAutomaton.js";
export { TokenTrie, computeTokenBytes } from "./generate/constrain/TokenTrie.js";
export { maskAllows, TokenMasker, type TokenMaskOptions } from "./generate/constrain/TokenMask.js";
export { GrammarConstraint } from "./generate/constrain/GrammarConstraint.js";

// Decoder model and generation
export { loadModel } from "./decoder/loadModel.js";
export {
  DecoderModel,
  type GenerateOptions,
  type LoadModelOptions,
  type ModelForwardArgs,
  type ModelForwardResult,
} from "./decoder/DecoderModel.js";
export { DecoderSequence } from "./decoder/DecoderSequence.js";
export { GenerationStream, type FinishReason, type GenerationResult, type GenerationStats } from "./decoder/GenerationStream.js";

// RoPE
export { computeInvFreq } from "./rope/computeInvFreq.js";
export { parseRopeScaling } from "./rope/parseRopeScaling.js";
export { assertRopeRerotatable } from "./rope/assertRopeRerotatable.js";
export { buildRerotateGraph, RerotateIoNames } from "./graph/buildRerotateGraph.js";

// KV caches and the KVLink layout
export type { DocumentKvCache, KvLayout, ModelFingerprint } from "./kv/DocumentKvCache.js";
export { computeModelFingerprint } from "./model/modelFingerprint.js";
export {
  cachedTokenPositions,
  LINK_MODES,
  planLink,
  type DocumentPlacement,
  type LayoutPiece,
  type LinkMode,
  type LinkPlan,
  type LinkTokenConfig,
} from "./link/LinkPlan.js";
export { buildPositionMask } from "./link/buildAttentionMask.js";
export { buildPromptLayout, documentSegmentText } from "./link/buildPromptLayout.js";

// Engine
export {
  computeFolderFingerprint,
  EngineOptionsSchema,
  KvLinkEngine,
  type EngineOptionsInput,
  type LinkedPrompt,
} from "./engine/KvLinkEngine.js";

// Documents: chunking files into cacheable documents
export { chunkDocument, type ChunkDocumentOptions, type DocumentChunk } from "./precompute/chunkDocument.js";
export { expandDocumentPaths, TEXT_FILE_EXTENSIONS } from "./precompute/expandDocumentPaths.js";
export type {
  ChatMessage as KvLinkChatMessage,
  DocumentInput,
  FinishReason as KvLinkFinishReason,
  GenerateRequest,
  GenerationResult as KvLinkGenerationResult,
  GenerationStats as KvLinkGenerationStats,
  PhaseTimings,
  PrecomputeResult,
  SamplingInput,
} from "./engine/types.js";

// Document-cache store
export { KeyvKvCacheStore, type KeyvKvCacheStoreOptions } from "./store/KeyvKvCacheStore.js";
export type {
  CacheEntryInfo,
  CacheLookup,
  CacheSource,
  CacheStoreStats,
  GcReport,
  KvCacheStore,
  VerifyEntryReport,
} from "./store/KvCacheStore.js";
export { computeCacheKey, type CacheKeyString } from "./store/cacheKey.js";
export { encodeKvCache } from "./store/codec/encodeKvCache.js";
export { decodeKvCache } from "./store/codec/decodeKvCache.js";
export { FORMAT_VERSION, type KvCacheDtype } from "./store/codec/kvFormat.js";
export { defaultStoreUrl, parseStoreUrl } from "./store/backend/parseStoreUrl.js";

// GGUF / Hugging Face conversion and the default model
export { GgufFile } from "./gguf/GgufFile.js";
export { dequantize } from "./gguf/dequantize.js";
export { loadGgufWeights } from "./convert/loadGgufWeights.js";
export { loadSafetensorsWeights } from "./convert/loadSafetensorsWeights.js";
export { ADAPTER_FILE_NAME, convertModel } from "./convert/convertModel.js";
export { applyLoraAdapter, loadLoraAdapter, type LoraAdapter } from "./convert/loadLoraAdapter.js";
export { ensureDefaultModel, SMOLLM2_BASE_SOURCE, SMOLLM2_SOURCE } from "./setup/ensureDefaultModel.js";
export { ensureModel, isModelSetUp, resolveKvlinkHome, type ModelSource, type SetupProgress, type WheelModelSource } from "./setup/ensureModel.js";
export type { GgufPart, PipPartsModelSource } from "./setup/fetchGgufParts.js";
export { DEFAULT_PRESET_NAME, findModelPreset, MODEL_PRESETS, type ModelPreset } from "./setup/modelPresets.js";
export { ensurePresetModel, resolveModel, type ResolveModelOptions } from "./setup/resolveModel.js";
