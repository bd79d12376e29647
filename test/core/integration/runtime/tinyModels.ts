import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeTinyModel, type TinyModel, type TinyModelOptions } from "../../../../packages/core/src/graph/writeTinyModel.js";

/** A temp dir holding tiny models written on demand; remove() deletes it all. */
export class TinyModelDir {
  readonly #root: string;
  private constructor(root: string) {
    this.#root = root;
  }
  static async create(): Promise<TinyModelDir> {
    return new TinyModelDir(await mkdtemp(join(tmpdir(), "kvlink-rt-")));
  }
  get root(): string {
    return this.#root;
  }
  write(name: string, options: Partial<TinyModelOptions> & Pick<TinyModelOptions, "signature">): Promise<TinyModel> {
    return writeTinyModel(join(this.#root, name), {
      layers: 2,
      hidden: 32,
      heads: 4,
      kvHeads: 2,
      vocab: 320,
      seed: 11,
      quant: "fp32",
      maxPositionEmbeddings: 128,
      ...options,
    });
  }
  remove(): Promise<void> {
    return rm(this.#root, { recursive: true, force: true });
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

export function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}
