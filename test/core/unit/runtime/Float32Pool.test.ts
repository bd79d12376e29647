import assert from "node:assert/strict";
import { Float32Pool } from "../../../../packages/core/src/runtime/Float32Pool.js";

describe("Float32Pool", () => {
  it("hands back a returned buffer as a view of the requested length, never one more than twice as large", () => {
    const pool = new Float32Pool(1 << 20);
    const a = pool.take(1000);
    assert.equal(a.length, 1000);
    pool.give(a);
    const b = pool.take(600);
    assert.equal(b.length, 600);
    assert.equal(b.buffer, a.buffer, "reused");
    pool.give(b);
    const c = pool.take(400);
    assert.notEqual(c.buffer, a.buffer, "a 1000-float buffer is not used for 400 floats");
    assert.equal(pool.sizeBytes, 4000);
  });
  it("drops buffers beyond its byte cap", () => {
    const pool = new Float32Pool(4000);
    pool.give(new Float32Array(800));
    pool.give(new Float32Array(900));
    assert.ok(pool.sizeBytes <= 4000);
  });
});
