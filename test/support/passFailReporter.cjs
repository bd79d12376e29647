// Mocha's Spec reporter plus the closing line CI reads: "N passed, N failed" (skips on the line before).
"use strict";
const Mocha = require("mocha");
const { EVENT_RUN_END } = Mocha.Runner.constants;

class PassFailReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      // printed after Spec's epilogue
      setImmediate(() => {
        if (s.pending > 0) process.stdout.write(`${s.pending} skipped\n`);
        process.stdout.write(`${s.passes} passed, ${s.failures} failed\n`);
      });
    });
  }
}
module.exports = PassFailReporter;
