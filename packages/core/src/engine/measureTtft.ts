import { InvalidInputError } from "../errors/KvLinkError.js";
import type { LinkMode } from "../link/LinkPlan.js";
import type { KvLinkEngine } from "./KvLinkEngine.js";
import type { GenerateRequest } from "./types.js";

export interface MeasureTtftOptions {
  /** Documents per prompt. Default 10. */
  readonly numDocs?: number;
  /** Tokens per document (each document is cut to at most this many, as close as word boundaries allow). Default 512. */
  readonly docTokens?: number;
  /** Measured repetitions of every mode (medians are reported). Default 5. */
  readonly repetitions?: number;
  /** Unmeasured runs of every mode first (ORT allocations, JIT). Default 1. */
  readonly warmupRepetitions?: number;
  /** Default: a short question about the documents. */
  readonly question?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: { readonly phase: "documents" | "warmup" | "measure"; readonly done: number; readonly total: number }) => void;
}

/** Median milliseconds per phase of one mode (see PhaseTimings; `floor` has only place and forward). */
export type TtftPhaseMedians = Readonly<Record<string, number>>;

export type TtftRunMode = "full" | "kvlink" | "rerotate" | "floor";

export interface TtftRun {
  readonly repetition: number;
  readonly mode: TtftRunMode;
  readonly ttft_ms: number;
  readonly phases: TtftPhaseMedians;
}

/** What `kvlink bench ttft` prints. Times are medians over the repetitions; every mode ran in each repetition. */
export interface TtftReport {
  /** Ordinary prefill of the whole prompt (mode "full"), until the first token is sampled. */
  readonly full_ms: number;
  /** Linked prompt over warm document caches (mode "kvlink"), until the first token is sampled. */
  readonly kvlink_ms: number;
  /** Re-rotated caches without link tokens (mode "rerotate"); equals kvlink for a model with no link tokens. */
  readonly rerotate_ms: number;
  /** One forward pass of kvlink's fresh tokens over caches already placed (same positions and mask). */
  readonly floor_ms: number;
  readonly ratio_kvlink_full: number;
  readonly ratio_kvlink_floor: number;
  readonly num_docs: number;
  /** Total document tokens in the prompt, and per document. */
  readonly doc_tokens: number;
  readonly doc_tokens_each: readonly number[];
  /** Tokens computed in the prefill, per mode. */
  readonly fresh_tokens: { readonly full: number; readonly kvlink: number; readonly rerotate: number };
  /** Positions of the kvlink prompt (documents + link tokens + fresh text). */
  readonly positions: number;
  readonly num_link_tokens: number;
  readonly repetitions: number;
  readonly signature: "kvlink" | "standard";
  readonly phases: Readonly<Record<TtftRunMode, TtftPhaseMedians>>;
  readonly runs: readonly TtftRun[];
}

const WORDS = (
  "river city harbor market winter summer engine signal garden library bridge mountain forest island letter number " +
  "silver copper orange purple quiet rapid ancient modern northern southern council treaty merchant farmer doctor " +
  "teacher sailor painter builder keeper record archive museum station valley canyon desert meadow lantern compass " +
  "harvest festival journey border castle tower village county province estate mill quarry furnace vessel cargo " +
  "ledger charter decree season storm flood drought comet planet orbit crystal marble granite timber cotton wool " +
  "grain salt spice coffee amber pearl ivory cobalt violet scarlet emerald"
).split(" ");
const CONNECTORS = ["the", "of", "a", "near", "with", "and", "in", "by", "from", "to"];

/** A deterministic word stream (mulberry32) for document `index`: distinct per index, identical across runs. */
function syntheticWords(index: number, count: number): string[] {
  let state = (0x9e3779b9 ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [`Record ${index + 1}:`];
  for (let i = 1; i < count; i++) {
    const pool = i % 3 === 2 ? CONNECTORS : WORDS;
    let word = pool[Math.floor(next() * pool.length)]!;
    if (i % 12 === 11) word += ".";
    out.push(word);
  }
  return out;
}

/**
 * Deterministic synthetic documents of at most `docTokens` tokens each as the engine tokenizes documents
 * (the longest word prefix that fits, so usually `docTokens` or a token or two fewer). Distinct per index.
 */
export function makeSyntheticDocuments(engine: Pick<KvLinkEngine, "countTokens">, numDocs: number, docTokens: number): string[] {
  if (!Number.isInteger(numDocs) || numDocs < 1) throw new InvalidInputError(`numDocs must be a positive integer, got ${numDocs}`);
  if (!Number.isInteger(docTokens) || docTokens < 4) throw new InvalidInputError(`docTokens must be an integer >= 4, got ${docTokens}`);
  const docs: string[] = [];
  for (let d = 0; d < numDocs; d++) {
    let words = syntheticWords(d, docTokens + 8);
    while (engine.countTokens(words.join(" ")) < docTokens) words = syntheticWords(d, words.length * 2);
    // Largest prefix with at most docTokens tokens (token count grows with the prefix).
    let lo = 1;
    let hi = words.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (engine.countTokens(words.slice(0, mid).join(" ")) <= docTokens) lo = mid;
      else hi = mid - 1;
    }
    docs.push(words.slice(0, lo).join(" "));
  }
  return docs;
}

function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianPhases(runs: readonly TtftRun[]): TtftPhaseMedians {
  const names = new Set(runs.flatMap((r) => Object.keys(r.phases)));
  return Object.fromEntries([...names].map((n) => [n, median(runs.map((r) => r.phases[n] ?? NaN))]));
}

/**
 * Time to first token of one prompt over `numDocs` documents of `docTokens` tokens, side by side in one
 * process: `full` (ordinary prefill), `kvlink` and `rerotate` (warm caches: precomputed before, untimed), and
 * the floor (engine.measureFloor: the fresh-token forward pass alone). Modes are interleaved per repetition,
 * in a rotating order, so a noisy host affects them alike; medians are reported.
 */
export async function measureTtft(engine: KvLinkEngine, options: MeasureTtftOptions = {}): Promise<TtftReport> {
  const numDocs = options.numDocs ?? 10;
  const docTokens = options.docTokens ?? 512;
  const repetitions = options.repetitions ?? 5;
  const warmup = options.warmupRepetitions ?? 1;
  if (!Number.isInteger(repetitions) || repetitions < 1) throw new InvalidInputError(`repetitions must be a positive integer, got ${repetitions}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new InvalidInputError(`warmupRepetitions must be a non-negative integer, got ${warmup}`);
  const signal = options.signal;
  const report = (phase: "documents" | "warmup" | "measure", done: number, total: number): void => {
    try {
      options.onProgress?.({ phase, done, total });
    } catch {
      /* a throwing progress callback must not break the measurement */
    }
  };

  const documents = makeSyntheticDocuments(engine, numDocs, docTokens);
  const docTokensEach = documents.map((d) => engine.countTokens(d));
  await engine.precompute(documents, { ...(signal ? { signal } : {}), onProgress: (p) => report("documents", p.done, p.total) });
  const request: GenerateRequest = {
    documents,
    question: options.question ?? "Which records mention a harbor, and what is said about it?",
    maxTokens: 1,
    greedy: true,
    ...(signal ? { signal } : {}),
  };

  const fresh = { full: 0, kvlink: 0, rerotate: 0 };
  let positions = 0;
  const runOnce = async (mode: TtftRunMode, repetition: number): Promise<TtftRun> => {
    signal?.throwIfAborted();
    if (mode === "floor") {
      const floor = await engine.measureFloor({ ...request, mode: "kvlink" });
      return { repetition, mode, ttft_ms: floor.forwardMs, phases: { place_ms: floor.placeMs, forward_ms: floor.forwardMs } };
    }
    const result = await engine.generate({ ...request, mode: mode satisfies LinkMode }).result();
    const s = result.stats;
    fresh[mode] = s.freshTokens;
    if (mode === "kvlink") positions = s.promptPositions;
    const p = s.phases;
    return {
      repetition,
      mode,
      ttft_ms: s.ttftMs,
      phases: { tokenize_ms: p.tokenizeMs, documents_ms: p.documentsMs, link_ms: p.linkMs, prefill_ms: p.prefillMs },
    };
  };

  const order: TtftRunMode[] = ["full", "kvlink", "rerotate", "floor"];
  const total = (warmup + repetitions) * order.length;
  let done = 0;
  for (let w = 0; w < warmup; w++) {
    for (const mode of order) {
      await runOnce(mode, -1 - w);
      report("warmup", ++done, total);
    }
  }
  const runs: TtftRun[] = [];
  for (let r = 0; r < repetitions; r++) {
    // Rotate the order so no mode always runs right after the expensive full prefill.
    const rotated = order.map((_, i) => order[(i + r) % order.length]!);
    for (const mode of rotated) {
      runs.push(await runOnce(mode, r));
      report("measure", ++done, total);
    }
  }

  const of = (mode: TtftRunMode): TtftRun[] => runs.filter((r) => r.mode === mode);
  const full = median(of("full").map((r) => r.ttft_ms));
  const kvlink = median(of("kvlink").map((r) => r.ttft_ms));
  const floor = median(of("floor").map((r) => r.ttft_ms));
  return {
    full_ms: full,
    kvlink_ms: kvlink,
    rerotate_ms: median(of("rerotate").map((r) => r.ttft_ms)),
    floor_ms: floor,
    ratio_kvlink_full: kvlink / full,
    ratio_kvlink_floor: kvlink / floor,
    num_docs: numDocs,
    doc_tokens: docTokensEach.reduce((a, b) => a + b, 0),
    doc_tokens_each: docTokensEach,
    fresh_tokens: fresh,
    positions,
    num_link_tokens: engine.links.numLinkTokens,
    repetitions,
    signature: engine.signature,
    phases: { full: medianPhases(of("full")), kvlink: medianPhases(of("kvlink")), rerotate: medianPhases(of("rerotate")), floor: medianPhases(of("floor")) },
    runs,
  };
}
