import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DecoderModel } from "../../../../packages/core/src/decoder/DecoderModel.js";
import { KvLinkEngine } from "../../../../packages/core/src/engine/KvLinkEngine.js";
import { ModelFormatError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { writeTinyModel } from "../../../../packages/core/src/graph/writeTinyModel.js";

/** Issue 13 B4 and B11: a config.json that disagrees with the graph it sits beside is refused at load. */
describe("graph spec stamp: config.json must match the graph (rope_theta, hidden size, vocabulary)", function () {
  this.timeout(60_000);
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "kvlink-stamp-"));
  });
  after(async () => rm(root, { recursive: true, force: true }));

  async function tinyWith(name: string, edit: (config: Record<string, unknown>) => void): Promise<string> {
    const dir = join(root, name);
    await writeTinyModel(dir, { layers: 1, hidden: 32, heads: 4, kvHeads: 2, vocab: 320, seed: 2, signature: "kvlink", quant: "fp32" });
    const path = join(dir, "config.json");
    const config = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    edit(config);
    await writeFile(path, JSON.stringify(config));
    return dir;
  }

  it("an unchanged folder loads", async () => {
    await using model = await DecoderModel.load(await tinyWith("ok", () => {}), { inProcess: true, numThreads: 1 });
    assert.equal(model.spec.hiddenSize, 32);
  });

  for (const [what, edit] of [
    ["another rope_theta", (c: Record<string, unknown>) => (c["rope_theta"] = 500000)],
    ["another vocab_size", (c: Record<string, unknown>) => (c["vocab_size"] = 400)],
    ["another intermediate_size", (c: Record<string, unknown>) => (c["intermediate_size"] = 96)],
  ] as const) {
    it(`${what} in config.json → ModelFormatError at load (engine and decoder)`, async () => {
      const dir = await tinyWith(what.replaceAll(" ", "-"), edit);
      await assert.rejects(KvLinkEngine.create({ model: dir, inProcess: true, numThreads: 1 }), ModelFormatError);
      await assert.rejects(DecoderModel.load(dir, { inProcess: true, numThreads: 1 }), ModelFormatError);
    });
  }
});
