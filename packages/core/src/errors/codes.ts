/** Every error code the library throws. Callers branch on `code` or `instanceof`, never on message text. */
export const KvLinkErrorCode = {
  Config: "CONFIG",
  ModelLoad: "MODEL_LOAD",
  ModelFormat: "MODEL_FORMAT",
  UnsupportedModel: "UNSUPPORTED_MODEL",
  Tokenizer: "TOKENIZER",
  InvalidInput: "INVALID_INPUT",
  KvLayout: "KV_LAYOUT",
  RopeUnsupported: "ROPE_UNSUPPORTED",
  ContextOverflow: "CONTEXT_OVERFLOW",
  CacheCorrupt: "CACHE_CORRUPT",
  StoreUnavailable: "STORE_UNAVAILABLE",
  Download: "DOWNLOAD",
  WorkerCrashed: "WORKER_CRASHED",
  Disposed: "DISPOSED",
  Aborted: "ABORTED",
  Invariant: "INVARIANT",
  Runtime: "RUNTIME",
  ExecutionProvider: "EXECUTION_PROVIDER",
} as const;
export type KvLinkErrorCode = (typeof KvLinkErrorCode)[keyof typeof KvLinkErrorCode];
