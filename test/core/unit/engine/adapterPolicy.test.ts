import assert from "node:assert/strict";
import { adapterScaleFor } from "../../../../packages/core/src/engine/adapterPolicy.js";
import { documentFreeAdapterScale } from "../../../../packages/core/src/cli/commonOptions.js";

describe("engine/adapterPolicy", () => {
  it("documents: the adapter only in prompts citing documents; always: everywhere", () => {
    assert.deepEqual([adapterScaleFor("documents", 0), adapterScaleFor("documents", 1), adapterScaleFor("documents", 7)], [0, 1, 1]);
    assert.deepEqual([adapterScaleFor("always", 0), adapterScaleFor("always", 3)], [1, 1]);
  });
  it("the document-free CLI commands (generate, chat) follow the same rule", () => {
    assert.deepEqual(documentFreeAdapterScale({ adapter: "documents" }), { adapterScale: 0 });
    assert.deepEqual(documentFreeAdapterScale({ adapter: "always" }), { adapterScale: 1 });
  });
});
