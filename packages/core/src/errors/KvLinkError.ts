import { KvLinkErrorCode } from "./codes.js";

export interface KvLinkErrorOptions extends ErrorOptions {
  details?: Record<string, unknown>;
}

/** Base of every error kvlink throws: a stable `code`, structured `details`, and the `cause` kept. */
export class KvLinkError extends Error {
  readonly code: KvLinkErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(code: KvLinkErrorCode, message: string, options?: KvLinkErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details ?? {};
  }
}

type Sub = new (message: string, options?: KvLinkErrorOptions) => KvLinkError;
function sub(code: KvLinkErrorCode): Sub {
  return class extends KvLinkError {
    constructor(message: string, options?: KvLinkErrorOptions) {
      super(code, message, options);
    }
  };
}

/** Invalid options or configuration (wraps zod's message). */
export class ConfigError extends sub(KvLinkErrorCode.Config) {}
/** A model folder or file is missing or unreadable. */
export class ModelLoadError extends sub(KvLinkErrorCode.ModelLoad) {}
/** A model file is present but malformed (truncated GGUF, bad ONNX, bad config.json). */
export class ModelFormatError extends sub(KvLinkErrorCode.ModelFormat) {}
/** An architecture, tensor type or quantization this project does not support. */
export class UnsupportedModelError extends sub(KvLinkErrorCode.UnsupportedModel) {}
/** tokenizer.json / chat template problems. */
export class TokenizerError extends sub(KvLinkErrorCode.Tokenizer) {}
/** Caller input out of range: token id ≥ vocab, position ≥ max positions, bad shapes. */
export class InvalidInputError extends sub(KvLinkErrorCode.InvalidInput) {}
/** KV tensors whose shape, dtype or length do not match what they are used with. */
export class KvLayoutError extends sub(KvLinkErrorCode.KvLayout) {}
/** A RoPE variant that cannot be re-rotated exactly (dynamic NTK, YaRN, ...). */
export class RopeUnsupportedError extends sub(KvLinkErrorCode.RopeUnsupported) {}
/** A prompt layout longer than the model's max_position_embeddings. */
export class ContextOverflowError extends sub(KvLinkErrorCode.ContextOverflow) {}
/** A stored cache entry failed its checks; callers treat it as a miss and recompute. */
export class CacheCorruptError extends sub(KvLinkErrorCode.CacheCorrupt) {}
/** The cache store could not be reached; callers degrade to computing. */
export class StoreUnavailableError extends sub(KvLinkErrorCode.StoreUnavailable) {}
/** Fetching the default model failed (pip missing, no network, checksum mismatch). */
export class DownloadError extends sub(KvLinkErrorCode.Download) {}
/** The inference worker exited or threw outside a request. */
export class WorkerCrashedError extends sub(KvLinkErrorCode.WorkerCrashed) {}
/** A method was called on a disposed object. */
export class DisposedError extends sub(KvLinkErrorCode.Disposed) {}
/** An internal invariant did not hold: a bug, reported with what was expected. */
export class InvariantError extends sub(KvLinkErrorCode.Invariant) {}
/** ONNX Runtime failed inside a run (wrapped with the native message as cause). */
export class RuntimeError extends sub(KvLinkErrorCode.Runtime) {}
/**
 * An ONNX Runtime execution provider (cuda, webgpu, ...) could not start: its libraries are not installed, a
 * library it needs is missing, or no device is visible. `details.reason` says which, `details.hint` what to do.
 */
export class ExecutionProviderError extends sub(KvLinkErrorCode.ExecutionProvider) {}
