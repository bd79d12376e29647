import assert from "node:assert/strict";
import { interruptSignal, InterruptedError } from "../../../../packages/core/src/cli/interruptSignal.js";
import { reportError } from "../../../../packages/core/src/cli/runCli.js";

describe("Ctrl-C in the CLI (issue 13 B12)", () => {
  it("aborts the command's signal with InterruptedError and makes the exit code 130, not 1", () => {
    // Only our handler may see this SIGINT (mocha's own would stop the run).
    const others = process.listeners("SIGINT");
    process.removeAllListeners("SIGINT");
    const interrupt = interruptSignal();
    process.emit("SIGINT");
    for (const l of others) process.on("SIGINT", l);
    assert.ok(interrupt.signal.aborted);
    assert.ok(interrupt.signal.reason instanceof InterruptedError);
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      assert.equal(reportError(interrupt.signal.reason), 130);
      // an error a command throws while winding down after Ctrl-C still exits 130
      assert.equal(reportError(new Error("aborted mid-forward")), 130);
    } finally {
      process.stderr.write = original;
      interrupt.dispose();
    }
  });
});
