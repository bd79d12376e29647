import { KvLayoutError } from "../errors/KvLinkError.js";

/** A brand so model fingerprints never mix with other strings (hex sha256). */
export type ModelFingerprint = string & { readonly __brand: "ModelFingerprint" };

/** Shape of one document's cache: per layer, keys and values are [numKvHeads, numTokens, headDim]. */
export interface KvLayout {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly numTokens: number;
  readonly headDim: number;
}

/**
 * One document's KV cache, computed alone from position 0 (no BOS, no system prompt). Keys are post-RoPE
 * at positions 0..numTokens-1; re-rotation moves them to the document's global offset when linked.
 */
export interface DocumentKvCache {
  readonly fingerprint: ModelFingerprint;
  readonly tokenIds: Int32Array;
  readonly layout: KvLayout;
  /** Per layer [numKvHeads, numTokens, headDim] fp32. */
  readonly keys: readonly Float32Array[];
  readonly values: readonly Float32Array[];
}

export function kvLayerSize(layout: KvLayout): number {
  return layout.numKvHeads * layout.numTokens * layout.headDim;
}

/** Bytes of an fp32 document cache (keys + values, all layers). */
export function kvSizeBytes(layout: KvLayout): number {
  return 2 * layout.numLayers * kvLayerSize(layout) * 4;
}

/** Throws KvLayoutError unless every layer block has the size the layout says. */
export function assertKvConsistent(cache: DocumentKvCache): void {
  const { layout } = cache;
  const size = kvLayerSize(layout);
  if (cache.tokenIds.length !== layout.numTokens) {
    throw new KvLayoutError(`cache has ${cache.tokenIds.length} token ids but its layout says ${layout.numTokens} tokens`);
  }
  if (cache.keys.length !== layout.numLayers || cache.values.length !== layout.numLayers) {
    throw new KvLayoutError(`cache has ${cache.keys.length}/${cache.values.length} key/value layers, expected ${layout.numLayers}`);
  }
  for (let l = 0; l < layout.numLayers; l++) {
    if (cache.keys[l]!.length !== size || cache.values[l]!.length !== size) {
      throw new KvLayoutError(`layer ${l}: expected ${size} values per block, got keys ${cache.keys[l]!.length}, values ${cache.values[l]!.length}`, {
        details: { layer: l, expected: size },
      });
    }
  }
}
