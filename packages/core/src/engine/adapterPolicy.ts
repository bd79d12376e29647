import type { AdapterTask } from "../model/modelFolder.js";

/**
 * Where a model's LoRA adapter (the KVLink fine-tune) runs: "documents" (default) in the prompts it was trained
 * for, and the base weights elsewhere; "always" in every prompt. What it was trained for is the model's
 * kvlink.json `adapterTasks`: "documents" (prompts that cite at least one document, and document encoding) and,
 * for adapters trained on tool calling, "tools" (prompts with bound tools, i.e. a `tool_calls` response format).
 * One rule for the engine, the CLI's document-free commands (generate, chat) and the eval's no-document checks.
 */
export const ADAPTER_POLICIES = ["documents", "always"] as const;
export type AdapterPolicy = (typeof ADAPTER_POLICIES)[number];

/** An adapter whose kvlink.json names no tasks was trained for documents only (recipes 1–3). */
export const DEFAULT_ADAPTER_TASKS: readonly AdapterTask[] = ["documents"];

/** What a prompt uses, as far as the adapter policy cares. */
export interface PromptUse {
  readonly numDocuments: number;
  /** Tools are bound (the request's responseFormat is `tool_calls`). */
  readonly toolsBound?: boolean;
}

/** The graph's adapter_scale for a prompt under `policy` (1 = adapted, 0 = base); `tasks` is what the adapter was trained for. */
export function adapterScaleFor(policy: AdapterPolicy, use: PromptUse, tasks: readonly AdapterTask[] = DEFAULT_ADAPTER_TASKS): number {
  if (policy === "always") return 1;
  return (use.numDocuments > 0 && tasks.includes("documents")) || (use.toolsBound === true && tasks.includes("tools")) ? 1 : 0;
}
