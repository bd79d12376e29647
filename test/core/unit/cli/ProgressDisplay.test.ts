import assert from "node:assert/strict";
import { formatSeconds, ProgressDisplay } from "../../../../packages/core/src/cli/ProgressDisplay.js";

/** A non-TTY stream that records what is written. */
function recorder(): { stream: NodeJS.WriteStream; lines: () => string[] } {
  let text = "";
  const stream = { isTTY: false, write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WriteStream;
  return { stream, lines: () => text.split("\n").filter((l) => l !== "") };
}

describe("cli/ProgressDisplay (plain lines when stderr is not a TTY)", () => {
  it("prints a line when a phase starts and when it ends, and throttles the lines in between", () => {
    const out = recorder();
    const display = new ProgressDisplay({ stream: out.stream, lineIntervalMs: 60_000 });
    assert.equal(display.started, false);
    display.update({ phase: "download", done: 0, total: 1 });
    display.update({ phase: "download", done: 1, total: 1 });
    for (let i = 0; i <= 100; i++) display.update({ phase: "convert", done: i, total: 100, detail: "tensors" });
    display.update({ phase: "convert", done: 100, total: 100, detail: "tensors" });
    display.stop();
    display.update({ phase: "write", done: 0, total: 2 });
    assert.equal(display.started, true);
    assert.deepEqual(out.lines(), ["download: 0/1 (0%)", "download: 1/1 (100%)", "convert: 0/100 (0%) tensors", "convert: 100/100 (100%) tensors"]);
  });

  it("adds an ETA while a phase runs and clamps counts into [0, total]", async () => {
    const out = recorder();
    const display = new ProgressDisplay({ stream: out.stream, lineIntervalMs: 0 });
    display.update({ phase: "precompute", done: 0, total: 10 });
    await new Promise((r) => setTimeout(r, 20));
    display.update({ phase: "precompute", done: 5, total: 10, detail: "3 docs/s" });
    display.update({ phase: "precompute", done: 12, total: 10 });
    assert.match(out.lines()[1]!, /^precompute: 5\/10 \(50%\) 3 docs\/s \| ETA \d+s$/);
    assert.equal(out.lines()[2], "precompute: 10/10 (100%)");
  });

  it("formats durations", () => {
    assert.equal(formatSeconds(4.4), "4s");
    assert.equal(formatSeconds(185), "3m05s");
    assert.equal(formatSeconds(3720), "1h02m");
    assert.equal(formatSeconds(Number.POSITIVE_INFINITY), "?");
  });
});
