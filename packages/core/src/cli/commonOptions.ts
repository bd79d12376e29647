import { Command, Option } from "commander";
import { ADAPTER_POLICIES, adapterScaleFor, type AdapterPolicy } from "../engine/adapterPolicy.js";
import { LINK_MODES, type LinkMode } from "../link/LinkPlan.js";
import { providerSettingsOf, type ExecutionProviderSettings } from "../runtime/executionProvider.js";
import { parseChoice, parseInteger, parseNumber } from "./parseOptions.js";

/** Flags added by addModelOptions. */
export interface ModelFlags {
  model?: string;
  threads?: number;
  placementThreads?: number;
  executionProvider: string;
  deviceId?: number;
  /** false after --no-tf32. */
  tf32?: boolean;
  adapter: AdapterPolicy;
}

/** The adapter_scale of a command whose prompts cite no documents (generate, chat), per --adapter. */
export function documentFreeAdapterScale(flags: Pick<ModelFlags, "adapter">): { adapterScale: number } {
  return { adapterScale: adapterScaleFor(flags.adapter, { numDocuments: 0 }) };
}

/** Flags added by addStoreOptions (`store` is false after --no-store). */
export interface StoreFlags {
  store?: string | false;
  namespace: string;
}

/** Flags added by addSamplingOptions. */
export interface SamplingFlags {
  maxTokens: number;
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export const DEFAULT_NAMESPACE = "default";
/** Token budget of one document when files are cut into documents (precompute and ask agree, so keys match). */
export const DEFAULT_MAX_DOC_TOKENS = 512;

/** --model, --threads, --placement-threads, --adapter, --execution-provider, --device-id, --no-tf32. */
export function addModelOptions(command: Command): Command {
  command
    .option("--model <model>", "a preset (kvlink models), a model folder or a .gguf file (default: smollm2-135m-instruct, set up on first use)")
    .option("--threads <n>", "ONNX Runtime intra-op threads", parseInteger)
    .option("--placement-threads <n>", "threads that place cached documents into a prompt (default min(cores, 8); 1 = none beside inference)", parseInteger);
  return addExecutionProviderOptions(addAdapterOption(command));
}

/** --adapter documents|always (see engine/adapterPolicy.ts). */
export function addAdapterOption(command: Command): Command {
  return command.addOption(
    new Option("--adapter <where>", "where the model's KVLink adapter runs: documents (prompts that cite documents) | always")
      .argParser(parseChoice<AdapterPolicy>(ADAPTER_POLICIES))
      .default("documents"),
  );
}

/** --execution-provider, --device-id, --no-tf32. */
export function addExecutionProviderOptions(command: Command): Command {
  return command
    .option("--execution-provider <ep>", "cpu | webgpu | cuda (after `kvlink setup --gpu cuda`) | another ORT provider", "cpu")
    .option("--device-id <n>", "GPU ordinal for cuda", parseInteger)
    .option("--no-tf32", "cuda: full fp32 matrix math instead of TF32 (sets NVIDIA_TF32_OVERRIDE=0)");
}

/** The engine/model options of the execution-provider flags, without undefined keys. */
export function providerOptionsFromFlags(flags: Pick<ModelFlags, "executionProvider" | "deviceId" | "tf32">): {
  executionProvider: string;
  providerSettings?: ExecutionProviderSettings;
} {
  // commander sets tf32 to true unless --no-tf32 is given: only false is a choice (true leaves ORT's default).
  const settings = providerSettingsOf({ deviceId: flags.deviceId, tf32: flags.tf32 === false ? false : undefined });
  return { executionProvider: flags.executionProvider, ...(settings !== undefined ? { providerSettings: settings } : {}) };
}

/** --store, --namespace (and --no-store when `allowNone`). */
export function addStoreOptions(command: Command, allowNone: boolean): Command {
  command.option("--store <url>", "document-cache store: memory://, sqlite://<path>, redis://host:port (default sqlite://$KVLINK_HOME/cache.sqlite)");
  if (allowNone) command.option("--no-store", "use no persistent store (documents are computed in this process only)");
  return command.option("--namespace <ns>", "tenant namespace in the store", DEFAULT_NAMESPACE);
}

/** --max-tokens, --greedy, --temperature, --top-k, --top-p, --seed. */
export function addSamplingOptions(command: Command, defaultMaxTokens: number): Command {
  return command
    .option("--max-tokens <n>", "most tokens to generate", parseInteger, defaultMaxTokens)
    .option("--greedy", "pick the most likely token (no sampling)")
    .option("--temperature <t>", "sampling temperature", parseNumber)
    .option("--top-k <k>", "keep the k most likely tokens (0 = off)", parseInteger)
    .option("--top-p <p>", "nucleus sampling mass (1 = off)", parseNumber)
    .option("--seed <n>", "sampling seed", parseInteger);
}

/** --mode full|naive|rerotate|kvlink. */
export function modeOption(): Option {
  return new Option("--mode <mode>", `how documents are linked: ${LINK_MODES.join(" | ")}`).argParser(parseChoice<LinkMode>(LINK_MODES)).default("kvlink");
}

/** The sampling fields of a generate request, without undefined keys (exactOptionalPropertyTypes-safe). */
export function samplingFromFlags(flags: SamplingFlags): {
  maxTokens: number;
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
} {
  return {
    maxTokens: flags.maxTokens,
    ...(flags.greedy ? { greedy: true } : {}),
    ...(flags.temperature !== undefined ? { temperature: flags.temperature } : {}),
    ...(flags.topK !== undefined ? { topK: flags.topK } : {}),
    ...(flags.topP !== undefined ? { topP: flags.topP } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
  };
}

/** Whether the command runs with the global --verbose. */
export function isVerbose(command: Command): boolean {
  return command.optsWithGlobals<{ verbose?: boolean }>().verbose === true;
}
