/**
 * Collapses concurrent calls for one key into one: the first caller runs `fn`, later callers while it runs get
 * the same promise (its result or its error). Nothing is remembered once it settles.
 */
export class SingleFlight<K, V> {
  readonly #keyToFlight = new Map<K, Promise<V>>();

  get numInFlight(): number {
    return this.#keyToFlight.size;
  }

  /** Whether a call for `key` is running. */
  has(key: K): boolean {
    return this.#keyToFlight.has(key);
  }

  run(key: K, fn: () => Promise<V>): Promise<V> {
    const running = this.#keyToFlight.get(key);
    if (running !== undefined) return running;
    const flight = (async () => fn())().finally(() => this.#keyToFlight.delete(key));
    this.#keyToFlight.set(key, flight);
    return flight;
  }

  /** Settles when every flight running now has settled (never rejects). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#keyToFlight.values()]);
  }
}
