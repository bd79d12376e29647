import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { z } from "zod";
import { scorableAliases } from "./scoreAnswer.js";

/** A QA record as the harness reads it (eval/datasets/{synthetic,wiki}.jsonl or any file of this shape). */
export const QaRecordSchema = z.object({
  id: z.union([z.string().min(1), z.number()]).optional(),
  dataset: z.string().min(1).optional(),
  split: z.string().min(1).optional(),
  kind: z.string().min(1).optional(),
  documents: z.array(z.string().min(1)),
  question: z.string().min(1),
  answer: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** 0-based indices into `documents` of the documents holding the answer. */
  gold: z.array(z.number().int().nonnegative()).optional(),
});

export const ChatPromptSchema = z.object({ id: z.union([z.string().min(1), z.number()]), prompt: z.string().min(1) });
export const HeldoutTextSchema = z.object({ id: z.union([z.string().min(1), z.number()]), source: z.string().optional(), text: z.string().min(1) });

/** A validated QA record with every optional field filled in (dataset from the file name, split "-"). */
export interface QaRecord {
  readonly id: string;
  readonly dataset: string;
  readonly split: string;
  readonly kind: string;
  readonly documents: readonly string[];
  readonly question: string;
  readonly answer: readonly string[];
  readonly gold: readonly number[];
  /** Where it came from, for messages: "path:line". */
  readonly source: string;
}

export interface ChatPrompt {
  readonly id: string;
  readonly prompt: string;
}

export interface HeldoutText {
  readonly id: string;
  readonly source: string;
  readonly text: string;
}

/** A line of a JSONL file that is not valid JSON or does not match its schema; names the file and line. */
export class DatasetFormatError extends Error {
  readonly path: string;
  readonly line: number;
  constructor(path: string, line: number, problem: string, options?: ErrorOptions) {
    super(`${path}:${line}: ${problem}`, options);
    this.name = new.target.name;
    this.path = path;
    this.line = line;
  }
}

/** Parses every non-blank line of a JSONL text with `schema`; the first bad line throws DatasetFormatError. */
export function parseJsonl<S extends z.ZodType>(text: string, path: string, schema: S): { line: number; value: z.output<S> }[] {
  const out: { line: number; value: z.output<S> }[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    if (raw.trim() === "") continue;
    const line = index + 1;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (error) {
      throw new DatasetFormatError(path, line, `not valid JSON (${error instanceof Error ? error.message : String(error)})`, { cause: error });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new DatasetFormatError(path, line, z.prettifyError(parsed.error).replace(/\n/g, "; "), { cause: parsed.error });
    out.push({ line, value: parsed.data });
  }
  return out;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new DatasetFormatError(path, 0, `cannot read the file (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
}

/** Parses QA records, checking that gold indices point at documents and that some alias survives normalization. */
export function parseQaRecords(text: string, path: string): QaRecord[] {
  const fileDataset = basename(path).replace(/\.jsonl$/i, "");
  return parseJsonl(text, path, QaRecordSchema).map(({ line, value }) => {
    const answer = typeof value.answer === "string" ? [value.answer] : value.answer;
    const gold = value.gold ?? [];
    const badGold = gold.find((g) => g >= value.documents.length);
    if (badGold !== undefined) {
      throw new DatasetFormatError(path, line, `gold index ${badGold} is out of range: the record has ${value.documents.length} documents`);
    }
    if (scorableAliases(answer).length === 0) {
      throw new DatasetFormatError(path, line, `every answer alias normalizes to empty text (${JSON.stringify(answer)}), so none can be scored`);
    }
    return {
      id: value.id !== undefined ? String(value.id) : `${fileDataset}:${line}`,
      dataset: value.dataset ?? fileDataset,
      split: value.split ?? "-",
      kind: value.kind ?? "-",
      documents: value.documents,
      question: value.question,
      answer,
      gold,
      source: `${path}:${line}`,
    };
  });
}

export async function loadQaRecords(path: string): Promise<QaRecord[]> {
  return parseQaRecords(await readText(path), path);
}

export async function loadChatPrompts(path: string): Promise<ChatPrompt[]> {
  return parseJsonl(await readText(path), path, ChatPromptSchema).map(({ value }) => ({ id: String(value.id), prompt: value.prompt }));
}

export async function loadHeldoutTexts(path: string): Promise<HeldoutText[]> {
  return parseJsonl(await readText(path), path, HeldoutTextSchema).map(({ value }) => ({
    id: String(value.id),
    source: value.source ?? "-",
    text: value.text,
  }));
}

/** Keeps the records of `split` (all when undefined), then every `stride`-th one, then the first `limit`. */
export function selectRecords(
  records: readonly QaRecord[],
  options: { split?: string; stride?: number; limit?: number; shard?: { index: number; count: number } },
): QaRecord[] {
  const inSplit = options.split === undefined ? [...records] : records.filter((r) => r.split === options.split);
  const stride = options.stride ?? 1;
  const strided = inSplit.filter((_, i) => i % stride === 0);
  const limited = options.limit === undefined ? strided : strided.slice(0, options.limit);
  // Shards split the selected records round-robin, so shard runs on several processes or machines together
  // answer exactly the records of one unsharded run (eval/mergeResults.ts joins their reports).
  const shard = options.shard;
  return shard === undefined ? limited : limited.filter((_, i) => i % shard.count === shard.index);
}
