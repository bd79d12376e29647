import assert from "node:assert/strict";
import { createCliLogger } from "../../../../packages/core/src/cli/createCliLogger.js";
import { KeyvKvCacheStore } from "../../../../packages/core/src/store/KeyvKvCacheStore.js";
import { makeFingerprint, makeTestCache } from "../store/testCaches.js";

describe("cli logger without --verbose (issue 13 B7: a misconfigured store said nothing)", function () {
  this.timeout(30_000);
  it("prints warnings and errors as one plain line each, nothing below warn", () => {
    const lines: string[] = [];
    const logger = createCliLogger(false, { write: (t: string) => lines.push(t) });
    logger.debug({}, "hidden");
    logger.info({}, "hidden");
    logger.child({ component: "x" }).warn({ err: new Error("NOAUTH") }, "cache store unreachable");
    logger.error({}, "boom");
    assert.deepEqual(lines, ["warning: cache store unreachable (NOAUTH)\n", "error: boom\n"]);
  });

  it("a store that never answers is reported once on stderr, and the call still computes", async () => {
    const lines: string[] = [];
    const fingerprint = makeFingerprint("cli-logger");
    await using store = await KeyvKvCacheStore.create({
      fingerprint,
      namespace: "t",
      url: "redis://127.0.0.1:1",
      opTimeoutMs: 300,
      logger: createCliLogger(false, { write: (t: string) => lines.push(t) }),
    });
    for (const ids of [[1, 2], [3, 4]]) {
      const got = await store.getOrCompute(ids, async () => makeTestCache({ fingerprint, tokenIds: ids }));
      assert.equal(got.source, "computed");
    }
    assert.equal(lines.filter((l) => l.startsWith("warning: cache store unreachable")).length, 1, lines.join(""));
  });
});
