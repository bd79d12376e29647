import assert from "node:assert/strict";
import { ExecutionProviderError } from "../../../../packages/core/src/errors/KvLinkError.js";
import type { TinyModel } from "../../../../packages/core/src/graph/writeTinyModel.js";
import { probeExecutionProvider } from "../../../../packages/core/src/runtime/probeExecutionProvider.js";
import { RuntimeClient } from "../../../../packages/core/src/runtime/RuntimeClient.js";
import { TinyModelDir } from "./tinyModels.js";

describe("execution providers that cannot start", function () {
  this.timeout(120_000);
  let dir: TinyModelDir;
  let model: TinyModel;
  before(async () => {
    dir = await TinyModelDir.create();
    model = await dir.write("kvlink", { signature: "kvlink" });
  });
  after(() => dir.remove());

  it("the probe computes on cpu", async () => {
    const result = await probeExecutionProvider("cpu");
    assert.equal(result.ok, true);
  });

  it("an unknown provider name is an ExecutionProviderError (unknownProvider), not a crash", async () => {
    const result = await probeExecutionProvider("no-such-ep");
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.error instanceof ExecutionProviderError);
    assert.equal(!result.ok && (result.error as ExecutionProviderError).details["reason"], "unknownProvider");
  });

  // CI machines have no GPU and no CUDA provider; where both are installed the same calls must succeed instead.
  for (const ep of ["cuda", "webgpu"]) {
    it(`${ep}: the runtime worker either starts on it or rejects with an ExecutionProviderError, as the probe says`, async () => {
      const probe = await probeExecutionProvider(ep);
      const options = { modelPath: model.paths.onnxModel, spec: model.spec, numThreads: 1, executionProvider: ep };
      if (probe.ok) {
        await using runtime = await RuntimeClient.create(options);
        assert.equal(runtime.info.executionProvider, ep);
        return;
      }
      assert.ok(probe.error instanceof ExecutionProviderError);
      await assert.rejects(RuntimeClient.create(options), (error: unknown) => {
        assert.ok(error instanceof ExecutionProviderError, String(error));
        assert.equal(error.details["executionProvider"], ep);
        assert.equal(error.details["reason"], (probe.error as ExecutionProviderError).details["reason"]);
        return true;
      });
    });
  }
});
