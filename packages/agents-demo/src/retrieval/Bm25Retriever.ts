import type { CallbackManagerForRetrieverRun } from "@langchain/core/callbacks/manager";
import { Document } from "@langchain/core/documents";
import { BaseRetriever, type BaseRetrieverInput } from "@langchain/core/retrievers";
import { InvalidInputError } from "@kvlink/core";

export interface Bm25RetrieverInput extends BaseRetrieverInput {
  readonly documents: readonly Document[];
  /** Documents returned per query. Default 3. */
  readonly k?: number;
  /** BM25 term-frequency saturation. Default 1.2. */
  readonly k1?: number;
  /** BM25 length normalisation. Default 0.75. */
  readonly b?: number;
}

/**
 * Splits text into lower-case terms, also splitting identifiers at camelCase and snake_case boundaries
 * (`getOrCompute` → get, or, compute, getorcompute), so that questions in words find code.
 */
export function tokenizeForSearch(text: string): string[] {
  const out: string[] = [];
  for (const word of text.match(/[A-Za-z][A-Za-z0-9]*|[0-9]+/g) ?? []) {
    const lower = word.toLowerCase();
    if (lower.length > 1 && !STOPWORDS.has(lower)) out.push(lower);
    const parts = word.split(/(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/).map((p) => p.toLowerCase());
    if (parts.length > 1) for (const p of parts) if (p.length > 1 && !STOPWORDS.has(p)) out.push(p);
  }
  return out;
}

const STOPWORDS = new Set("a an and are as at be by does do for from how in is it its of on or that the this to what when which who why with".split(" "));

/**
 * Okapi BM25 over an in-memory set of Documents (an inverted index built once); ties keep corpus order, so the
 * same query always returns the same documents. A small LangChain retriever of our own: the corpus is a few
 * thousand documents at most, and owning the tokenizer lets code identifiers match words.
 */
export class Bm25Retriever extends BaseRetriever {
  static override lc_name(): string {
    return "Bm25Retriever";
  }

  lc_namespace = ["kvlink", "agents", "retrievers"];
  readonly k: number;
  readonly #documents: readonly Document[];
  readonly #termToPostings = new Map<string, { doc: number; tf: number }[]>();
  readonly #lengths: number[];
  readonly #avgLength: number;
  readonly #k1: number;
  readonly #b: number;

  constructor(fields: Bm25RetrieverInput) {
    super(fields);
    const k = fields.k ?? 3;
    if (!Number.isInteger(k) || k < 1) throw new InvalidInputError(`Bm25Retriever: k must be a positive integer, got ${k}`);
    this.k = k;
    this.#k1 = fields.k1 ?? 1.2;
    this.#b = fields.b ?? 0.75;
    this.#documents = [...fields.documents];
    this.#lengths = this.#documents.map((doc, i) => {
      const terms = tokenizeForSearch(`${String(doc.metadata["title"] ?? "")} ${doc.pageContent}`);
      const counts = new Map<string, number>();
      for (const t of terms) counts.set(t, (counts.get(t) ?? 0) + 1);
      for (const [term, tf] of counts) {
        let postings = this.#termToPostings.get(term);
        if (postings === undefined) this.#termToPostings.set(term, (postings = []));
        postings.push({ doc: i, tf });
      }
      return terms.length;
    });
    this.#avgLength = this.#lengths.reduce((s, n) => s + n, 0) / Math.max(1, this.#lengths.length);
  }

  /** The `k` best documents with their scores, best first (documents scoring 0 are never returned). */
  search(query: string, k = this.k): { document: Document; score: number }[] {
    const scores = new Map<number, number>();
    const n = this.#documents.length;
    for (const term of new Set(tokenizeForSearch(query))) {
      const postings = this.#termToPostings.get(term);
      if (postings === undefined) continue;
      const idf = Math.log(1 + (n - postings.length + 0.5) / (postings.length + 0.5));
      for (const { doc, tf } of postings) {
        const norm = tf + this.#k1 * (1 - this.#b + (this.#b * this.#lengths[doc]!) / this.#avgLength);
        scores.set(doc, (scores.get(doc) ?? 0) + (idf * tf * (this.#k1 + 1)) / norm);
      }
    }
    return [...scores.entries()]
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, k)
      .map(([doc, score]) => ({ document: this.#documents[doc]!, score }));
  }

  override async _getRelevantDocuments(query: string, _runManager?: CallbackManagerForRetrieverRun): Promise<Document[]> {
    return this.search(query).map(({ document, score }) => new Document({ pageContent: document.pageContent, metadata: { ...document.metadata, bm25Score: score }, ...(document.id === undefined ? {} : { id: document.id }) }));
  }
}
