import assert from "node:assert/strict";
import { ConfigError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { defaultStoreUrl, parseStoreUrl } from "../../../../packages/core/src/store/backend/parseStoreUrl.js";

describe("store/backend/parseStoreUrl", () => {
  it("parses memory, sqlite (relative and absolute) and redis URLs", () => {
    assert.deepEqual(parseStoreUrl("memory://"), { scheme: "memory", url: "memory://", description: "memory://" });
    assert.equal(parseStoreUrl("memory://shared").url, "memory://shared");
    const rel = parseStoreUrl("sqlite://data/cache.sqlite", "/srv/app");
    assert.ok(rel.scheme === "sqlite" && rel.path === "/srv/app/data/cache.sqlite");
    const abs = parseStoreUrl("sqlite:///var/cache/kv.sqlite", "/srv/app");
    assert.ok(abs.scheme === "sqlite" && abs.path === "/var/cache/kv.sqlite");
    assert.equal(parseStoreUrl("redis://127.0.0.1:6380/2").scheme, "redis");
    assert.equal(parseStoreUrl("redis://user:secret@host:6379").description, "redis://user:***@host:6379");
  });

  it("defaults to sqlite under KVLINK_HOME", () => {
    assert.equal(defaultStoreUrl({ KVLINK_HOME: "/data/kvlink" }), "sqlite:///data/kvlink/cache.sqlite");
    assert.match(defaultStoreUrl({}), /^sqlite:\/\/\/.*\/\.cache\/kvlink\/cache\.sqlite$/);
  });

  it("throws ConfigError for unknown schemes and malformed URLs", () => {
    for (const url of ["ftp://x", "postgres://h/db", "cache.sqlite", "sqlite://", "redis://h:6379/x", "redis://h:6379?x=1", "memory://a/b"]) {
      assert.throws(() => parseStoreUrl(url), ConfigError, url);
    }
  });
});
