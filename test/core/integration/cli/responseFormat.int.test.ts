/** `kvlink generate` / `kvlink ask` with --json-schema and --json-object (constrained decoding, issue 13 A5). */
import assert from "node:assert/strict";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeTinyModelRoot, runKvlink } from "./runKvlink.js";

describe("kvlink CLI: constrained answers", function () {
  this.timeout(120_000);
  let root: string;
  let modelDir: string;
  let schemaFile: string;
  const schema = { type: "object", properties: { answer: { enum: ["yes", "no"] }, n: { type: "integer" } }, required: ["answer"] };
  before(async () => {
    ({ root, modelDir } = await makeTinyModelRoot("kvlink-cli-json-"));
    schemaFile = join(root, "schema.json");
    await writeFile(schemaFile, JSON.stringify(schema));
  });
  after(() => rm(root, { recursive: true, force: true }));

  const check = (text: string): void => {
    const value = JSON.parse(text) as Record<string, unknown>;
    assert.ok(value["answer"] === "yes" || value["answer"] === "no", text);
    assert.ok(Object.keys(value).every((k) => k === "answer" || k === "n"), text);
    if ("n" in value) assert.ok(Number.isInteger(value["n"]), text);
  };

  it("generate --json-schema: a random-weight model's greedy answer is JSON valid for the schema", async () => {
    const run = await runKvlink(["generate", "--model", modelDir, "--prompt", "Yes or no?", "--greedy", "--max-tokens", "60", "--json-schema", schemaFile, "--json", "--threads", "1"]);
    assert.equal(run.code, 0, run.stderr);
    check((JSON.parse(run.stdout) as { text: string }).text);
  });

  it("ask --json-schema (documents linked) and generate --json-object", async () => {
    const doc = join(root, "doc.md");
    await writeFile(doc, "The answer is yes.");
    const ask = await runKvlink(["ask", "--model", modelDir, "--no-store", "--docs", doc, "--question", "Yes or no?", "--max-tokens", "60", "--json-schema", schemaFile, "--json", "--threads", "1"]);
    assert.equal(ask.code, 0, ask.stderr);
    check((JSON.parse(ask.stdout) as { answer: string }).answer);
    const object = await runKvlink(["generate", "--model", modelDir, "--prompt", "Hi", "--seed", "3", "--max-tokens", "400", "--json-object", "--json", "--threads", "1"]);
    assert.equal(object.code, 0, object.stderr);
    const out = JSON.parse(object.stdout) as { text: string; tokens: number };
    // Sampling from random weights may hit the token budget mid-object; every text it wrote is a prefix of an object.
    assert.match(out.text, /^\{/);
  });

  it("a schema file that is not JSON, or a schema it cannot enforce, is an INVALID_INPUT error before the model loads", async () => {
    const bad = join(root, "bad.json");
    await writeFile(bad, "{not json");
    const run = await runKvlink(["generate", "--model", join(root, "missing"), "--prompt", "hi", "--json-schema", bad]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: .*not valid JSON.*\(INVALID_INPUT\)\n$/);
    const tuple = join(root, "tuple.json");
    await writeFile(tuple, JSON.stringify({ type: "array", prefixItems: [{ type: "string" }] }));
    const unsupported = await runKvlink(["generate", "--model", join(root, "missing"), "--prompt", "hi", "--json-schema", tuple]);
    assert.equal(unsupported.code, 1);
    assert.match(unsupported.stderr, /prefixItems.*\(INVALID_INPUT\)/);
  });
});
