import assert from "node:assert/strict";
import { HostKvCache } from "../../../../packages/core/src/runtime/HostKvCache.js";
import { PresentKvCache } from "../../../../packages/core/src/runtime/PresentKvCache.js";
import type { KvBlock } from "../../../../packages/core/src/runtime/Runtime.js";
import { deltaRotation } from "../../../../packages/core/src/rope/rotateKeysInto.js";
import { decodeFloat16, encodeFloat16 } from "../../../../packages/core/src/store/codec/float16.js";

const geometry = { numLayers: 2, numKvHeads: 3, headDim: 4 };

/** A block whose every element encodes (layer, kind, head, token, dim), so misplaced data is visible. */
function block(startToken: number, n: number): KvBlock {
  const make = (layer: number, kind: number): Float32Array => {
    const a = new Float32Array(geometry.numKvHeads * n * geometry.headDim);
    for (let h = 0; h < geometry.numKvHeads; h++)
      for (let t = 0; t < n; t++)
        for (let d = 0; d < geometry.headDim; d++)
          a[(h * n + t) * geometry.headDim + d] = layer * 1e6 + kind * 1e5 + h * 1e4 + (startToken + t) * 10 + d;
    return a;
  };
  return {
    keys: [make(0, 0), make(1, 0)],
    values: [make(0, 1), make(1, 1)],
    numTokens: n,
    positions: Int32Array.from({ length: n }, (_, i) => 100 + startToken + i),
  };
}

for (const [name, create] of [
  ["HostKvCache", () => new HostKvCache(geometry, 10_000)],
  ["PresentKvCache", () => new PresentKvCache(geometry)],
] as const) {
  describe(name, () => {
    it("reads back appended blocks across growth, in [KVH, n, D] layout", () => {
      const cache = create();
      cache.append(block(0, 5));
      cache.append(block(5, 300)); // forces the host cache past its first 256-slot chunk
      cache.append(block(305, 2));
      assert.equal(cache.length, 307);
      assert.equal(cache.lastPosition, 100 + 306);
      const read = cache.read(3, 310 - 3);
      assert.deepEqual(read, block(3, 304));
      assert.equal(cache.positionAt(0), 100);
    });

    it("truncates and appends after the cut", () => {
      const cache = create();
      cache.append(block(0, 10));
      cache.truncate(4);
      assert.deepEqual(cache.status(), { length: 4, lastPosition: 103 });
      cache.append(block(4, 3));
      assert.deepEqual(cache.read(0, 7), block(0, 7));
    });
  });
}

describe("HostKvCache buffers", () => {
  it("keeps a whole-capacity [KVH, capacity, D] buffer with filled slots at the start of each head", () => {
    const cache = new HostKvCache(geometry, 10_000);
    cache.append(block(0, 2));
    const cap = cache.capacity;
    assert.ok(cap >= 2);
    const k = cache.pastKeys(1);
    assert.equal(k.length, geometry.numKvHeads * cap * geometry.headDim);
    // head 2, token 1, dim 3 of layer 1's keys
    assert.equal(k[(2 * cap + 1) * geometry.headDim + 3], 1e6 + 2e4 + 10 + 3);
  });

  it("caps chunked growth at the hint but never below what is required", () => {
    const cache = new HostKvCache(geometry, 8);
    cache.append(block(0, 5));
    assert.equal(cache.capacity, 8);
    cache.append(block(5, 7));
    assert.equal(cache.capacity, 12);
  });
});

describe("HostKvCache with fp16 slots (graphs with float16 past inputs)", () => {
  // Small values whose fp16 rounding is visible: the codec's own encoder is the reference for the rounding.
  function smallBlock(n: number, seed: number): KvBlock {
    const make = (salt: number): Float32Array =>
      Float32Array.from({ length: geometry.numKvHeads * n * geometry.headDim }, (_, i) => Math.sin(seed + salt * 1.3 + i * 0.77) * 3.1);
    return { keys: [make(0), make(1)], values: [make(2), make(3)], numTokens: n, positions: Int32Array.from({ length: n }, (_, i) => 7 + i) };
  }
  const rounded = (a: Float32Array): Float32Array => {
    const bits = new Uint16Array(a.length);
    encodeFloat16(a, bits);
    const out = new Float32Array(a.length);
    decodeFloat16(bits, out);
    return out;
  };

  it("stores fp16 bits in Uint16Array slots and reads back the fp16-rounded fp32 values, across growth", () => {
    const cache = new HostKvCache(geometry, { maxCapacityHint: 10_000, slotType: "float16" });
    assert.equal(cache.slotType, "float16");
    const a = smallBlock(5, 1);
    const b = smallBlock(300, 2);
    cache.append(a);
    cache.append(b);
    assert.ok(cache.pastKeys(0) instanceof Uint16Array);
    const read = cache.read(0, 305);
    for (let l = 0; l < geometry.numLayers; l++) {
      const joined = (x: Float32Array, y: Float32Array): Float32Array => {
        // [KVH, n, D] of the two blocks, concatenated per head.
        const out = new Float32Array(geometry.numKvHeads * 305 * geometry.headDim);
        for (let h = 0; h < geometry.numKvHeads; h++) {
          out.set(x.subarray(h * 5 * geometry.headDim, (h + 1) * 5 * geometry.headDim), h * 305 * geometry.headDim);
          out.set(y.subarray(h * 300 * geometry.headDim, (h + 1) * 300 * geometry.headDim), (h * 305 + 5) * geometry.headDim);
        }
        return out;
      };
      assert.deepEqual(read.keys[l], rounded(joined(a.keys[l]!, b.keys[l]!)));
      assert.deepEqual(read.values[l], rounded(joined(a.values[l]!, b.values[l]!)));
    }
    assert.equal(cache.positionAt(5), 7);
  });

  it("re-rotates a document into fp16 slots as the fp32 slots do, then rounds", () => {
    const doc = smallBlock(40, 3);
    const rotation = deltaRotation(Float64Array.from([1, 0.1]), 123);
    const full = new HostKvCache(geometry, 10_000);
    const half = new HostKvCache(geometry, { maxCapacityHint: 10_000, slotType: "float16" });
    for (const cache of [full, half]) cache.appendDocument(doc, 2, 100, rotation);
    const a = full.read(0, 38);
    const b = half.read(0, 38);
    for (let l = 0; l < geometry.numLayers; l++) {
      assert.deepEqual(b.keys[l], rounded(a.keys[l]!));
      assert.deepEqual(b.values[l], rounded(a.values[l]!));
    }
    assert.deepEqual(b.positions, a.positions);
  });
});
