import { Command } from "commander";
import { ConfigError, StoreUnavailableError } from "../../errors/KvLinkError.js";
import { computeFolderFingerprint } from "../../engine/KvLinkEngine.js";
import { readModelFolder } from "../../model/modelFolder.js";
import { KeyvKvCacheStore } from "../../store/KeyvKvCacheStore.js";
import type { Logger } from "../../util/Logger.js";
import { CliExit } from "../CliExit.js";
import { addStoreOptions, isVerbose, type StoreFlags } from "../commonOptions.js";
import { createCliLogger } from "../createCliLogger.js";
import { diagnoseStore } from "../diagnoseStore.js";
import { storeSecretFromEnv, storeUrlFromFlags } from "../openEngine.js";
import { parseInteger } from "../parseOptions.js";
import { printJson } from "../printJson.js";
import { resolveModelDir } from "../resolveModelDir.js";

interface CacheFlags extends StoreFlags {
  model?: string;
  json?: boolean;
  remove?: boolean;
  quotaBytes?: number;
}

/** The store of a model (fingerprint and geometry read from its folder; the model itself is not loaded). */
async function openStore(flags: CacheFlags, logger: Logger): Promise<KeyvKvCacheStore> {
  const modelDir = await resolveModelDir(flags.model, { logger });
  const [fingerprint, folder] = await Promise.all([computeFolderFingerprint(modelDir), readModelFolder(modelDir)]);
  const { numLayers, numKvHeads, headDim } = folder.spec;
  return KeyvKvCacheStore.create({
    fingerprint,
    namespace: flags.namespace,
    ...(storeUrlFromFlags(flags) !== undefined ? { url: storeUrlFromFlags(flags)! } : {}),
    geometry: { numLayers, numKvHeads, headDim },
    ...(flags.quotaBytes !== undefined ? { quotaBytes: flags.quotaBytes } : {}),
    ...(storeSecretFromEnv() !== undefined ? { secret: storeSecretFromEnv()! } : {}),
    lruBytes: 0,
    logger,
  });
}

/** A `cache <name>` subcommand with the shared options; `run` gets the open store and prints. */
function subcommand(name: string, description: string, run: (store: KeyvKvCacheStore, flags: CacheFlags) => Promise<void>): Command {
  const command = new Command(name).description(description).option("--model <dir>", "model whose entries to read (default: the default model)");
  addStoreOptions(command, false);
  return command.option("--json", "print one JSON object").action(async (flags: CacheFlags, cmd: Command) => {
    const logger = createCliLogger(isVerbose(cmd));
    try {
      await using store = await openStore(flags, logger);
      await run(store, flags);
    } catch (error) {
      throw await namedStoreFault(error, flags);
    }
  });
}

/**
 * A store that fails for good (wrong Redis password, db or port; a corrupt sqlite file) must not read as a transient
 * outage: the failure becomes a ConfigError that names the cause; anything else is rethrown as it is.
 */
async function namedStoreFault(error: unknown, flags: CacheFlags): Promise<unknown> {
  const url = storeUrlFromFlags(flags);
  if (!(error instanceof StoreUnavailableError) || url === undefined) return error;
  const diagnosis = await diagnoseStore(url, error);
  if (diagnosis === undefined) return error;
  const store = typeof error.details["store"] === "string" ? error.details["store"] : "the cache store";
  const details = { store, diagnosis: diagnosis.kind };
  // Refused connections may be a wrong port or a stopped server: named, but still "unavailable".
  if (diagnosis.kind === "connection") return new StoreUnavailableError(`${store} is unreachable: ${diagnosis.message}`, { cause: error, details });
  return new ConfigError(`${store} is misconfigured, not unreachable: ${diagnosis.message}`, { cause: error, details });
}

/** `kvlink cache stats|ls|verify|gc`: inspect and maintain a document-cache store. */
export function cacheCommand(): Command {
  const cache = new Command("cache").description("inspect and maintain the document-cache store (one namespace, entries of one model)");
  cache.addCommand(
    subcommand("stats", "count the namespace's entries, tokens and bytes", async (store, flags) => {
      const entries = await store.list();
      const own = entries.filter((e) => e.fingerprint === store.fingerprint);
      const dtypes: Record<string, number> = {};
      for (const e of own) dtypes[e.dtype] = (dtypes[e.dtype] ?? 0) + 1;
      const out = {
        store: store.url,
        namespace: store.namespace,
        fingerprint: store.fingerprint,
        entries: own.length,
        tokens: own.reduce((sum, e) => sum + e.numTokens, 0),
        bytes: own.reduce((sum, e) => sum + e.sizeBytes, 0),
        dtypes,
        other_models: { entries: entries.length - own.length, bytes: entries.filter((e) => e.fingerprint !== store.fingerprint).reduce((s, e) => s + e.sizeBytes, 0) },
        oldest: own[0] === undefined ? null : new Date(own[0].createdAtMs).toISOString(),
        newest: own.at(-1) === undefined ? null : new Date(own.at(-1)!.createdAtMs).toISOString(),
      };
      if (flags.json) return printJson(out);
      process.stdout.write(
        `${out.store} namespace ${out.namespace}: ${out.entries} entries, ${out.tokens} tokens, ${formatBytes(out.bytes)}` +
          `${out.other_models.entries > 0 ? ` (+ ${out.other_models.entries} entries of other models, ${formatBytes(out.other_models.bytes)})` : ""}\n`,
      );
    }),
  );
  cache.addCommand(
    subcommand("ls", "list the namespace's entries, oldest first", async (store, flags) => {
      const entries = await store.list();
      if (flags.json) {
        return printJson({
          store: store.url,
          namespace: store.namespace,
          entries: entries.map((e) => ({
            key: e.key,
            tokens: e.numTokens,
            bytes: e.sizeBytes,
            dtype: e.dtype,
            created: new Date(e.createdAtMs).toISOString(),
            ...(e.expiresAtMs !== undefined ? { expires: new Date(e.expiresAtMs).toISOString() } : {}),
            this_model: e.fingerprint === store.fingerprint,
          })),
        });
      }
      for (const e of entries) {
        const other = e.fingerprint === store.fingerprint ? "" : "  (other model)";
        process.stdout.write(`${e.key}  ${String(e.numTokens).padStart(6)} tokens  ${formatBytes(e.sizeBytes).padStart(9)}  ${e.dtype}  ${new Date(e.createdAtMs).toISOString()}${other}\n`);
      }
      process.stdout.write(`${entries.length} entries\n`);
    }),
  );
  cache.addCommand(
    subcommand("verify", "read and check every entry; prints each bad one and exits with code 1 if any entry is corrupt or missing", async (store, flags) => {
      const reports = await store.verify({ remove: flags.remove === true });
      const bad = reports.filter((r) => r.status !== "ok");
      const counts = { ok: reports.length - bad.length, corrupt: bad.filter((r) => r.status === "corrupt").length, missing: bad.filter((r) => r.status === "missing").length };
      if (flags.json) {
        printJson({
          store: store.url,
          namespace: store.namespace,
          entries: reports.length,
          ...counts,
          removed: flags.remove === true ? bad.length : 0,
          bad: bad.map((r) => (r.status === "corrupt" ? { key: r.key, status: r.status, check: r.check, message: r.message } : { key: r.key, status: r.status })),
        });
      } else {
        for (const r of bad) {
          process.stdout.write(r.status === "corrupt" ? `corrupt ${r.key} (${r.check}): ${r.message}\n` : `missing ${r.key}: index record without bytes\n`);
        }
        process.stdout.write(
          `${reports.length} entries: ${counts.ok} ok, ${counts.corrupt} corrupt, ${counts.missing} missing${flags.remove === true && bad.length > 0 ? ` (${bad.length} removed)` : ""}\n`,
        );
      }
      if (bad.length > 0) throw new CliExit(1, `${bad.length} bad cache entries`);
    }).option("--remove", "delete the corrupt and missing entries (the exit code is still 1)"),
  );
  cache.addCommand(
    subcommand("gc", "delete expired entries and orphans, then the oldest entries over the quota", async (store, flags) => {
      const report = await store.gc();
      if (flags.json) {
        return printJson({
          store: store.url,
          namespace: store.namespace,
          expired: report.expired,
          orphans: report.orphans,
          evicted: report.evicted,
          remaining_entries: report.remainingEntries,
          remaining_bytes: report.remainingBytes,
        });
      }
      process.stdout.write(
        `removed ${report.expired} expired, ${report.orphans} orphans, ${report.evicted} over quota; ${report.remainingEntries} entries (${formatBytes(report.remainingBytes)}) remain\n`,
      );
    }).option("--quota-bytes <n>", "byte quota of the namespace: the oldest entries beyond it are deleted", parseInteger),
  );
  return cache;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
