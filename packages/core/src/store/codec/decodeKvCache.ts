import { timingSafeEqual } from "node:crypto";
import { entryDigest } from "./encodeKvCache.js";
import { endianness } from "node:os";
import { CacheCorruptError } from "../../errors/KvLinkError.js";
import type { DocumentKvCache, KvLayout, ModelFingerprint } from "../../kv/DocumentKvCache.js";
import { invariant } from "../../util/invariant.js";
import { type CacheKeyString, computeCacheKey, NAMESPACE_PATTERN } from "../cacheKey.js";
import { decodeFloat16 } from "./float16.js";
import { dequantizeInt8PerChannel } from "./int8Channels.js";
import {
  blockSizeBytes,
  CHECKSUM_BYTES,
  CODE_TO_DTYPE,
  FORMAT_VERSION,
  headerSizeBytes,
  type KvCacheDtype,
  Limits,
  MAGIC,
  NAMESPACE_FIELD_BYTES,
  Offsets,
  payloadSizeBytes,
} from "./kvFormat.js";

/** The check that rejected an entry, in `CacheCorruptError.details.check`. */
export type CacheCheck =
  | "truncated" | "magic" | "version" | "dtype" | "flags" | "header-length" | "layout" | "payload-length"
  | "length" | "checksum" | "namespace" | "token-ids" | "key-derivation" | "key" | "fingerprint" | "geometry"
  | "scale" | "authentication";

export interface DecodeKvCacheOptions {
  /** The fingerprint of the model asking: an entry of any other model is rejected. */
  readonly expectedFingerprint: ModelFingerprint;
  /** The key the entry was looked up under: an entry stored under another key is rejected. */
  readonly expectedKey?: CacheKeyString;
  /** The model's geometry when known: an entry claiming another one is rejected (even with a valid checksum). */
  readonly expectedGeometry?: Omit<KvLayout, "numTokens">;
  /** The store secret the entry must be authenticated with (HMAC); entries without a valid tag are rejected. */
  readonly secret?: string;
}

/** A decoded entry's header fields, without the payload. */
export interface KvCacheEntryHeader {
  readonly formatVersion: number;
  readonly dtype: KvCacheDtype;
  readonly layout: KvLayout;
  readonly fingerprint: ModelFingerprint;
  readonly key: CacheKeyString;
  readonly namespace: string;
  readonly headerBytes: number;
  readonly payloadBytes: number;
}

function corrupt(check: CacheCheck, message: string, details: Record<string, unknown> = {}): CacheCorruptError {
  return new CacheCorruptError(`cache entry rejected (${check}): ${message}`, { details: { check, ...details } });
}

/**
 * Validates and decodes one entry into an fp32 DocumentKvCache. Every check that fails throws CacheCorruptError
 * with `details.check` naming it: structure and lengths first (no allocation from an unchecked header), then the
 * sha256, then the meaning (namespace, key derived from the header, expected key, fingerprint, geometry, scales).
 */
export function decodeKvCache(buf: Buffer, options: DecodeKvCacheOptions): DocumentKvCache {
  invariant(endianness() === "LE", "the cache codec assumes a little-endian host", { endianness: endianness() });
  const header = readHeader(buf);
  const { layout, dtype, headerBytes, payloadBytes } = header;
  const hashEnd = headerBytes + payloadBytes;
  const digest = entryDigest(buf.subarray(0, hashEnd), options.secret);
  if (!timingSafeEqual(digest, buf.subarray(hashEnd, hashEnd + CHECKSUM_BYTES))) {
    if (options.secret !== undefined) {
      throw corrupt("authentication", "the entry's HMAC does not verify under this store's secret (forged, or written without it)", { bytes: buf.length });
    }
    throw corrupt("checksum", "sha256 of header and payload does not match the stored one", { bytes: buf.length });
  }
  const tokenIds = new Int32Array(layout.numTokens);
  new Uint8Array(tokenIds.buffer).set(buf.subarray(Offsets.tokenIds, headerBytes));
  for (let i = 0; i < tokenIds.length; i++) {
    if (tokenIds[i]! < 0) throw corrupt("token-ids", `token id at index ${i} is negative (${tokenIds[i]})`, { index: i });
  }
  const derivedKey = computeCacheKey({ fingerprint: header.fingerprint, tokenIds, dtype, namespace: header.namespace });
  if (derivedKey !== header.key) {
    throw corrupt("key-derivation", "the header's key is not the key of its own fingerprint, token ids, dtype and namespace", {
      expected: derivedKey, actual: header.key,
    });
  }
  if (options.expectedKey !== undefined && header.key !== options.expectedKey) {
    throw corrupt("key", "entry is stored under another key", { expected: options.expectedKey, actual: header.key });
  }
  if (header.fingerprint !== options.expectedFingerprint) {
    throw corrupt("fingerprint", "entry belongs to another model", { expected: options.expectedFingerprint, actual: header.fingerprint });
  }
  const g = options.expectedGeometry;
  if (g !== undefined && (g.numLayers !== layout.numLayers || g.numKvHeads !== layout.numKvHeads || g.headDim !== layout.headDim)) {
    throw corrupt("geometry", "entry geometry differs from the model's", { expected: g, actual: layout });
  }

  const n = layout.numKvHeads * layout.numTokens * layout.headDim;
  const blockBytes = blockSizeBytes(layout, dtype);
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  let offset = headerBytes;
  for (let l = 0; l < layout.numLayers; l++) {
    keys.push(readBlock(buf, offset, n, dtype, layout, l, "key"));
    offset += blockBytes;
    values.push(readBlock(buf, offset, n, dtype, layout, l, "value"));
    offset += blockBytes;
  }
  return { fingerprint: header.fingerprint, tokenIds, layout, keys, values };
}

/** Reads and checks the header's structure and lengths (not the checksum). Throws CacheCorruptError. */
export function readHeader(buf: Buffer): KvCacheEntryHeader {
  if (buf.length < Offsets.tokenIds + CHECKSUM_BYTES) {
    throw corrupt("truncated", `entry has ${buf.length} bytes, fewer than a minimal header`, { bytes: buf.length });
  }
  if (!buf.subarray(Offsets.magic, Offsets.magic + MAGIC.length).equals(MAGIC)) throw corrupt("magic", "not a kvlink cache entry");
  const formatVersion = buf.readUInt16LE(Offsets.version);
  if (formatVersion !== FORMAT_VERSION) {
    throw corrupt("version", `format version ${formatVersion}, expected ${FORMAT_VERSION}`, { expected: FORMAT_VERSION, actual: formatVersion });
  }
  const dtypeCode = buf.readUInt8(Offsets.dtype);
  const dtype = CODE_TO_DTYPE.get(dtypeCode);
  if (dtype === undefined) throw corrupt("dtype", `unknown dtype code ${dtypeCode}`, { actual: dtypeCode });
  if (buf.readUInt8(Offsets.flags) !== 0 || buf.readUIntLE(Offsets.reserved, 3) !== 0) {
    throw corrupt("flags", "flags or reserved bytes are not zero");
  }
  const layout: KvLayout = {
    numLayers: buf.readUInt32LE(Offsets.numLayers),
    numKvHeads: buf.readUInt32LE(Offsets.numKvHeads),
    numTokens: buf.readUInt32LE(Offsets.numTokens),
    headDim: buf.readUInt32LE(Offsets.headDim),
  };
  if (layout.numLayers < 1 || layout.numLayers > Limits.maxLayers || layout.numKvHeads < 1 || layout.numKvHeads > Limits.maxKvHeads ||
    layout.headDim < 1 || layout.headDim > Limits.maxHeadDim || layout.numTokens < 1 || layout.numTokens > Limits.maxTokens) {
    throw corrupt("layout", `layout out of range: ${JSON.stringify(layout)}`, { actual: layout });
  }
  const headerBytes = buf.readUInt32LE(Offsets.headerBytes);
  if (headerBytes !== headerSizeBytes(layout.numTokens)) {
    throw corrupt("header-length", `header length ${headerBytes}, expected ${headerSizeBytes(layout.numTokens)} for ${layout.numTokens} tokens`, {
      expected: headerSizeBytes(layout.numTokens), actual: headerBytes,
    });
  }
  const storedPayload = buf.readBigUInt64LE(Offsets.payloadBytes);
  const payloadBytes = payloadSizeBytes(layout, dtype);
  if (storedPayload !== BigInt(payloadBytes)) {
    throw corrupt("payload-length", `payload length ${storedPayload}, expected ${payloadBytes} for the layout and ${dtype}`, {
      expected: payloadBytes, actual: storedPayload.toString(),
    });
  }
  const expectedTotal = headerBytes + payloadBytes + CHECKSUM_BYTES;
  if (buf.length !== expectedTotal) {
    throw corrupt("length", `entry has ${buf.length} bytes, expected ${expectedTotal} (${buf.length < expectedTotal ? "truncated" : "extended"})`, {
      expected: expectedTotal, actual: buf.length,
    });
  }
  const nsLength = buf.readUInt8(Offsets.namespaceLength);
  const nsField = buf.subarray(Offsets.namespace, Offsets.namespace + NAMESPACE_FIELD_BYTES);
  const namespace = nsField.subarray(0, Math.min(nsLength, NAMESPACE_FIELD_BYTES)).toString("latin1");
  if (nsLength > NAMESPACE_FIELD_BYTES || !NAMESPACE_PATTERN.test(namespace) || nsField.subarray(nsLength).some((b) => b !== 0)) {
    throw corrupt("namespace", "namespace field is malformed", { length: nsLength });
  }
  return {
    formatVersion,
    dtype,
    layout,
    fingerprint: buf.toString("hex", Offsets.fingerprint, Offsets.fingerprint + 32) as ModelFingerprint,
    key: buf.toString("hex", Offsets.cacheKey, Offsets.cacheKey + 32) as CacheKeyString,
    namespace,
    headerBytes,
    payloadBytes,
  };
}

function readBlock(buf: Buffer, offset: number, n: number, dtype: KvCacheDtype, layout: KvLayout, layer: number, kind: string): Float32Array {
  const out = new Float32Array(n);
  switch (dtype) {
    case "fp32":
      new Uint8Array(out.buffer).set(buf.subarray(offset, offset + 4 * n));
      return out;
    case "fp16": {
      const abs = buf.byteOffset + offset;
      const bits = abs % 2 === 0
        ? new Uint16Array(buf.buffer, abs, n)
        : new Uint16Array(new Uint8Array(buf.subarray(offset, offset + 2 * n)).buffer); // unaligned: copy first
      decodeFloat16(bits, out);
      return out;
    }
    case "int8": {
      const numScales = layout.numKvHeads * layout.headDim;
      const scales = new Float32Array(numScales);
      new Uint8Array(scales.buffer).set(buf.subarray(offset, offset + 4 * numScales));
      for (let i = 0; i < numScales; i++) {
        const s = scales[i]!;
        if (!(Number.isFinite(s) && s >= 0)) {
          throw corrupt("scale", `int8 scale ${i} of layer ${layer} ${kind} is ${s}`, { layer, kind, index: i });
        }
      }
      const q = new Int8Array(n);
      new Uint8Array(q.buffer).set(buf.subarray(offset + 4 * numScales, offset + 4 * numScales + n));
      dequantizeInt8PerChannel({ scales, values: q }, layout, out);
      return out;
    }
  }
}
