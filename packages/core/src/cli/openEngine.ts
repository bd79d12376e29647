import { KvLinkEngine } from "../engine/KvLinkEngine.js";
import type { LinkMode } from "../link/LinkPlan.js";
import { defaultStoreUrl } from "../store/backend/parseStoreUrl.js";
import type { Logger } from "../util/Logger.js";
import type { ModelFlags, StoreFlags } from "./commonOptions.js";
import { resolveModelDir } from "./resolveModelDir.js";

/** The store URL of a command: --store, none after --no-store, else the default sqlite file under KVLINK_HOME. */
export function storeUrlFromFlags(flags: Partial<StoreFlags>): string | undefined {
  if (flags.store === false) return undefined;
  return flags.store ?? defaultStoreUrl();
}

/** The store secret of CLI commands: KVLINK_STORE_SECRET (an environment variable, so it is not visible in `ps`). */
export function storeSecretFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const secret = env["KVLINK_STORE_SECRET"];
  return secret === undefined || secret === "" ? undefined : secret;
}

/** A KvLinkEngine for a command's --model/--threads/--execution-provider/--store/--namespace flags. */
export async function openEngine(
  flags: ModelFlags & Partial<StoreFlags> & { mode?: LinkMode },
  options: { readonly logger: Logger; readonly signal?: AbortSignal },
): Promise<KvLinkEngine> {
  const modelDir = await resolveModelDir(flags.model, options);
  const storeUrl = storeUrlFromFlags(flags);
  return KvLinkEngine.create({
    model: modelDir,
    executionProvider: flags.executionProvider,
    ...(flags.deviceId !== undefined ? { deviceId: flags.deviceId } : {}),
    ...(flags.tf32 === false ? { tf32: false } : {}),
    adapter: flags.adapter,
    ...(flags.threads !== undefined ? { numThreads: flags.threads } : {}),
    ...(flags.placementThreads !== undefined ? { placementThreads: flags.placementThreads } : {}),
    ...(flags.mode !== undefined ? { mode: flags.mode } : {}),
    ...(storeUrl !== undefined ? { storeUrl, namespace: flags.namespace ?? "default" } : {}),
    ...(storeUrl !== undefined && storeSecretFromEnv() !== undefined ? { storeSecret: storeSecretFromEnv()! } : {}),
    logger: options.logger,
  });
}
