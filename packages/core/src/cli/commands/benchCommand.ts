import { Command } from "commander";
import { measureTtft, type TtftReport } from "../../engine/measureTtft.js";
import { addModelOptions, isVerbose, type ModelFlags } from "../commonOptions.js";
import { createCliLogger } from "../createCliLogger.js";
import { interruptSignal } from "../interruptSignal.js";
import { openEngine } from "../openEngine.js";
import { parseInteger } from "../parseOptions.js";
import { printJson } from "../printJson.js";
import { ProgressDisplay } from "../ProgressDisplay.js";

interface BenchTtftFlags extends ModelFlags {
  docs: number;
  docTokens: number;
  repetitions: number;
  json?: boolean;
}

/** `kvlink bench`: measurements of this machine (see benchmarks/README.md for the full suites). */
export function benchCommand(): Command {
  const bench = new Command("bench").description("measure this machine (time to first token)");
  const ttft = new Command("ttft")
    .description("time to first token: full prefill vs KVLink over warm document caches vs the floor (the fresh tokens' forward pass)")
    .option("--docs <n>", "documents per prompt", parseInteger, 10)
    .option("--doc-tokens <n>", "tokens per (synthetic) document", parseInteger, 512)
    .option("--repetitions <n>", "measured repetitions of each mode (medians reported)", parseInteger, 5)
    .option("--json", "print the whole report as one JSON object {full_ms, kvlink_ms, floor_ms, ...}");
  addModelOptions(ttft);
  ttft.action(async (flags: BenchTtftFlags, cmd: Command) => {
    const logger = createCliLogger(isVerbose(cmd));
    const interrupt = interruptSignal();
    const display = new ProgressDisplay();
    try {
      await using engine = await openEngine({ ...flags, store: false }, { logger, signal: interrupt.signal });
      const report = await measureTtft(engine, {
        numDocs: flags.docs,
        docTokens: flags.docTokens,
        repetitions: flags.repetitions,
        signal: interrupt.signal,
        onProgress: (p) => display.update({ phase: p.phase, done: p.done, total: p.total }),
      });
      display.stop();
      if (flags.json) {
        printJson({ ...report });
        return;
      }
      process.stdout.write(formatTable(report));
    } finally {
      display.stop();
      interrupt.dispose();
    }
  });
  return bench.addCommand(ttft);
}

function formatTable(r: TtftReport): string {
  const ms = (v: number): string => `${v.toFixed(1)} ms`.padStart(12);
  const rows: [string, number, string][] = [
    ["full", r.full_ms, `${r.fresh_tokens.full} tokens prefilled`],
    ["kvlink", r.kvlink_ms, `${r.fresh_tokens.kvlink} fresh tokens over ${r.doc_tokens} cached`],
    ["rerotate", r.rerotate_ms, `${r.fresh_tokens.rerotate} fresh tokens, no link tokens`],
    ["floor", r.floor_ms, "forward pass of kvlink's fresh tokens only"],
  ];
  const lines = [
    `TTFT, ${r.num_docs} documents x ~${Math.round(r.doc_tokens / r.num_docs)} tokens, ${r.positions} positions, ` +
      `${r.num_link_tokens} link tokens per document, median of ${r.repetitions} (${r.signature} signature)`,
    ...rows.map(([name, v, note]) => `  ${name.padEnd(9)}${ms(v)}   ${note}`),
    `  kvlink / full  = ${(r.ratio_kvlink_full * 100).toFixed(1)} %`,
    `  kvlink / floor = ${r.ratio_kvlink_floor.toFixed(2)} x`,
    `  kvlink phases: ${Object.entries(r.phases.kvlink)
      .map(([k, v]) => `${k.replace(/_ms$/, "")} ${v.toFixed(1)}`)
      .join(", ")} (ms)`,
  ];
  return `${lines.join("\n")}\n`;
}
