import type { WireError } from "../errors/wire.js";
import type { ModelSpec } from "../model/ModelSpec.js";
import type { ExecutionProviderSettings } from "./executionProvider.js";
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

/** What the worker needs to load its session (sent once, as `workerData`). */
export interface WorkerInit {
  readonly modelPath: string;
  readonly spec: ModelSpec;
  readonly executionProvider: ExecutionProvider;
  readonly providerSettings?: ExecutionProviderSettings;
  readonly numThreads: number;
  readonly documentCacheBytes: number;
  readonly placementThreads?: number;
}

/** Each operation, tied to its arguments and its result, so neither side casts. */
export interface RuntimeOps {
  createSequence: { args: CreateSequenceOptions; result: SequenceId };
  forward: { args: { sequenceId: SequenceId; forward: ForwardArgs }; result: ForwardResult };
  appendKv: { args: { sequenceId: SequenceId; block: KvBlock }; result: SequenceStatus };
  putDocument: { args: { key: string; block: KvBlock }; result: null };
  hasDocuments: { args: { keys: readonly string[] }; result: boolean[] };
  readDocument: { args: { key: string }; result: KvBlock | null };
  appendDocument: { args: { sequenceId: SequenceId; key: string; append: AppendDocumentArgs }; result: SequenceStatus };
  readKv: { args: { sequenceId: SequenceId; start: number; end: number }; result: KvBlock };
  truncate: { args: { sequenceId: SequenceId; length: number }; result: SequenceStatus };
  disposeSequence: { args: { sequenceId: SequenceId }; result: null };
  /** Frees the session; the worker is terminated afterwards. */
  release: { args: Record<string, never>; result: null };
}
export type RuntimeOp = keyof RuntimeOps;

/** Main → worker. */
export type RuntimeRequest = { [K in RuntimeOp]: { readonly id: number; readonly op: K; readonly args: RuntimeOps[K]["args"] } }[RuntimeOp];

/** Worker → main: first `ready` or `loadFailed`, then one `ok` or `error` per request id. */
export type RuntimeResponse =
  | { readonly kind: "ready"; readonly info: RuntimeInfo }
  | { readonly kind: "loadFailed"; readonly error: WireError }
  | { readonly kind: "ok"; readonly id: number; readonly result: unknown }
  | { readonly kind: "error"; readonly id: number; readonly error: WireError };

/** The buffers of a KV block, for a transfer list. */
export function kvBlockBuffers(block: KvBlock): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const a of [...block.keys, ...block.values, block.positions]) {
    if (a.buffer instanceof ArrayBuffer) buffers.add(a.buffer);
  }
  return [...buffers];
}
