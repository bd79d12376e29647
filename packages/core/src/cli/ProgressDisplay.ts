import cliProgress from "cli-progress";

export interface ProgressDisplayOptions {
  /** Where to draw; default process.stderr (stdout stays for command output). */
  readonly stream?: NodeJS.WriteStream;
  /** A bar redrawn in place (default: whether the stream is a TTY); otherwise plain lines. */
  readonly interactive?: boolean;
  /** Least time between two plain lines of one phase. Default 2000 ms. */
  readonly lineIntervalMs?: number;
}

export interface ProgressUpdate {
  readonly phase: string;
  readonly done: number;
  readonly total: number;
  /** Extra text after the counts (rates, units). */
  readonly detail?: string;
}

/**
 * Draws the progress of long CLI operations on stderr: a cli-progress bar per phase when the stream is a TTY,
 * otherwise a plain line per phase start, at most one per `lineIntervalMs` while it runs, and one at its end.
 * Adds an ETA from the phase's own rate. The library reports progress; only this class draws it.
 */
export class ProgressDisplay {
  readonly #stream: NodeJS.WriteStream;
  readonly #interactive: boolean;
  readonly #lineIntervalMs: number;
  #bar: cliProgress.SingleBar | undefined;
  #phase: string | undefined;
  #phaseStartMs = 0;
  #lastLineMs = 0;
  #lastLine: string | undefined;
  #stopped = false;

  constructor(options: ProgressDisplayOptions = {}) {
    this.#stream = options.stream ?? process.stderr;
    this.#interactive = options.interactive ?? this.#stream.isTTY === true;
    this.#lineIntervalMs = options.lineIntervalMs ?? 2000;
  }

  /** Whether anything was drawn (a phase was reported). */
  get started(): boolean {
    return this.#phase !== undefined;
  }

  update(progress: ProgressUpdate): void {
    if (this.#stopped) return;
    const now = performance.now();
    const total = Math.max(progress.total, 0);
    const done = Math.min(Math.max(progress.done, 0), total);
    const newPhase = progress.phase !== this.#phase;
    if (newPhase) {
      this.#endPhase();
      this.#phase = progress.phase;
      this.#phaseStartMs = now;
    }
    const detail = [progress.detail, done > 0 && done < total ? `ETA ${formatSeconds(((now - this.#phaseStartMs) / done) * (total - done) / 1000)}` : undefined]
      .filter((s) => s !== undefined && s !== "")
      .join(" | ");
    if (this.#interactive) {
      if (newPhase || this.#bar === undefined) {
        this.#bar = new cliProgress.SingleBar(
          { stream: this.#stream, format: `${progress.phase.padEnd(10)} [{bar}] {percentage}% {value}/{total} {detail}`, hideCursor: true, barsize: 30 },
          cliProgress.Presets.shades_classic,
        );
        this.#bar.start(total, done, { detail });
      } else {
        this.#bar.setTotal(total);
        this.#bar.update(done, { detail });
      }
      return;
    }
    const line = `${progress.phase}: ${done}/${total} (${total > 0 ? Math.floor((done / total) * 100) : 100}%)${detail ? ` ${detail}` : ""}`;
    if (newPhase || done === total || now - this.#lastLineMs >= this.#lineIntervalMs) {
      if (line !== this.#lastLine) this.#stream.write(`${line}\n`);
      this.#lastLine = line;
      this.#lastLineMs = now;
    }
  }

  /** Ends the display (the bar stays on screen). Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#endPhase();
    this.#stopped = true;
  }

  #endPhase(): void {
    this.#bar?.stop();
    this.#bar = undefined;
  }
}

/** `12s`, `3m05s`, `1h02m`. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
