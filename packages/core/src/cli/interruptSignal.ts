/** The reason an interrupted command's signal is aborted with; the CLI exits 130 for it (128 + SIGINT). */
export class InterruptedError extends Error {
  constructor() {
    super("interrupted (Ctrl-C)");
    this.name = "InterruptedError";
  }
}

let interrupted = false;

/** True once a command's interruptSignal() saw Ctrl-C: whatever error the command then ends with, the exit code is 130. */
export function wasInterrupted(): boolean {
  return interrupted;
}

/** An AbortSignal fired by the first Ctrl-C (SIGINT) until `dispose()` is called; a second Ctrl-C kills as usual. */
export function interruptSignal(): { readonly signal: AbortSignal; dispose(): void } {
  const abort = new AbortController();
  const onSigint = (): void => {
    interrupted = true;
    abort.abort(new InterruptedError());
  };
  process.once("SIGINT", onSigint);
  return { signal: abort.signal, dispose: () => process.off("SIGINT", onSigint) };
}
