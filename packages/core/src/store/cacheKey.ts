import { createHash } from "node:crypto";
import { InvalidInputError } from "../errors/KvLinkError.js";
import type { ModelFingerprint } from "../kv/DocumentKvCache.js";
import { FORMAT_VERSION, KV_CACHE_DTYPES, type KvCacheDtype } from "./codec/kvFormat.js";

/** A document cache key: hex sha256. Branded so it never mixes with doc hashes or fingerprints. */
export type CacheKeyString = string & { readonly __brand: "CacheKeyString" };

/**
 * Tenant namespaces: 1-64 of [A-Za-z0-9.-], starting alphanumeric. The alphabet leaves out `:` (the key
 * separator), `_`/`%` (SQL LIKE wildcards) and `*?[]\` (redis MATCH globs), so one tenant's prefix can never
 * match another's keys in any backend.
 */
export const NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/;

const HEX64 = /^[0-9a-f]{64}$/;

export interface CacheKeyInputs {
  readonly fingerprint: ModelFingerprint;
  readonly tokenIds: Int32Array | readonly number[];
  readonly dtype: KvCacheDtype;
  readonly namespace: string;
}

/** Throws InvalidInputError unless `namespace` matches NAMESPACE_PATTERN. */
export function assertValidNamespace(namespace: string): void {
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new InvalidInputError(`cache namespace ${JSON.stringify(namespace)} must match ${NAMESPACE_PATTERN}`, {
      details: { namespace },
    });
  }
}

/** Throws InvalidInputError unless `fingerprint` is a lowercase hex sha256. */
export function assertValidFingerprint(fingerprint: string): void {
  if (!HEX64.test(fingerprint)) {
    throw new InvalidInputError(`model fingerprint must be 64 lowercase hex digits, got ${JSON.stringify(fingerprint.slice(0, 80))}`);
  }
}

/** Token ids as an Int32Array (no copy when it already is one); InvalidInputError for non-int32 or negative ids. */
export function toTokenIdArray(tokenIds: Int32Array | readonly number[]): Int32Array {
  if (tokenIds instanceof Int32Array) {
    for (let i = 0; i < tokenIds.length; i++) {
      if (tokenIds[i]! < 0) throw new InvalidInputError(`token id at index ${i} is negative (${tokenIds[i]})`, { details: { index: i } });
    }
    return tokenIds;
  }
  const out = new Int32Array(tokenIds.length);
  for (let i = 0; i < tokenIds.length; i++) {
    const id = tokenIds[i]!;
    if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
      throw new InvalidInputError(`token id at index ${i} must be an integer in [0, 2^31), got ${id}`, { details: { index: i } });
    }
    out[i] = id;
  }
  return out;
}

/**
 * The key of one document's cache: sha256 over the format version, model fingerprint (weights, tokenizer, RoPE
 * and the rest of the spec), storage dtype, tenant namespace and the token ids as little-endian int32. It depends
 * on nothing in the process, so the same document from any agent, process or machine maps to one entry.
 */
export function computeCacheKey(inputs: CacheKeyInputs): CacheKeyString {
  assertValidFingerprint(inputs.fingerprint);
  assertValidNamespace(inputs.namespace);
  if (!KV_CACHE_DTYPES.includes(inputs.dtype)) {
    throw new InvalidInputError(`cache dtype must be one of ${KV_CACHE_DTYPES.join(", ")}, got ${String(inputs.dtype)}`);
  }
  const ids = toTokenIdArray(inputs.tokenIds);
  const idBytes = Buffer.alloc(4 * ids.length);
  for (let i = 0; i < ids.length; i++) idBytes.writeInt32LE(ids[i]!, 4 * i);
  const h = createHash("sha256");
  h.update(`kvlink-cache-key\nformat:${FORMAT_VERSION}\nfingerprint:${inputs.fingerprint}\ndtype:${inputs.dtype}\n`);
  h.update(`namespace:${inputs.namespace}\ntokens:${ids.length}\n`);
  h.update(idBytes);
  return h.digest("hex") as CacheKeyString;
}

/** True when `s` has the shape of a cache key (64 lowercase hex digits). */
export function isCacheKeyString(s: string): s is CacheKeyString {
  return HEX64.test(s);
}
