import assert from "node:assert/strict";
import { deltaRotation } from "../../../../packages/core/src/rope/rotateKeysInto.js";
import { HostKvCache, type KeyLayout } from "../../../../packages/core/src/runtime/HostKvCache.js";
import { PlacementPool } from "../../../../packages/core/src/runtime/PlacementPool.js";
import type { ResidentDocument } from "../../../../packages/core/src/runtime/DocumentKvLru.js";
import type { KvBlock } from "../../../../packages/core/src/runtime/Runtime.js";
import { decodeFloat16, encodeFloat16 } from "../../../../packages/core/src/store/codec/float16.js";
import { syntheticKvBlock } from "../../../support/syntheticKv.js";

// Large enough for the pool to split the work (it places documents under 2^20 floats on the caller alone).
const geometry = { numLayers: 4, numKvHeads: 4, headDim: 64 };
const invFreq = Float64Array.from({ length: 32 }, (_, i) => Math.pow(10000, -(2 * i) / 64));

/** A document block of n tokens with distinct values everywhere; `shared` puts it in SharedArrayBuffers. */
function documentBlock(n: number, seed: number, shared: boolean): KvBlock {
  return syntheticKvBlock(geometry, n, { seed, shared });
}

/** Places the documents one after another (each rotated to its offset) and returns the cache. */
async function placeAll(
  keyLayout: KeyLayout,
  docs: readonly ResidentDocument[],
  pool: PlacementPool | undefined,
  slotType: "float32" | "float16" = "float32",
): Promise<HostKvCache> {
  const total = docs.reduce((s, d) => s + d.numTokens, 0);
  const cache = new HostKvCache(geometry, { maxCapacityHint: 1 << 16, keyLayout, slotType });
  cache.ensureCapacity(total + 7);
  let offset = 3;
  for (const doc of docs) {
    const rotation = deltaRotation(invFreq, offset);
    if (pool === undefined) {
      cache.appendDocument(doc, 1, offset, rotation);
    } else {
      const plan = cache.planDocument(doc, 1, offset, rotation);
      await pool.run(plan.layers);
      plan.commit();
    }
    offset += doc.numTokens;
  }
  return cache;
}

function assertSameSlots(a: HostKvCache, b: HostKvCache): void {
  assert.equal(a.length, b.length);
  for (let slot = 0; slot < a.length; slot += 97) assert.equal(a.positionAt(slot), b.positionAt(slot));
  for (let l = 0; l < geometry.numLayers; l++) {
    // Bit-identical: the helpers run the same arithmetic, only on another thread.
    assert.deepEqual(a.read(0, a.length).keys[l], b.read(0, b.length).keys[l]);
    assert.deepEqual(a.read(0, a.length).values[l], b.read(0, b.length).values[l]);
  }
}

describe("PlacementPool: placing document caches on helper threads", function () {
  this.timeout(60_000);
  let pool: PlacementPool;
  before(async () => {
    pool = PlacementPool.create(3)!;
    await pool.whenStarted();
  });
  after(() => pool.dispose());

  it("is not created for one thread", () => {
    assert.equal(PlacementPool.create(1), undefined);
  });

  for (const keyLayout of ["tokenMajor", "dimMajor"] as const) {
    it(`places shared documents exactly as the calling thread alone does (${keyLayout} keys)`, async () => {
      assert.equal(pool.threads, 3);
      const docs = [documentBlock(1100, 1, true), documentBlock(900, 2, true)];
      assertSameSlots(await placeAll(keyLayout, docs, pool), await placeAll(keyLayout, docs, undefined));
    });
  }

  it("places shared documents into fp16 slots exactly as the calling thread alone does (keys and values rounded by the helpers)", async () => {
    const docs = [documentBlock(1100, 6, true), documentBlock(700, 7, true)];
    const helped = await placeAll("tokenMajor", docs, pool, "float16");
    assert.ok(helped.pastValues(0) instanceof Uint16Array);
    assertSameSlots(helped, await placeAll("tokenMajor", docs, undefined, "float16"));
  });

  it("places fp16 resident documents into fp16 slots exactly as the calling thread alone does (values copied, keys rotated)", async () => {
    const toHalf = (doc: KvBlock): ResidentDocument => {
      const half = (a: Float32Array): Uint16Array => {
        const bits = new Uint16Array(new SharedArrayBuffer(a.length * 2));
        encodeFloat16(a, bits);
        return bits;
      };
      return { numTokens: doc.numTokens, keys: doc.keys.map(half), values: doc.values.map(half) };
    };
    const docs = [toHalf(documentBlock(1100, 8, true)), toHalf(documentBlock(600, 9, true))];
    const helped = await placeAll("tokenMajor", docs, pool, "float16");
    const alone = await placeAll("tokenMajor", docs, undefined, "float16");
    assertSameSlots(helped, alone);
    // Values of fp16 documents are copied bit for bit.
    const value = alone.read(0, 4).values[0]!;
    const expected = new Float32Array(4 * geometry.headDim);
    decodeFloat16((docs[0]!.values[0] as Uint16Array).subarray(geometry.headDim, 5 * geometry.headDim), expected);
    assert.deepEqual(value.subarray(0, 4 * geometry.headDim), expected);
  });

  it("places unshared and small documents on the calling thread, with the same result", async () => {
    const docs = [documentBlock(1100, 3, false), documentBlock(20, 4, true)];
    assertSameSlots(await placeAll("tokenMajor", docs, pool), await placeAll("tokenMajor", docs, undefined));
    assert.equal(pool.threads, 3);
  });

  it("falls back to the calling thread once its helpers are gone", async () => {
    const alone = PlacementPool.create(2)!;
    await alone.whenStarted();
    assert.equal(alone.threads, 2);
    await alone.dispose();
    assert.equal(alone.threads, 1);
    const docs = [documentBlock(1100, 5, true)];
    assertSameSlots(await placeAll("tokenMajor", docs, alone), await placeAll("tokenMajor", docs, undefined));
  });
});
