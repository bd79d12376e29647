/**
 * Where a model's LoRA adapter (the KVLink fine-tune) runs: "documents" (default) in prompts that cite at least one
 * document and in document encoding, which is what it was trained for, and the base weights elsewhere; "always" in
 * every prompt. One rule for the engine, the CLI's document-free commands (generate, chat) and the eval's
 * no-document checks.
 */
export const ADAPTER_POLICIES = ["documents", "always"] as const;
export type AdapterPolicy = (typeof ADAPTER_POLICIES)[number];

/** The graph's adapter_scale for a prompt citing `numDocuments` documents under `policy` (1 = adapted, 0 = base). */
export function adapterScaleFor(policy: AdapterPolicy, numDocuments: number): number {
  return policy === "always" || numDocuments > 0 ? 1 : 0;
}
