import { ContextOverflowError, InvalidInputError } from "../errors/KvLinkError.js";

/**
 * How a prompt is assembled from cached documents and fresh tokens (KVLink, Yang et al. 2025):
 *
 * - `full`: every token is computed fresh in one ordinary causal prefill (the baseline).
 * - `naive`: cached documents are concatenated as they were encoded (keys still at positions 0..n-1).
 * - `rerotate`: cached keys are rotated to their global positions; no link tokens.
 * - `kvlink`: re-rotated caches plus K link tokens after each document, computed fresh per query.
 */
export type LinkMode = "full" | "naive" | "rerotate" | "kvlink";
export const LINK_MODES: readonly LinkMode[] = ["full", "naive", "rerotate", "kvlink"];

/** A piece of the prompt before planning: fresh text (already tokenized) or a run of cached documents. */
export type LayoutPiece =
  | { readonly kind: "text"; readonly tokenIds: readonly number[] }
  | { readonly kind: "documents"; readonly documents: readonly PlannedDocumentInput[] };

export interface PlannedDocumentInput {
  /** Identifies the document's cache (e.g. its cache key); the same document may appear in several slots. */
  readonly key: string;
  readonly tokenIds: readonly number[];
}

export interface LinkTokenConfig {
  /** K: link tokens after each document (0 for a model trained without them). */
  readonly numLinkTokens: number;
  /** Token ids per document slot: slot i uses linkTokenIds[i] (length K each). */
  readonly linkTokenIds: readonly (readonly number[])[];
  /** Optional markers around the whole document block. */
  readonly memStartTokenId?: number;
  readonly memEndTokenId?: number;
}

export interface LinkPlanOptions {
  readonly mode: LinkMode;
  readonly links: LinkTokenConfig;
  /** Recompute the first n tokens of each document fresh (EPIC-style quality knob); 0 = reuse all. */
  readonly recomputePrefixTokens?: number;
  readonly maxPositionEmbeddings: number;
}

export type FreshTokenRole = "prompt" | "link" | "marker" | "document";

/** One cached document placed in the layout. */
export interface DocumentPlacement {
  readonly slot: number;
  readonly key: string;
  readonly numTokens: number;
  /** Global position of the document's first token (o_i). */
  readonly offset: number;
  /** Tokens [0, numRecomputed) are computed fresh; [numRecomputed, numTokens) come from the cache. */
  readonly numRecomputed: number;
}

/**
 * The planned layout: global positions run contiguously over the whole prompt. Cached tokens keep their
 * document's positions (offset + local index); fresh tokens are listed in position order.
 */
export interface LinkPlan {
  readonly mode: LinkMode;
  readonly numPositions: number;
  /** Cached document runs, in layout order (empty in `full` mode). */
  readonly documents: readonly DocumentPlacement[];
  readonly freshTokenIds: readonly number[];
  readonly freshPositions: readonly number[];
  readonly freshRoles: readonly FreshTokenRole[];
  /** Document tokens computed fresh (full mode, or recomputed prefixes) and reused from caches. */
  readonly numDocTokensComputed: number;
  readonly numDocTokensReused: number;
}

/**
 * Lays out a prompt: o_i = (tokens before document i) with each earlier document followed by its K link
 * tokens; link tokens of slot i come right after document i; markers bracket the document block.
 */
export function planLink(pieces: readonly LayoutPiece[], options: LinkPlanOptions): LinkPlan {
  const { mode, links } = options;
  const useLinks = mode === "kvlink" ? links.numLinkTokens : 0;
  const recompute = mode === "full" ? Infinity : Math.max(0, options.recomputePrefixTokens ?? 0);
  const freshTokenIds: number[] = [];
  const freshPositions: number[] = [];
  const freshRoles: FreshTokenRole[] = [];
  const documents: DocumentPlacement[] = [];
  let position = 0;
  let slot = 0;
  let numDocTokensComputed = 0;
  let numDocTokensReused = 0;
  const pushFresh = (id: number, role: FreshTokenRole): void => {
    freshTokenIds.push(id);
    freshPositions.push(position++);
    freshRoles.push(role);
  };

  for (const piece of pieces) {
    if (piece.kind === "text") {
      for (const id of piece.tokenIds) pushFresh(id, "prompt");
      continue;
    }
    const useMarkers = mode === "kvlink" && piece.documents.length > 0;
    if (useMarkers && links.memStartTokenId !== undefined) pushFresh(links.memStartTokenId, "marker");
    for (const doc of piece.documents) {
      const numTokens = doc.tokenIds.length;
      const numRecomputed = Math.min(numTokens, recompute);
      const offset = position;
      for (let j = 0; j < numRecomputed; j++) pushFresh(doc.tokenIds[j]!, "document");
      numDocTokensComputed += numRecomputed;
      if (numRecomputed < numTokens) {
        documents.push({ slot, key: doc.key, numTokens, offset, numRecomputed });
        numDocTokensReused += numTokens - numRecomputed;
      }
      position = offset + numTokens;
      if (useLinks > 0) {
        const ids = links.linkTokenIds[slot];
        if (ids === undefined || ids.length !== useLinks) {
          throw new InvalidInputError(
            `this model has link tokens for ${links.linkTokenIds.length} document slots; document slot ${slot} has none (at most ${links.linkTokenIds.length} documents per prompt)`,
            { details: { slot, numSlots: links.linkTokenIds.length } },
          );
        }
        for (const id of ids) pushFresh(id, "link");
      }
      slot++;
    }
    if (useMarkers && links.memEndTokenId !== undefined) pushFresh(links.memEndTokenId, "marker");
  }

  if (position > options.maxPositionEmbeddings) {
    throw new ContextOverflowError(
      `the prompt layout needs ${position} positions but the model supports ${options.maxPositionEmbeddings} (max_position_embeddings)`,
      { details: { numPositions: position, maxPositionEmbeddings: options.maxPositionEmbeddings } },
    );
  }
  return {
    mode,
    numPositions: position,
    documents,
    freshTokenIds,
    freshPositions,
    freshRoles,
    numDocTokensComputed,
    numDocTokensReused,
  };
}

/** Global positions of the cached tokens in plan order (the order the engine places them in KV slots). */
export function cachedTokenPositions(plan: LinkPlan): Int32Array {
  let n = 0;
  for (const d of plan.documents) n += d.numTokens - d.numRecomputed;
  const out = new Int32Array(n);
  let i = 0;
  for (const d of plan.documents) for (let j = d.numRecomputed; j < d.numTokens; j++) out[i++] = d.offset + j;
  return out;
}

/**
 * The whole layout in position order, as one sequence would hold it: token ids and, per position, 0 for fresh
 * tokens or k >= 1 for the cached tokens of the k-th placed document (the segment ids of the equivalent
 * block mask). `tokenIdsOf(key)` gives a document's token ids.
 */
export function flattenLayout(plan: LinkPlan, tokenIdsOf: (key: string) => readonly number[]): { tokenIds: number[]; segmentOf: number[] } {
  const tokenIds = new Array<number>(plan.numPositions).fill(-1);
  const segmentOf = new Array<number>(plan.numPositions).fill(0);
  plan.freshTokenIds.forEach((id, i) => {
    tokenIds[plan.freshPositions[i]!] = id;
  });
  plan.documents.forEach((d, k) => {
    const ids = tokenIdsOf(d.key);
    for (let j = d.numRecomputed; j < d.numTokens; j++) {
      tokenIds[d.offset + j] = ids[j]!;
      segmentOf[d.offset + j] = k + 1;
    }
  });
  return { tokenIds, segmentOf };
}
