import { createHash, createHmac } from "node:crypto";
import { endianness } from "node:os";
import { InvalidInputError } from "../../errors/KvLinkError.js";
import { assertKvConsistent, type DocumentKvCache } from "../../kv/DocumentKvCache.js";
import { invariant } from "../../util/invariant.js";
import { computeCacheKey, toTokenIdArray } from "../cacheKey.js";
import { encodeFloat16 } from "./float16.js";
import { quantizeInt8PerChannel } from "./int8Channels.js";
import {
  blockSizeBytes,
  CHECKSUM_BYTES,
  DTYPE_TO_CODE,
  FORMAT_VERSION,
  headerSizeBytes,
  KV_CACHE_DTYPES,
  type KvCacheDtype,
  Limits,
  MAGIC,
  NAMESPACE_FIELD_BYTES,
  Offsets,
  payloadSizeBytes,
} from "./kvFormat.js";

export interface EncodeKvCacheOptions {
  /** Storage precision: fp16 (default in the store), fp32 (exact) or int8 (per-channel scaled). */
  readonly dtype: KvCacheDtype;
  /** Tenant namespace: part of the cache key written into the header. */
  readonly namespace: string;
  /**
   * A store secret: the trailing 32 bytes become HMAC-SHA256(secret, header ‖ payload) instead of a plain sha256, so
   * only holders of the secret can write entries that readers with it accept.
   */
  readonly secret?: string;
}

/**
 * Encodes a document cache into one self-validating Buffer (layout in kvFormat.ts): header, per-layer K/V blocks
 * and a sha256 over both. Throws KvLayoutError for an inconsistent cache, InvalidInputError for bad options or
 * values int8 cannot carry.
 */
export function encodeKvCache(cache: DocumentKvCache, options: EncodeKvCacheOptions): Buffer {
  invariant(endianness() === "LE", "the cache codec assumes a little-endian host", { endianness: endianness() });
  assertKvConsistent(cache);
  const { dtype, namespace } = options;
  if (!KV_CACHE_DTYPES.includes(dtype)) {
    throw new InvalidInputError(`cache dtype must be one of ${KV_CACHE_DTYPES.join(", ")}, got ${String(dtype)}`);
  }
  const { layout } = cache;
  const { numLayers, numKvHeads, numTokens, headDim } = layout;
  if (numLayers < 1 || numLayers > Limits.maxLayers || numKvHeads < 1 || numKvHeads > Limits.maxKvHeads ||
    headDim < 1 || headDim > Limits.maxHeadDim || numTokens < 1 || numTokens > Limits.maxTokens) {
    throw new InvalidInputError(`cache layout out of the storable range: ${JSON.stringify(layout)}`, { details: { ...layout } });
  }
  const tokenIds = toTokenIdArray(cache.tokenIds);
  const key = computeCacheKey({ fingerprint: cache.fingerprint, tokenIds, dtype, namespace });

  const headerBytes = headerSizeBytes(numTokens);
  const payloadBytes = payloadSizeBytes(layout, dtype);
  const total = headerBytes + payloadBytes + CHECKSUM_BYTES;
  // A fresh ArrayBuffer at offset 0 keeps every fp16 block 2-byte aligned for a direct Uint16Array view.
  const ab = new ArrayBuffer(total);
  const buf = Buffer.from(ab);

  MAGIC.copy(buf, Offsets.magic);
  buf.writeUInt16LE(FORMAT_VERSION, Offsets.version);
  buf.writeUInt8(DTYPE_TO_CODE[dtype], Offsets.dtype);
  buf.writeUInt8(0, Offsets.flags);
  buf.writeUInt32LE(headerBytes, Offsets.headerBytes);
  buf.writeUInt32LE(numLayers, Offsets.numLayers);
  buf.writeUInt32LE(numKvHeads, Offsets.numKvHeads);
  buf.writeUInt32LE(numTokens, Offsets.numTokens);
  buf.writeUInt32LE(headDim, Offsets.headDim);
  buf.write(cache.fingerprint, Offsets.fingerprint, 32, "hex");
  buf.write(key, Offsets.cacheKey, 32, "hex");
  buf.writeBigUInt64LE(BigInt(payloadBytes), Offsets.payloadBytes);
  const nsBytes = Buffer.from(namespace, "ascii");
  invariant(nsBytes.length <= NAMESPACE_FIELD_BYTES, "namespace longer than its header field", { length: nsBytes.length });
  buf.writeUInt8(nsBytes.length, Offsets.namespaceLength);
  nsBytes.copy(buf, Offsets.namespace);
  new Int32Array(ab, Offsets.tokenIds, numTokens).set(tokenIds);

  const shape = { numKvHeads, numTokens, headDim };
  const blockBytes = blockSizeBytes(layout, dtype);
  let offset = headerBytes;
  for (let l = 0; l < numLayers; l++) {
    for (const block of [cache.keys[l]!, cache.values[l]!]) {
      writeBlock(buf, offset, block, dtype, shape);
      offset += blockBytes;
    }
  }
  invariant(offset === headerBytes + payloadBytes, "encoded payload length differs from the computed one", { offset, headerBytes, payloadBytes });
  entryDigest(buf.subarray(0, offset), options.secret).copy(buf, offset);
  return buf;
}

function writeBlock(buf: Buffer, offset: number, block: Float32Array, dtype: KvCacheDtype, shape: { numKvHeads: number; numTokens: number; headDim: number }): void {
  switch (dtype) {
    case "fp32":
      buf.set(new Uint8Array(block.buffer, block.byteOffset, block.byteLength), offset);
      return;
    case "fp16":
      encodeFloat16(block, new Uint16Array(buf.buffer, buf.byteOffset + offset, block.length));
      return;
    case "int8": {
      const q = quantizeInt8PerChannel(block, shape);
      for (let i = 0; i < q.scales.length; i++) buf.writeFloatLE(q.scales[i]!, offset + 4 * i);
      buf.set(new Uint8Array(q.values.buffer, q.values.byteOffset, q.values.byteLength), offset + 4 * q.scales.length);
      return;
    }
  }
}

/** The entry's trailing check: sha256, or HMAC-SHA256 under a store secret. */
export function entryDigest(bytes: Uint8Array, secret: string | undefined): Buffer {
  return secret === undefined ? createHash("sha256").update(bytes).digest() : createHmac("sha256", secret).update(bytes).digest();
}
