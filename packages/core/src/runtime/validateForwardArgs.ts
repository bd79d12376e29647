import { ContextOverflowError, InvalidInputError, KvLayoutError } from "../errors/KvLinkError.js";
import type { GraphSignature } from "../graph/ioNames.js";
import type { ForwardArgs, KvBlock } from "./Runtime.js";
import type { KvGeometry } from "./SequenceKv.js";

export interface ForwardContext {
  /** Token ids accepted as input: [0, vocabSize) — the vocabulary plus any extra link-token rows. */
  readonly vocabSize: number;
  readonly maxPositionEmbeddings: number;
  readonly signature: GraphSignature;
  /** Filled slots of the sequence (P). */
  readonly pastLength: number;
  /** Position of the last slot, -1 when empty. */
  readonly lastPosition: number;
}

export interface ValidForward {
  readonly inputIds: BigInt64Array;
  readonly positions: Int32Array;
  /** "causal" or a row-major [S, P+S] matrix, 1 = may attend. */
  readonly mask: "causal" | Uint8Array;
  readonly numLogitsToKeep: number;
}

/** Checks a forward request against the model's limits before anything reaches ORT (native code must never see bad input). */
export function validateForwardArgs(args: ForwardArgs, ctx: ForwardContext): ValidForward {
  const numNew = args.inputIds?.length ?? 0;
  if (numNew === 0) throw new InvalidInputError("forward: inputIds is empty; expected at least one token id");
  const inputIds = new BigInt64Array(numNew);
  for (let i = 0; i < numNew; i++) {
    const id = args.inputIds[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= ctx.vocabSize) {
      throw new InvalidInputError(`forward: token id ${id} at index ${i} is outside the vocabulary [0, ${ctx.vocabSize})`, {
        details: { index: i, tokenId: id, vocabSize: ctx.vocabSize },
      });
    }
    inputIds[i] = BigInt(id);
  }

  const positions = new Int32Array(numNew);
  if (args.positionIds !== undefined) {
    if (args.positionIds.length !== numNew) {
      throw new InvalidInputError(`forward: positionIds has ${args.positionIds.length} entries, expected ${numNew} (one per input id)`, {
        details: { expected: numNew, actual: args.positionIds.length },
      });
    }
    for (let i = 0; i < numNew; i++) {
      const p = args.positionIds[i]!;
      if (!Number.isInteger(p) || p < 0 || p >= ctx.maxPositionEmbeddings) {
        throw new InvalidInputError(
          `forward: position id ${p} at index ${i} is outside [0, ${ctx.maxPositionEmbeddings}) (max_position_embeddings)`,
          { details: { index: i, position: p, maxPositionEmbeddings: ctx.maxPositionEmbeddings } },
        );
      }
      positions[i] = p;
    }
  } else {
    const first = ctx.lastPosition + 1;
    if (first + numNew > ctx.maxPositionEmbeddings) {
      throw new ContextOverflowError(
        `forward: ${numNew} new tokens after position ${ctx.lastPosition} need positions up to ${first + numNew - 1}, ` +
          `beyond max_position_embeddings ${ctx.maxPositionEmbeddings}`,
        { details: { lastPosition: ctx.lastPosition, numNew, maxPositionEmbeddings: ctx.maxPositionEmbeddings } },
      );
    }
    for (let i = 0; i < numNew; i++) positions[i] = first + i;
  }

  const keep = args.numLogitsToKeep;
  if (!Number.isInteger(keep) || keep < 0 || keep > numNew) {
    throw new InvalidInputError(`forward: numLogitsToKeep ${keep} is outside [0, ${numNew}] (0 = all new tokens)`, {
      details: { numLogitsToKeep: keep, numNew },
    });
  }

  return { inputIds, positions, mask: validateMask(args.mask, numNew, ctx), numLogitsToKeep: keep };
}

function validateMask(mask: ForwardArgs["mask"], numNew: number, ctx: ForwardContext): "causal" | Uint8Array {
  if (mask === undefined || mask === "causal") return "causal";
  if (ctx.signature !== "kvlink") {
    throw new InvalidInputError(
      `forward: an explicit attention mask needs the KVLink graph signature; this model has the "${ctx.signature}" signature (causal only)`,
      { details: { signature: ctx.signature } },
    );
  }
  const numCols = ctx.pastLength + numNew;
  let allowed: Uint8Array;
  if (Array.isArray(mask)) {
    const rows = mask as readonly (readonly boolean[])[];
    if (rows.length !== numNew) {
      throw new InvalidInputError(`forward: mask has ${rows.length} rows, expected ${numNew} (one per new token)`, {
        details: { expectedRows: numNew, actualRows: rows.length },
      });
    }
    allowed = new Uint8Array(numNew * numCols);
    rows.forEach((row, r) => {
      if (row.length !== numCols) {
        throw new InvalidInputError(
          `forward: mask row ${r} has ${row.length} columns, expected ${numCols} (${ctx.pastLength} past slots + ${numNew} new tokens)`,
          { details: { row: r, expectedCols: numCols, actualCols: row.length, pastLength: ctx.pastLength } },
        );
      }
      for (let c = 0; c < numCols; c++) allowed[r * numCols + c] = row[c] ? 1 : 0;
    });
  } else {
    const dense = mask as { numRows: number; numCols: number; allowed: Uint8Array };
    if (typeof dense !== "object" || dense === null || !(dense.allowed instanceof Uint8Array)) {
      throw new InvalidInputError('forward: mask must be "causal", a boolean matrix [S][P+S], or { numRows, numCols, allowed: Uint8Array }', {
        details: { maskType: dense === null ? "null" : typeof dense },
      });
    }
    if (dense.numRows !== numNew || dense.numCols !== numCols || dense.allowed.length !== numNew * numCols) {
      throw new InvalidInputError(
        `forward: mask is [${dense.numRows}, ${dense.numCols}] with ${dense.allowed.length} entries, expected [${numNew}, ${numCols}] ` +
          `(${ctx.pastLength} past slots + ${numNew} new tokens)`,
        { details: { expected: [numNew, numCols], actual: [dense.numRows, dense.numCols], pastLength: ctx.pastLength } },
      );
    }
    allowed = dense.allowed;
  }
  for (let r = 0; r < numNew; r++) {
    let any = false;
    for (let c = 0; c < numCols && !any; c++) any = allowed[r * numCols + c] !== 0;
    if (!any) {
      throw new InvalidInputError(`forward: mask row ${r} allows no key; every new token must attend to at least one slot`, {
        details: { row: r },
      });
    }
  }
  return allowed;
}

/** Checks a KV block against the model geometry and the position limit. */
export function validateKvBlock(block: KvBlock, geometry: KvGeometry, maxPositionEmbeddings: number): void {
  const { numLayers, numKvHeads, headDim } = geometry;
  const n = block.numTokens;
  if (!Number.isInteger(n) || n < 0) throw new KvLayoutError(`appendKv: numTokens ${n} is not a non-negative integer`);
  if (block.keys.length !== numLayers || block.values.length !== numLayers) {
    throw new KvLayoutError(`appendKv: got ${block.keys.length} key and ${block.values.length} value layers, expected ${numLayers}`, {
      details: { expected: numLayers, keys: block.keys.length, values: block.values.length },
    });
  }
  const expected = numKvHeads * n * headDim;
  for (let l = 0; l < numLayers; l++) {
    for (const [kind, a] of [["key", block.keys[l]], ["value", block.values[l]]] as const) {
      if (!(a instanceof Float32Array) || a.length !== expected) {
        throw new KvLayoutError(
          `appendKv: layer ${l} ${kind} has ${a instanceof Float32Array ? a.length : "non-float32"} elements, ` +
            `expected ${expected} = [${numKvHeads} kv heads, ${n} tokens, ${headDim} head dim] float32`,
          { details: { layer: l, kind, expected, actual: a instanceof Float32Array ? a.length : null } },
        );
      }
    }
  }
  if (block.positions.length !== n) {
    throw new KvLayoutError(`appendKv: positions has ${block.positions.length} entries, expected ${n}`);
  }
  for (let i = 0; i < n; i++) {
    const p = block.positions[i]!;
    if (p < 0 || p >= maxPositionEmbeddings) {
      throw new InvalidInputError(`appendKv: position ${p} at index ${i} is outside [0, ${maxPositionEmbeddings}) (max_position_embeddings)`, {
        details: { index: i, position: p, maxPositionEmbeddings },
      });
    }
  }
}
