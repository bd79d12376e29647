/** Questions about this repository (the default corpus): each needs documents from more than one file. */
export const DEFAULT_QUESTIONS: readonly string[] = [
  "What happens when a cache entry in the store is corrupt?",
  "How does the engine reuse a document cache that another process computed?",
  "What does the kvlink precompute command do with long files?",
];
