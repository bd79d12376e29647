import assert from "node:assert/strict";
import { ByteLruCache } from "../../../../packages/core/src/store/ByteLruCache.js";
import { SingleFlight } from "../../../../packages/core/src/store/SingleFlight.js";

describe("store/ByteLruCache", () => {
  it("evicts least recently used entries to stay within its byte bound", () => {
    const lru = new ByteLruCache<string, string>(10);
    lru.set("a", "A", 4);
    lru.set("b", "B", 4);
    assert.equal(lru.get("a"), "A"); // a is now most recent
    lru.set("c", "C", 4); // evicts b
    assert.equal(lru.get("b"), undefined);
    assert.equal(lru.get("a"), "A");
    assert.equal(lru.sizeBytes, 8);
    assert.equal(lru.numEvictions, 1);
    assert.equal(lru.set("huge", "H", 11), false);
    assert.equal(lru.get("huge"), undefined);
    lru.set("a", "A2", 2); // replace adjusts the size
    assert.equal(lru.sizeBytes, 6);
  });

  it("drops expired entries", () => {
    const lru = new ByteLruCache<string, number>(100);
    lru.set("x", 1, 1, 1000);
    assert.equal(lru.get("x", 999), 1);
    assert.equal(lru.get("x", 1000), undefined);
    assert.equal(lru.size, 0);
  });
});

describe("store/SingleFlight", () => {
  it("shares one run among concurrent callers and forgets it once settled", async () => {
    const flights = new SingleFlight<string, number>();
    let runs = 0;
    const fn = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 5));
      return runs;
    };
    const [a, b] = await Promise.all([flights.run("k", fn), flights.run("k", fn)]);
    assert.equal(runs, 1);
    assert.equal(a, b);
    assert.equal(flights.numInFlight, 0);
    await flights.run("k", fn);
    assert.equal(runs, 2);
  });
});
