import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LinkedPrompt } from "../../../../packages/core/src/engine/KvLinkEngine.js";
import { buildBlockMask } from "../../../../packages/core/src/link/buildAttentionMask.js";
import { flattenLayout } from "../../../../packages/core/src/link/LinkPlan.js";
import { referenceForward } from "../../../support/referenceForward.js";
import { buildDecoderGraph } from "../../../../packages/core/src/graph/buildDecoderGraph.js";
import type { GraphSignature } from "../../../../packages/core/src/graph/ioNames.js";
import { createRandomWeights } from "../../../../packages/core/src/model/createRandomWeights.js";
import type { ModelWeights } from "../../../../packages/core/src/model/ModelWeights.js";
import { writeModelFolder } from "../../../../packages/core/src/model/modelFolder.js";
import { tinySpec } from "../../../../packages/core/src/model/tinySpec.js";
import { createTinyTokenizer } from "../../../../packages/core/src/tokenizer/createTinyTokenizer.js";

export interface EngineFixture {
  readonly dir: string;
  readonly weights: ModelWeights;
  cleanup(): Promise<void>;
}

/**
 * A tiny model folder whose weights the test also holds (for the reference forward pass), with K link tokens
 * per document slot (the tiny tokenizer's 16 <|link_i|> ids, reused modulo 16 for larger K·slots).
 */
export async function writeEngineFixture(options: {
  signature: GraphSignature;
  numLinkTokens: number;
  seed?: number;
  maxPositionEmbeddings?: number;
}): Promise<EngineFixture> {
  const dir = await mkdtemp(join(tmpdir(), "kvlink-engine-"));
  const vocabSize = 384;
  const tok = createTinyTokenizer({ vocabSize });
  const spec = tinySpec({ vocabSize, maxPositionEmbeddings: options.maxPositionEmbeddings ?? 1024, numLayers: 2 });
  const weights = createRandomWeights(spec, { seed: options.seed ?? 7 });
  const built = buildDecoderGraph(weights, { signature: options.signature });
  const K = options.numLinkTokens;
  const numSlots = 12;
  const linkIds = tok.specialTokenIds.link;
  await writeModelFolder(dir, {
    spec,
    onnx: { model: built.model },
    tokenizerJson: tok.tokenizerJson,
    tokenizerConfig: tok.tokenizerConfig,
    generationConfig: { bos_token_id: tok.specialTokenIds.imStart, eos_token_id: tok.specialTokenIds.imEnd },
    kvlink: {
      formatVersion: 1,
      numLinkTokens: K,
      linkTokenIds: Array.from({ length: numSlots }, (_, i) => Array.from({ length: K }, (_, j) => linkIds[(i * K + j) % linkIds.length]!)),
      memStartTokenId: tok.specialTokenIds.memStart,
      memEndTokenId: tok.specialTokenIds.memEnd,
    },
  });
  return { dir, weights, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const WORDS = "the agent reads a shelf of notes about rivers cities numbers and small facts that other agents share".split(" ");

/** Deterministic filler documents of roughly `numWords` words. */
export function makeDocuments(count: number, numWords: number, seed = 1): string[] {
  let s = seed;
  const next = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s;
  };
  return Array.from({ length: count }, (_, d) =>
    `Note ${d + 1}: ` + Array.from({ length: numWords }, () => WORDS[next() % WORDS.length]).join(" ") + ".",
  );
}

/** The last-position logits of the reference forward over the whole layout with the KVLink block mask. */
export function referenceLastLogits(weights: ModelWeights, linked: LinkedPrompt): Float32Array {
  const { tokenIds, segmentOf } = flattenLayout(linked.plan, (key) => linked.documentTokenIds.get(key)!);
  const out = referenceForward(weights, { inputIds: tokenIds, positionIds: tokenIds.map((_, i) => i), mask: buildBlockMask(segmentOf) });
  const V = weights.spec.vocabSize;
  return out.logits.slice((tokenIds.length - 1) * V, tokenIds.length * V);
}
