import { StoreUnavailableError } from "../../errors/KvLinkError.js";
import type { Keyv } from "keyv";
import { isCacheKeyString, type CacheKeyString } from "../cacheKey.js";
import { KV_CACHE_DTYPES } from "../codec/kvFormat.js";
import type { StoredEntryMeta } from "./StoreBackend.js";

/**
 * The per-namespace entry index, one keyv record per entry (key = cache key, value = JSON StoredEntryMeta).
 * One record per entry instead of one shared index value means concurrent writers in several processes never
 * lose each other's updates: there is no read-modify-write. Records are re-checked on read, so a record of
 * another namespace or a malformed one is never returned. Keyv must be built with `throwOnErrors: true`.
 */
export class KeyvMetaIndex {
  readonly #keyv: Keyv<string>;
  readonly #namespace: string;

  constructor(keyv: Keyv<string>, namespace: string) {
    this.#keyv = keyv;
    this.#namespace = namespace;
    // Errors reach us as rejections (throwOnErrors); keyv also emits them, and an unheard 'error' would throw.
    keyv.on("error", () => {});
  }

  get keyv(): Keyv<string> {
    return this.#keyv;
  }

  async get(key: CacheKeyString): Promise<StoredEntryMeta | undefined> {
    const raw = await this.#keyv.get(key);
    return raw === undefined ? undefined : this.#parse(key, raw);
  }

  async set(meta: StoredEntryMeta, ttlMs?: number): Promise<void> {
    const ok = await this.#keyv.set(meta.key, JSON.stringify(meta), ttlMs);
    if (!ok) throw new StoreUnavailableError(`keyv refused to store the index record of ${meta.key}`);
  }

  async delete(key: CacheKeyString): Promise<void> {
    await this.#keyv.delete(key);
  }

  async list(): Promise<StoredEntryMeta[]> {
    const iterate = this.#keyv.iterator;
    if (iterate === undefined) throw new StoreUnavailableError("this keyv store cannot be iterated");
    const out: StoredEntryMeta[] = [];
    for await (const [key, raw] of iterate(undefined)) {
      if (typeof key !== "string" || typeof raw !== "string" || !isCacheKeyString(key)) continue;
      const meta = this.#parse(key, raw);
      if (meta !== undefined) out.push(meta);
    }
    return out;
  }

  #parse(key: CacheKeyString, raw: string): StoredEntryMeta | undefined {
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      return undefined;
    }
    if (typeof v !== "object" || v === null) return undefined;
    const m = v as Record<string, unknown>;
    const ok = m.key === key && m.namespace === this.#namespace && typeof m.fingerprint === "string" &&
      KV_CACHE_DTYPES.includes(m.dtype as never) && Number.isInteger(m.numTokens) && Number.isInteger(m.sizeBytes) &&
      typeof m.createdAtMs === "number" && (m.expiresAtMs === undefined || typeof m.expiresAtMs === "number");
    return ok ? (m as unknown as StoredEntryMeta) : undefined;
  }
}
