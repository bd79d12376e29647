/** An AbortSignal fired by the first Ctrl-C (SIGINT) until `dispose()` is called; a second Ctrl-C kills as usual. */
export function interruptSignal(): { readonly signal: AbortSignal; dispose(): void } {
  const abort = new AbortController();
  const onSigint = (): void => abort.abort(new Error("interrupted"));
  process.once("SIGINT", onSigint);
  return { signal: abort.signal, dispose: () => process.off("SIGINT", onSigint) };
}
