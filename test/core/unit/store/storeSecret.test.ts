/** Issue 13 B8: with a store secret, entries are HMAC-tagged; entries without a valid tag (forged, or written without the secret) are misses. */
import assert from "node:assert/strict";
import { ConfigError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { KeyvKvCacheStore } from "../../../../packages/core/src/store/KeyvKvCacheStore.js";
import { makeFingerprint, makeTestCache } from "./testCaches.js";

const fingerprint = makeFingerprint("secret-model");
const SECRET = "correct horse battery staple";
let n = 0;
const freshUrl = (): string => `memory://secret-test-${process.pid}-${n++}`;

describe("store secret (HMAC over every entry)", () => {
  const ids = [11, 12, 13];
  const compute = async () => makeTestCache({ fingerprint, tokenIds: ids });

  it("holders of the secret share entries; a writer without it cannot plant one that is served", async () => {
    const url = freshUrl();
    // An attacker who can write to the shared store but lacks the secret writes a well-formed (sha256) entry…
    await using attacker = await KeyvKvCacheStore.create({ url, namespace: "tenant", fingerprint, lruBytes: 0 });
    await attacker.set(await compute());
    // …which a store with the secret does not serve: it is a miss and gets recomputed (and re-written with a tag).
    await using victim = await KeyvKvCacheStore.create({ url, namespace: "tenant", fingerprint, lruBytes: 0, secret: SECRET });
    const report = await victim.verify();
    assert.deepEqual(report.map((r) => (r.status === "corrupt" ? r.check : r.status)), ["authentication"], JSON.stringify(report));
    assert.equal(await victim.get(ids), undefined);
    let computed = 0;
    const first = await victim.getOrCompute(ids, async () => (computed++, compute()));
    assert.equal(first.source, "computed");
    assert.equal(computed, 1);
    // Another holder of the secret reads the tagged entry; a holder of another secret does not.
    await using friend = await KeyvKvCacheStore.create({ url, namespace: "tenant", fingerprint, lruBytes: 0, secret: SECRET });
    assert.ok(await friend.get(ids));
    await using stranger = await KeyvKvCacheStore.create({ url, namespace: "tenant", fingerprint, lruBytes: 0, secret: "another secret of length" });
    assert.equal(await stranger.get(ids), undefined);
  });

  it("refuses a secret shorter than 16 characters", async () => {
    await assert.rejects(KeyvKvCacheStore.create({ url: freshUrl(), namespace: "t", fingerprint, secret: "short" }), ConfigError);
  });
});
