import assert from "node:assert/strict";
import { HostKvCache } from "../../../../packages/core/src/runtime/HostKvCache.js";
import { PresentKvCache } from "../../../../packages/core/src/runtime/PresentKvCache.js";
import type { KvBlock } from "../../../../packages/core/src/runtime/Runtime.js";

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
