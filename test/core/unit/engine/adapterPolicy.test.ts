import assert from "node:assert/strict";
import { adapterScaleFor } from "../../../../packages/core/src/engine/adapterPolicy.js";
import { documentFreeAdapterScale } from "../../../../packages/core/src/cli/commonOptions.js";

describe("engine/adapterPolicy", () => {
  it("documents: the adapter only in prompts citing documents; always: everywhere", () => {
    const docs = (n: number) => ({ numDocuments: n });
    assert.deepEqual([adapterScaleFor("documents", docs(0)), adapterScaleFor("documents", docs(1)), adapterScaleFor("documents", docs(7))], [0, 1, 1]);
    assert.deepEqual([adapterScaleFor("always", docs(0)), adapterScaleFor("always", docs(3))], [1, 1]);
  });
  it("tools: an adapter trained for tools (kvlink.json adapterTasks) runs in prompts with bound tools, others do not", () => {
    const both = ["documents", "tools"] as const;
    assert.deepEqual(
      [adapterScaleFor("documents", { numDocuments: 0, toolsBound: true }, both), adapterScaleFor("documents", { numDocuments: 0, toolsBound: false }, both), adapterScaleFor("documents", { numDocuments: 2 }, both)],
      [1, 0, 1],
    );
    // recipes 1-3 (no adapterTasks): documents only, whatever the tools
    assert.deepEqual([adapterScaleFor("documents", { numDocuments: 0, toolsBound: true }), adapterScaleFor("documents", { numDocuments: 1, toolsBound: true })], [0, 1]);
    assert.equal(adapterScaleFor("documents", { numDocuments: 3 }, ["tools"]), 0, "an adapter trained for tools only does not run on documents");
    assert.equal(adapterScaleFor("always", { numDocuments: 0 }, ["tools"]), 1);
  });
  it("the document-free CLI commands (generate, chat) follow the same rule", () => {
    assert.deepEqual(documentFreeAdapterScale({ adapter: "documents" }), { adapterScale: 0 });
    assert.deepEqual(documentFreeAdapterScale({ adapter: "always" }), { adapterScale: 1 });
  });
});
