import { InvalidInputError } from "../errors/KvLinkError.js";

export type StopReason = "eos" | "stopString" | "maxTokens";

export interface StopConditionOptions {
  readonly eosTokenIds: readonly number[];
  /** Most tokens to generate; the EOS token counts. */
  readonly maxTokens: number;
  /** Generation ends before the first occurrence of any of these; they are never emitted. */
  readonly stop?: readonly string[];
}

export interface StopStep {
  /** Text safe to show now (never a stop string, nor a prefix of one that could still complete). */
  readonly text: string;
  /** Set when generation must end after this token. */
  readonly finished?: { readonly reason: StopReason; readonly stopString?: string };
}

/**
 * Decides when generation ends (EOS id, token budget, stop strings) and which text may be streamed. Stop
 * strings are matched across token boundaries: the longest tail of the pending text that is a prefix of a
 * stop string is held back until it either completes (generation ends before it) or diverges (it is released).
 *
 * Protocol: call push() for each generated token with the text it completed (e.g. from IncrementalDecoder);
 * once a step is `finished` (or the run is cancelled), call flush() once with any text still held by the
 * decoder, and stop pushing.
 */
export class StopCondition {
  readonly #eos: ReadonlySet<number>;
  readonly #maxTokens: number;
  readonly #stops: readonly string[];
  #pending = "";
  #numTokens = 0;
  #finished: StopStep["finished"];
  #stoppedByString = false;

  constructor(options: StopConditionOptions) {
    if (!Number.isInteger(options.maxTokens) || options.maxTokens <= 0) {
      throw new InvalidInputError(`StopCondition: maxTokens must be a positive integer, got ${options.maxTokens}`);
    }
    const stops = options.stop ?? [];
    if (stops.some((s) => typeof s !== "string" || s.length === 0)) {
      throw new InvalidInputError("StopCondition: stop strings must be non-empty strings", { details: { stop: stops } });
    }
    this.#eos = new Set(options.eosTokenIds);
    this.#maxTokens = options.maxTokens;
    this.#stops = [...stops];
  }

  /** Tokens pushed so far. */
  get numTokens(): number {
    return this.#numTokens;
  }

  get finished(): StopStep["finished"] {
    return this.#finished;
  }

  /** Feeds one generated token and the text it completed. An EOS token's text is dropped. */
  push(tokenId: number, text: string): StopStep {
    if (this.#finished !== undefined) {
      throw new InvalidInputError(`StopCondition: push after generation finished (${this.#finished.reason})`, {
        details: { tokenId, numTokens: this.#numTokens },
      });
    }
    this.#numTokens++;
    if (this.#eos.has(tokenId)) {
      this.#finished = { reason: "eos" };
      return { text: "", finished: this.#finished };
    }
    this.#pending += text;
    const hit = this.#findStop();
    if (hit !== undefined) {
      const out = this.#pending.slice(0, hit.index);
      this.#pending = "";
      this.#stoppedByString = true;
      this.#finished = { reason: "stopString", stopString: hit.stop };
      return { text: out, finished: this.#finished };
    }
    const hold = this.#holdbackLength(this.#pending);
    const out = this.#pending.slice(0, this.#pending.length - hold);
    this.#pending = this.#pending.slice(this.#pending.length - hold);
    if (this.#numTokens >= this.#maxTokens) this.#finished = { reason: "maxTokens" };
    return this.#finished === undefined ? { text: out } : { text: out, finished: this.#finished };
  }

  /**
   * Ends the stream: releases held text plus `tailText` (text still held by the decoder), cut before a stop
   * string if one completes there. Returns "" after a stop string ended generation.
   */
  flush(tailText = ""): string {
    if (this.#stoppedByString) return "";
    const text = this.#pending + tailText;
    this.#pending = "";
    const hit = findFirst(text, this.#stops);
    if (hit === undefined) return text;
    this.#stoppedByString = true;
    this.#finished = { reason: "stopString", stopString: hit.stop };
    return text.slice(0, hit.index);
  }

  #findStop(): { index: number; stop: string } | undefined {
    return findFirst(this.#pending, this.#stops);
  }

  /** Length of the longest tail of `text` that is a proper prefix of some stop string. */
  #holdbackLength(text: string): number {
    let best = 0;
    for (const stop of this.#stops) {
      for (let k = Math.min(stop.length - 1, text.length); k > best; k--) {
        if (text.endsWith(stop.slice(0, k))) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}

/** The earliest occurrence of any stop string (the longest one on a tie). */
function findFirst(text: string, stops: readonly string[]): { index: number; stop: string } | undefined {
  let best: { index: number; stop: string } | undefined;
  for (const stop of stops) {
    const index = text.indexOf(stop);
    if (index < 0) continue;
    if (best === undefined || index < best.index || (index === best.index && stop.length > best.stop.length)) best = { index, stop };
  }
  return best;
}
