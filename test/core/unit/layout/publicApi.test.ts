import assert from "node:assert/strict";

/** Issue 13 C5: test fixtures are not part of the public API; they live at @kvlink/core/testing (built dist). */
describe("public entry points of @kvlink/core", () => {
  it("the main entry exports no test fixtures; @kvlink/core/testing does", async () => {
    const core = (await import("@kvlink/core")) as Record<string, unknown>;
    const testing = (await import("@kvlink/core/testing")) as Record<string, unknown>;
    for (const name of ["tinySpec", "createRandomWeights", "createTinyTokenizer", "writeTinyModel", "flattenLayout", "buildBlockMask"]) {
      assert.equal(core[name], undefined, `${name} is in the main entry`);
      assert.equal(typeof testing[name], "function", `${name} is missing from @kvlink/core/testing`);
    }
    assert.equal(typeof core["KvLinkEngine"], "function");
  });
});
