import { createHash } from "node:crypto";
import { Embeddings } from "@langchain/core/embeddings";

/** Deterministic bag-of-words embeddings: each lower-cased word adds 1 to a hashed dimension; L2-normalised. */
export class HashingEmbeddings extends Embeddings {
  readonly #dims: number;
  constructor(dims = 64) {
    super({});
    this.#dims = dims;
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((text) => this.#embed(text));
  }
  async embedQuery(text: string): Promise<number[]> {
    return this.#embed(text);
  }
  #embed(text: string): number[] {
    const vector = new Array<number>(this.#dims).fill(0);
    for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
      const bucket = createHash("md5").update(word).digest().readUInt32LE(0) % this.#dims;
      vector[bucket] = (vector[bucket] ?? 0) + 1;
    }
    const norm = Math.hypot(...vector) || 1;
    return vector.map((v) => v / norm);
  }
}
