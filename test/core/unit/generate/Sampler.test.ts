import assert from "node:assert/strict";
import { ConfigError, InvalidInputError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { Sampler } from "../../../../packages/core/src/generate/Sampler.js";
import { parseSamplingOptions } from "../../../../packages/core/src/generate/SamplingOptionsSchema.js";

/** Logits whose softmax is exactly `probs` (up to float rounding). */
const logitsOf = (probs: readonly number[]): Float32Array => Float32Array.from(probs, (p) => Math.log(p));

function frequencies(sampler: Sampler, logits: Float32Array, draws: number): number[] {
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) {
    const id = sampler.sample(logits);
    counts[id] = (counts[id] as number) + 1;
  }
  return counts.map((c) => c / draws);
}

function assertClose(actual: ArrayLike<number>, expected: readonly number[], atol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs((actual[i] as number) - (expected[i] as number)) <= atol, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (atol ${atol})`);
  }
}

describe("SamplingOptionsSchema", () => {
  it("fills defaults and rejects invalid values with ConfigError", () => {
    assert.deepEqual(parseSamplingOptions({}), {
      maxTokens: 256,
      greedy: false,
      temperature: 1,
      topK: 0,
      topP: 1,
      repetitionPenalty: 1,
      stop: [],
    });
    assert.throws(() => parseSamplingOptions({ topP: 0 }), ConfigError);
    assert.throws(() => parseSamplingOptions({ temperature: -1 }), ConfigError);
    assert.throws(() => parseSamplingOptions({ stop: [""] }), ConfigError);
    assert.throws(() => parseSamplingOptions({ maxTokens: 1.5 }), ConfigError);
    assert.throws(() => parseSamplingOptions({ topk: 3 } as never), ConfigError);
    assert.throws(() => new Sampler({ repetitionPenalty: 0 }), ConfigError);
  });
});

describe("Sampler", () => {
  const probs = [0.5, 0.3, 0.15, 0.05];
  const logits = logitsOf(probs);

  it("greedy and temperature 0 take the argmax, lowest id on ties", () => {
    assert.equal(new Sampler({ greedy: true }).sample(Float32Array.of(1, 3, 3, -2)), 1);
    assert.equal(new Sampler({ temperature: 0 }).sample(Float32Array.of(-5, -1, -3)), 1);
    assert.equal(new Sampler({ greedy: true }).sample(Float32Array.of(Number.NaN, -Infinity, -7)), 2);
  });

  it("draws with the softmax frequencies for a fixed seed, and repeats exactly for the same seed", () => {
    const sampler = new Sampler({ seed: 42 });
    assertClose(frequencies(sampler, logits, 20_000), probs, 0.015, "frequencies");
    const a = new Sampler({ seed: 7 });
    const b = new Sampler({ seed: 7 });
    const c = new Sampler({ seed: 8 });
    const seqA = Array.from({ length: 64 }, () => a.sample(logits));
    assert.deepEqual(Array.from({ length: 64 }, () => b.sample(logits)), seqA);
    assert.notDeepEqual(Array.from({ length: 64 }, () => c.sample(logits)), seqA);
  });

  it("applies temperature to the logits", () => {
    const hot = new Sampler({ temperature: 2 }).computeDistribution(logits);
    const z = probs.map((p) => Math.sqrt(p));
    const sum = z.reduce((s, v) => s + v, 0);
    assertClose(hot.probs, z.map((v) => v / sum), 1e-6, "T=2 probs");
    assert.deepEqual(Array.from(hot.ids), [0, 1, 2, 3]);
  });

  it("top-k keeps exactly the k best (and ties with the k-th), renormalized", () => {
    const d = new Sampler({ topK: 2 }).computeDistribution(logits);
    assert.deepEqual(Array.from(d.ids), [0, 1]);
    assertClose(d.probs, [0.5 / 0.8, 0.3 / 0.8], 1e-6, "top-2 probs");
    const ties = new Sampler({ topK: 2 }).computeDistribution(Float32Array.of(3, 1, 1, 0));
    assert.deepEqual(Array.from(ties.ids), [0, 1, 2]);
    const sampler = new Sampler({ topK: 2, seed: 1 });
    const freq = frequencies(sampler, logits, 5_000);
    assert.equal((freq[2] as number) + (freq[3] as number), 0);
  });

  it("top-p keeps the smallest prefix whose mass reaches p (HF semantics)", () => {
    const ids = (topP: number) => Array.from(new Sampler({ topP }).computeDistribution(logits).ids);
    assert.deepEqual(ids(0.4), [0]);
    assert.deepEqual(ids(0.75), [0, 1]);
    assert.deepEqual(ids(0.85), [0, 1, 2]);
    assert.deepEqual(ids(0.97), [0, 1, 2, 3]);
    // Equal probabilities are ranked by id.
    assert.deepEqual(Array.from(new Sampler({ topP: 0.5 }).computeDistribution(Float32Array.of(1, 1, 1, 1)).ids), [0, 1]);
    const d = new Sampler({ topP: 0.75 }).computeDistribution(logits);
    assertClose(d.probs, [0.625, 0.375], 1e-6, "top-p probs");
    // A long flat tail: pruning by a probability bound must give the same set as a full sort.
    const flat = new Float32Array(5000).fill(0);
    flat[0] = 8;
    const flatD = new Sampler({ topP: 0.9 }).computeDistribution(flat);
    const p0 = Math.exp(8) / (Math.exp(8) + 4999);
    const expectedKept = 1 + Math.ceil((0.9 - p0) / (1 / (Math.exp(8) + 4999)));
    assert.equal(flatD.ids.length, expectedKept);
    assert.deepEqual(Array.from(flatD.ids.slice(0, 4)), [0, 1, 2, 3]);
  });

  it("applies top-k before top-p", () => {
    const d = new Sampler({ topK: 3, topP: 0.9 }).computeDistribution(logits);
    // Among the top 3 (0.5, 0.3, 0.15)/0.95 the mass before token 2 is 0.842 < 0.9, so it stays.
    assert.deepEqual(Array.from(d.ids), [0, 1, 2]);
  });

  it("repetition penalty divides positive and multiplies negative logits of seen ids, once each", () => {
    const raw = Float32Array.of(2, -2, 1, 0.5);
    const d = new Sampler({ repetitionPenalty: 2 }).computeDistribution(raw, [0, 1, 1, 0]);
    const expected = [1, -4, 1, 0.5].map((v) => Math.exp(v));
    const sum = expected.reduce((s, v) => s + v, 0);
    const byId = new Map(Array.from(d.ids, (id, i) => [id, d.probs[i] as number]));
    assertClose([0, 1, 2, 3].map((id) => byId.get(id) ?? 0), expected.map((v) => v / sum), 1e-6, "penalized probs");
    assert.equal(new Sampler({ greedy: true, repetitionPenalty: 3 }).sample(Float32Array.of(2, 1), [0]), 1);
    assert.throws(() => new Sampler({ repetitionPenalty: 1.1 }).sample(raw, [9]), InvalidInputError);
  });

  it("rejects logits with nothing to sample", () => {
    assert.throws(() => new Sampler().sample(new Float32Array(0)), InvalidInputError);
    assert.throws(() => new Sampler().sample(Float32Array.of(-Infinity, Number.NaN)), InvalidInputError);
  });
});
