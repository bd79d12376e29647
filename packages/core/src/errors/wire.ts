import { KvLinkErrorCode } from "./codes.js";
import * as E from "./KvLinkError.js";

/** What crosses the worker boundary: structuredClone drops subclasses, so we send fields and rebuild. */
export interface WireError {
  name: string;
  code?: string;
  message: string;
  details?: Record<string, unknown>;
  stack?: string;
}

const codeToClass: Record<string, new (m: string, o?: E.KvLinkErrorOptions) => E.KvLinkError> = {
  [KvLinkErrorCode.Config]: E.ConfigError,
  [KvLinkErrorCode.ModelLoad]: E.ModelLoadError,
  [KvLinkErrorCode.ModelFormat]: E.ModelFormatError,
  [KvLinkErrorCode.UnsupportedModel]: E.UnsupportedModelError,
  [KvLinkErrorCode.Tokenizer]: E.TokenizerError,
  [KvLinkErrorCode.InvalidInput]: E.InvalidInputError,
  [KvLinkErrorCode.KvLayout]: E.KvLayoutError,
  [KvLinkErrorCode.RopeUnsupported]: E.RopeUnsupportedError,
  [KvLinkErrorCode.ContextOverflow]: E.ContextOverflowError,
  [KvLinkErrorCode.CacheCorrupt]: E.CacheCorruptError,
  [KvLinkErrorCode.StoreUnavailable]: E.StoreUnavailableError,
  [KvLinkErrorCode.Download]: E.DownloadError,
  [KvLinkErrorCode.WorkerCrashed]: E.WorkerCrashedError,
  [KvLinkErrorCode.Disposed]: E.DisposedError,
  [KvLinkErrorCode.Invariant]: E.InvariantError,
  [KvLinkErrorCode.Runtime]: E.RuntimeError,
  [KvLinkErrorCode.ExecutionProvider]: E.ExecutionProviderError,
};

function safeDetails(d: unknown): Record<string, unknown> | undefined {
  if (d === undefined) return undefined;
  try {
    return structuredClone(d) as Record<string, unknown>;
  } catch {
    return { unserializable: String(d) };
  }
}

export function toWireError(error: unknown): WireError {
  if (error instanceof E.KvLinkError) {
    return { name: error.name, code: error.code, message: error.message, details: safeDetails(error.details), stack: error.stack };
  }
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: "Error", message: String(error) };
}

export function fromWireError(wire: WireError): Error {
  const Cls = wire.code !== undefined ? codeToClass[wire.code] : undefined;
  const error = Cls ? new Cls(wire.message, { details: wire.details }) : new E.RuntimeError(wire.message, { details: { remoteName: wire.name } });
  if (wire.stack) error.stack = `${error.name}: ${wire.message}\n    (in worker)\n${wire.stack.split("\n").slice(1).join("\n")}`;
  return error;
}
