/**
 * Runs LangChain.js's own standard chat-model suites (unit and integration) against ChatKVLink on the default model,
 * and prints one line per test and the totals. `@langchain/standard-tests` is not published to npm (it is a private
 * package of the langchainjs monorepo, internal/standard-tests), so the suite's source and jest's `expect` are given:
 *
 *   LANGCHAIN_STANDARD_TESTS_SRC=<folder inside this repo holding internal/standard-tests/src>   (so @langchain/core
 *     resolves to ours) \
 *   EXPECT_MODULE=<path to the `expect` package (jest 30)> \
 *   KVLINK_MODEL_DIR=<model folder> npx tsx scripts/langchain-standard-suites.ts [--tool-choice any] [--temperature t] [--only unit|integration]
 *     [--methods testToolCalling,testStreamTools]   (a subset, by method name)
 *
 * The tests run in the order and with the names of the suite's own vitest runner (parsed from its vitest.ts files), each
 * with a 10-minute limit; a test the suite skips itself (it returns early with a "Skipping" message) counts as skipped.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { KvLinkEngine } from "../packages/core/src/engine/KvLinkEngine.js";
import { ChatKVLink } from "../packages/langchain-adapter/src/chat_models.js";

const src = process.env["LANGCHAIN_STANDARD_TESTS_SRC"];
const expectModule = process.env["EXPECT_MODULE"];
if (src === undefined || expectModule === undefined) {
  process.stderr.write("set LANGCHAIN_STANDARD_TESTS_SRC and EXPECT_MODULE (see the comment at the top of this file)\n");
  process.exit(2);
}
const args = process.argv.slice(2);
const toolChoice = args.includes("--tool-choice") ? args[args.indexOf("--tool-choice") + 1] : undefined;
const temperature = args.includes("--temperature") ? Number(args[args.indexOf("--temperature") + 1]) : undefined;
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const methods = args.includes("--methods") ? new Set(args[args.indexOf("--methods") + 1]!.split(",")) : undefined;

const { expect } = (await import(pathToFileURL(resolve(expectModule, "build/index.js")).href)) as { expect: unknown };

/** The suite's own test list: `test("<name>", () => this.<method>())` in its vitest runner, in order. */
function testList(runner: string): { name: string; method: string }[] {
  const text = readFileSync(runner, "utf8");
  return [...text.matchAll(/test\(\s*"([^"]+)",\s*(?:async\s*)?\(\)\s*=>\s*(?:await\s+)?this\.(test\w+)\(/g)].map((m) => ({ name: m[1]!, method: m[2]! }));
}

const engine = await KvLinkEngine.create({ ...(process.env["KVLINK_MODEL_DIR"] ? { model: process.env["KVLINK_MODEL_DIR"] } : {}) });
// ChatKVLink's defaults unless given (greedy); --temperature 1 samples, and then a run is one draw.
const constructorArgs = { engine, ...(toolChoice === undefined ? {} : { toolChoice }), ...(temperature === undefined ? {} : { temperature }) };
const totals: Record<string, { passed: number; failed: number; skipped: number; total: number }> = {};

for (const kind of ["unit", "integration"] as const) {
  if (only !== undefined && only !== kind) continue;
  const folder = kind === "unit" ? "unit_tests" : "integration_tests";
  const module = (await import(pathToFileURL(join(src, folder, "chat_models.ts")).href)) as Record<string, new (fields: object) => Record<string, unknown>>;
  const Base = kind === "unit" ? module["ChatModelUnitTests"]! : module["ChatModelIntegrationTests"]!;
  // Text content blocks are accepted (list content of text parts); images, audio and files are not.
  const suite = new Base({ Cls: ChatKVLink, chatModelHasToolCalling: true, chatModelHasStructuredOutput: true, constructorArgs, supportsStandardContentType: { text: true } });
  suite["expect"] = expect;
  const count = (totals[kind] = { passed: 0, failed: 0, skipped: 0, total: 0 });
  for (const { method } of testList(join(src, folder, "vitest.ts")).filter((t) => methods === undefined || methods.has(t.method))) {
    count.total++;
    const logged: string[] = [];
    const { log, warn } = console;
    console.log = console.warn = (...parts: unknown[]) => void logged.push(parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" "));
    const t0 = performance.now();
    let outcome: string;
    try {
      await Promise.race([
        (suite[method] as () => Promise<void>).call(suite),
        new Promise((_, reject) => setTimeout(() => reject(new Error("timed out after 600 s")), 600_000).unref()),
      ]);
      outcome = logged.some((l) => /skipping/i.test(l)) ? "skip" : "pass";
    } catch (error) {
      outcome = `FAIL ${(error instanceof Error ? error.message : String(error)).split("\n").slice(0, 6).join(" | ").slice(0, 400)}`;
    } finally {
      console.log = log;
      console.warn = warn;
    }
    if (outcome === "pass") count.passed++;
    else if (outcome === "skip") count.skipped++;
    else count.failed++;
    process.stdout.write(`${kind} ${method} (${((performance.now() - t0) / 1000).toFixed(1)} s): ${outcome}${logged.length > 0 && outcome !== "pass" ? ` [log: ${logged.join(" / ").slice(0, 200)}]` : ""}\n`);
  }
}
for (const [kind, c] of Object.entries(totals)) process.stdout.write(`${kind}: ${c.passed}/${c.total} passed, ${c.failed} failed, ${c.skipped} skipped by the suite\n`);
await engine.dispose();
