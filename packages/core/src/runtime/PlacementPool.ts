import type { Worker } from "node:worker_threads";
import {
  needsArithmetic,
  placeKeys,
  placeLayer,
  placementFloats,
  placeStaged,
  placeValues,
  type KeyPlacement,
  type LayerPlacement,
} from "./LayerPlacement.js";
import { siblingModuleUrl, spawnWorker } from "./spawnWorker.js";

/** Below this many floats (keys and values of all layers) a document is placed on the calling thread alone. */
const MIN_PARALLEL_FLOATS = 1 << 20;

export interface PlacementRequest {
  readonly id: number;
  readonly keys: readonly KeyPlacement[];
}
/** A helper's answer to a PlacementRequest; id 0 = "started" (sent once, before any request is answered). */
export interface PlacementReply {
  readonly id: number;
  readonly error?: string;
}

/**
 * Places document caches into a sequence's slots with helper threads. One thread re-rotates keys at a few GB/s
 * in plain JS: 1.5 s of the 1.95 s linked TTFT for 32 × 1024 documents of a Llama-3.2-1B-shaped model on the
 * H200 host, while its 16 cores sat idle (placement runs between forward passes, never during one).
 *
 * onnxruntime-node reads a tensor's data through napi_get_arraybuffer_info, which refuses SharedArrayBuffers
 * ("Invalid argument" in run()), so the slots ORT reads cannot be shared with other threads. The work is split
 * where that allows: helpers rotate the keys out of the resident documents (SharedArrayBuffers) into a shared
 * staging buffer while this thread copies the values into the slots; then this thread copies the staged keys in
 * (one memcpy per head). With fp16 slots the helpers also round values that arrive in fp32, and this thread
 * takes a share of the arithmetic too. The arithmetic runs in parallel and only copies stay on one thread
 * (figures at defaultPlacementThreads). Small documents, unshared sources and a failed helper fall back to the
 * calling thread, which then does that share itself (placement is idempotent).
 */
export class PlacementPool {
  readonly #helpers: Worker[];
  /** Helpers that have started (a helper still loading its modules would make the first prompt wait for it). */
  readonly #ready = new Set<Worker>();
  readonly #pending = new Map<number, { resolve: () => void; reject: (error: Error) => void; helper: Worker }>();
  readonly #started: Promise<void>;
  #staging = new Float32Array(new SharedArrayBuffer(0));
  #staging16 = new Uint16Array(new SharedArrayBuffer(0));
  #nextId = 1;
  #broken = false;

  private constructor(helpers: Worker[]) {
    this.#helpers = helpers;
    this.#started = Promise.all(
      helpers.map(
        (helper) =>
          new Promise<void>((resolve) => {
            const settle = (): void => resolve();
            helper.once("message", settle);
            helper.once("error", settle);
            helper.once("exit", settle);
          }),
      ),
    ).then(() => undefined);
    for (const helper of helpers) {
      helper.on("message", (reply: PlacementReply) => {
        if (reply.id === 0) {
          this.#ready.add(helper);
          return;
        }
        const pending = this.#pending.get(reply.id);
        if (pending === undefined) return;
        this.#pending.delete(reply.id);
        if (reply.error === undefined) pending.resolve();
        else pending.reject(new Error(reply.error));
      });
      const fail = (error: Error): void => {
        this.#broken = true;
        this.#ready.delete(helper);
        for (const [id, pending] of this.#pending) {
          if (pending.helper !== helper) continue;
          this.#pending.delete(id);
          pending.reject(error);
        }
      };
      helper.on("error", fail);
      helper.on("exit", (code) => fail(new Error(`placement helper exited with code ${code}`)));
    }
    // Referenced until they have started (a thread awaiting whenStarted() must not run out of work and exit), then
    // unreferenced: idle helpers never keep a process alive.
    void this.#started.then(() => {
      for (const helper of helpers) helper.unref();
    });
  }

  /** A pool of `threads` threads in all (the caller and threads − 1 helpers); undefined for threads ≤ 1. */
  static create(threads: number): PlacementPool | undefined {
    if (!Number.isInteger(threads) || threads <= 1) return undefined;
    const url = siblingModuleUrl("placement.worker", import.meta.url);
    return new PlacementPool(Array.from({ length: threads - 1 }, () => spawnWorker(url, null)));
  }

  /** Resolves once every helper has started or failed (placements never wait for it: they use the started ones). */
  whenStarted(): Promise<void> {
    return this.#started;
  }

  /** Threads a placement would use now: the caller and the helpers that have started. */
  get threads(): number {
    return this.#broken ? 1 : this.#ready.size + 1;
  }

  /** Writes every layer's keys (rotated) and values into the slots; resolves when all are written. */
  async run(layers: readonly LayerPlacement[]): Promise<void> {
    const total = layers.reduce((s, p) => s + placementFloats(p), 0);
    const helpers = this.#broken ? [] : [...this.#ready];
    const shared = layers.every((p) => p.srcKeys.buffer instanceof SharedArrayBuffer && p.srcValues.buffer instanceof SharedArrayBuffer);
    if (helpers.length === 0 || total < MIN_PARALLEL_FLOATS || !shared) {
      for (const layer of layers) placeLayer(layer);
      return;
    }
    // Each staged array gets its own token-major [KVH][count][D] region of a shared staging buffer: every layer's
    // keys (rotated there by the helpers), and values too where they need fp16 rounding (fp32 documents into fp16
    // slots); values that are a plain copy this thread writes itself meanwhile.
    const half = layers[0]!.dstKeys instanceof Uint16Array;
    const work: { layer: number; kind: "keys" | "values"; size: number }[] = [];
    const copiedValues: LayerPlacement[] = [];
    for (const [i, p] of layers.entries()) {
      const size = p.numHeads * p.count * p.headDim;
      work.push({ layer: i, kind: "keys", size });
      if (needsArithmetic(p.srcValues, p.dstValues, undefined)) work.push({ layer: i, kind: "values", size });
      else copiedValues.push(p);
    }
    const staging = this.#stagingOf(work.reduce((a, w) => a + w.size, 0), half);
    let offset = 0;
    const staged = work.map((w): KeyPlacement => {
      const region = staging.subarray(offset, offset + w.size);
      offset += w.size;
      const p = layers[w.layer]!;
      // Only these fields: a message clones what it holds, and the slots are not shared (they would be copied).
      const { srcTokens, srcStart, count, numHeads, headDim } = p;
      const src = w.kind === "keys" ? p.srcKeys : p.srcValues;
      const rotation = w.kind === "keys" ? p.rotation : undefined;
      return { srcKeys: src, srcTokens, srcStart, count, numHeads, headDim, rotation, dstKeys: region, dstCapacity: count, dstStart: 0, keyLayout: "tokenMajor" };
    });
    // This thread copies what needs no arithmetic and all staged results, and takes the share of the arithmetic
    // that evens out the finishing times (written straight into the slots: no staging copy for it).
    const copied = copiedValues.reduce((a, p) => a + p.numHeads * p.count * p.headDim, 0);
    const callerShare = callerShareOf(work.reduce((a, w) => a + w.size, 0), copied, helpers.length);
    const groups = splitWeighted(
      work.map((_, i) => i),
      work.map((w) => w.size),
      [callerShare, ...helpers.map(() => (1 - callerShare) / helpers.length)],
    );
    const mine = groups.shift()!;
    const shares = groups.map((group, h) => ({
      group,
      done: group.length === 0 ? Promise.resolve() : this.#send(helpers[h]!, group.map((i) => staged[i]!)),
    }));
    const placeHere = (i: number): void => {
      const { layer, kind } = work[i]!;
      if (kind === "keys") placeKeys(layers[layer]!);
      else placeValues(layers[layer]!);
    };
    for (const layer of copiedValues) placeValues(layer);
    for (const i of mine) placeHere(i);
    for (const { group, done } of shares) {
      let ok = true;
      try {
        await done;
      } catch {
        // A helper died or threw: this thread does its share and works alone from now on.
        this.#broken = true;
        ok = false;
      }
      for (const i of group) {
        if (ok) placeStaged(staged[i]!.dstKeys, layers[work[i]!.layer]!, work[i]!.kind);
        else placeHere(i);
      }
    }
  }

  async dispose(): Promise<void> {
    this.#broken = true;
    await Promise.all(this.#helpers.map((h) => h.terminate()));
  }

  /** The staging buffer of the slots' type, at least `length` long (grown, never shrunk: one document's KV). */
  #stagingOf(length: number, half: boolean): Float32Array | Uint16Array {
    if (half) {
      if (this.#staging16.length < length) this.#staging16 = new Uint16Array(new SharedArrayBuffer(length * 2));
      return this.#staging16;
    }
    if (this.#staging.length < length) this.#staging = new Float32Array(new SharedArrayBuffer(length * 4));
    return this.#staging;
  }

  #send(helper: Worker, keys: readonly KeyPlacement[]): Promise<void> {
    const id = this.#nextId++;
    // Referenced while it works: a caller on a thread with nothing else to wait for must not exit mid-placement.
    helper.ref();
    const settled = (): void => {
      helper.unref();
    };
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, {
        resolve: () => {
          settled();
          resolve();
        },
        reject: (error) => {
          settled();
          reject(error);
        },
        helper,
      });
      try {
        helper.postMessage({ id, keys } satisfies PlacementRequest);
      } catch (error) {
        this.#pending.delete(id);
        settled();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }
}

/**
 * Cost of copying a value relative to rotating (or rounding) one, in JS on this project's hosts: a plain copy of 10 ×
 * 512 documents' keys took 14–18 ms, the fused copy and rotation 56–89 ms (2-vCPU AMD EPYC, idle).
 */
const COPY_COST = 0.25;

/**
 * The fraction of `work` values (rotations or roundings) this thread should do itself so that it finishes with the
 * helpers: it also copies `copied` values and every helper's staged result. With a helper per 1 − COPY_COST share
 * of the copying or more, it only copies (on 3+ threads: 0), and with one helper it takes about 0.29 of the keys.
 */
function callerShareOf(work: number, copied: number, helpers: number): number {
  if (helpers === 0 || work === 0) return 1;
  // Caller: COPY_COST·(copied + (1 − x)·work) + x·work; each helper: (1 − x)·work / helpers. Equal at x.
  const c = COPY_COST;
  const x = (work / helpers - c * copied - c * work) / (work + work / helpers - c * work);
  return Math.min(1, Math.max(0, x));
}

/** Indices cut into contiguous groups whose sizes follow `weights` (summing to 1) as closely as whole items allow. */
function splitWeighted(indices: readonly number[], sizes: readonly number[], weights: readonly number[]): number[][] {
  const groups: number[][] = weights.map(() => []);
  const total = sizes.reduce((a, b) => a + b, 0);
  const bounds: number[] = [];
  let sum = 0;
  for (const w of weights) bounds.push((sum += w) * total);
  let acc = 0;
  let g = 0;
  for (const i of indices) {
    // An item goes to the group its midpoint falls in.
    const mid = acc + sizes[i]! / 2;
    while (g < weights.length - 1 && mid > bounds[g]!) g++;
    groups[g]!.push(i);
    acc += sizes[i]!;
  }
  return groups;
}
