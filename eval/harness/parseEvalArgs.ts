import { availableParallelism } from "node:os";
import { basename, join, resolve } from "node:path";
import { ADAPTER_POLICIES, type AdapterPolicy } from "../../packages/core/src/engine/adapterPolicy.js";
import { fileURLToPath } from "node:url";
import { EVAL_MODES, type EvalMode, type ModelSpecArg } from "./types.js";

export type CheckName = "chat" | "ppl";
const CHECKS: readonly CheckName[] = ["chat", "ppl"];

/** The repository root (defaults are relative to it, given paths to the working directory). */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const DEFAULT_DATA = ["eval/datasets/synthetic.jsonl", "eval/datasets/wiki.jsonl"];
export const DEFAULT_CHAT_PROMPTS = "eval/datasets/chat-prompts.jsonl";
export const DEFAULT_HELDOUT = "eval/datasets/heldout-text.jsonl";

export interface EvalArgs {
  readonly data: readonly string[];
  /** Empty: the default model (resolved by the caller). */
  readonly models: readonly ModelSpecArg[];
  readonly modes: readonly EvalMode[];
  readonly split?: string;
  readonly limit?: number;
  readonly stride: number;
  /** --shard i/n: the i-th of n round-robin parts of the selected records (0-based). */
  readonly shard?: { readonly index: number; readonly count: number };
  readonly system?: string;
  readonly numThreads: number;
  readonly out?: string;
  readonly checks: readonly CheckName[];
  readonly reference?: string;
  readonly maxTokens: number;
  readonly epicTokens: number;
  /** KvLinkEngine's documentPrefix for every model of the run. */
  readonly documentPrefix: "none" | "template";
  /** KvLinkEngine's adapter policy; the no-document checks run the adapter only under "always". */
  readonly adapter: AdapterPolicy;
  readonly chatPrompts: string;
  readonly heldout: string;
  readonly help: boolean;
}

export const USAGE = `usage: npm run eval -- [options]

  --data <files...>        QA JSONL files (default ${DEFAULT_DATA.join(" ")})
  --model <label=dir>      a model folder, repeatable; a bare dir is labelled by its basename (default: the default model)
  --modes <list>           comma-separated, of ${EVAL_MODES.join(",")} (default all); none = only the --checks
  --split <name>           only records of this split (default: every split, reported separately)
  --limit <n>              at most n records per file (after --split and --stride)
  --stride <k>             every k-th record of each file (default 1)
  --shard <i/n>            only the i-th (0-based) of n round-robin parts of the selected records, for runs on
                           several processes; join their outputs with \`npx tsx eval/mergeResults.ts\`
  --system <text>          system prompt (default none, as \`kvlink ask\`)
  --max-tokens <n>         answer length limit (default 48)
  --epic-tokens <n>        document tokens recomputed in epic mode (default 16)
  --document-prefix <p>    none | template: encode documents after the template's opening, KV not stored (default none)
  --adapter <a>            documents | always: where a model's LoRA adapter runs (default documents, as the engine:
                           prompts without documents, the chat and ppl checks included, run the base weights)
  --threads <n>            ONNX Runtime threads (default ${availableParallelism()})
  --out <dir>              output folder (default eval/results/<labels>)
  --checks <list>          no-document checks: chat,ppl (default none)
  --reference <label>      model the others' chat answers are compared with (default the first)
  --chat-prompts <file>    default ${DEFAULT_CHAT_PROMPTS}
  --heldout <file>         default ${DEFAULT_HELDOUT}
`;

/** A command line that cannot be run; the message says which option and why. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** `label=dir`, or a bare dir labelled by its basename. */
export function parseModelSpec(text: string): ModelSpecArg {
  const eq = text.indexOf("=");
  const [label, dir] = eq > 0 ? [text.slice(0, eq), text.slice(eq + 1)] : [basename(resolve(text)), text];
  if (label === "" || dir === "") throw new UsageError(`--model ${JSON.stringify(text)}: expected label=<dir> or <dir>`);
  if (/[/\\]/.test(label)) throw new UsageError(`--model ${JSON.stringify(text)}: a label cannot contain a slash`);
  return { label, dir: resolve(dir) };
}

function positiveInt(name: string, text: string, allowZero = false): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new UsageError(`--${name} must be a ${allowZero ? "non-negative" : "positive"} integer, got ${JSON.stringify(text)}`);
  return n;
}

function list<T extends string>(name: string, text: string, allowed: readonly T[]): T[] {
  const items = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
  if (bad.length > 0) throw new UsageError(`--${name}: unknown ${bad.join(", ")}; expected any of ${allowed.join(", ")}`);
  if (items.length === 0) throw new UsageError(`--${name}: give at least one of ${allowed.join(", ")}`);
  return [...new Set(items)] as T[];
}

const MULTI = new Set(["data", "model"]);
const SINGLE = new Set(["modes", "split", "limit", "stride", "system", "threads", "out", "checks", "reference", "max-tokens", "epic-tokens", "document-prefix", "adapter", "shard", "chat-prompts", "heldout"]);

/** Parses the eval command line (`--name value`, `--name=value`; --data and --model take several values). */
export function parseEvalArgs(argv: readonly string[]): EvalArgs {
  const values = new Map<string, string[]>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (!MULTI.has(name) && !SINGLE.has(name)) throw new UsageError(`unknown option --${name}`);
    const got = values.get(name) ?? [];
    if (eq > 0) got.push(arg.slice(eq + 1));
    else if (MULTI.has(name)) {
      const start = got.length;
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith("--")) got.push(argv[++i]!);
      if (got.length === start) throw new UsageError(`--${name} needs a value`);
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      got.push(argv[++i]!);
    }
    if (SINGLE.has(name) && got.length > 1) throw new UsageError(`--${name} given twice`);
    values.set(name, got);
  }
  const one = (name: string): string | undefined => values.get(name)?.[0];
  const limit = one("limit");
  const split = one("split");
  const system = one("system");
  const out = one("out");
  const reference = one("reference");
  const threads = one("threads");
  return {
    data: values.get("data")?.map((p) => resolve(p)) ?? DEFAULT_DATA.map((p) => join(REPO_ROOT, p)),
    models: (values.get("model") ?? []).map(parseModelSpec),
    modes: one("modes") === "none" ? [] : one("modes") !== undefined ? list("modes", one("modes")!, EVAL_MODES) : EVAL_MODES,
    ...(split !== undefined ? { split } : {}),
    ...(limit !== undefined ? { limit: positiveInt("limit", limit) } : {}),
    stride: one("stride") !== undefined ? positiveInt("stride", one("stride")!) : 1,
    ...(one("shard") !== undefined ? { shard: shardOf(one("shard")!) } : {}),
    ...(system !== undefined ? { system } : {}),
    numThreads: threads !== undefined ? positiveInt("threads", threads) : availableParallelism(),
    ...(out !== undefined ? { out: resolve(out) } : {}),
    checks: one("checks") !== undefined ? list("checks", one("checks")!, CHECKS) : [],
    ...(reference !== undefined ? { reference } : {}),
    maxTokens: one("max-tokens") !== undefined ? positiveInt("max-tokens", one("max-tokens")!) : 48,
    epicTokens: one("epic-tokens") !== undefined ? positiveInt("epic-tokens", one("epic-tokens")!, true) : 16,
    documentPrefix: documentPrefixOf(one("document-prefix")),
    adapter: adapterOf(one("adapter")),
    chatPrompts: one("chat-prompts") !== undefined ? resolve(one("chat-prompts")!) : join(REPO_ROOT, DEFAULT_CHAT_PROMPTS),
    heldout: one("heldout") !== undefined ? resolve(one("heldout")!) : join(REPO_ROOT, DEFAULT_HELDOUT),
    help,
  };
}

function shardOf(value: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(value);
  const index = m ? Number(m[1]) : Number.NaN;
  const count = m ? Number(m[2]) : Number.NaN;
  if (!(count >= 1 && index >= 0 && index < count)) throw new UsageError(`--shard must be i/n with 0 <= i < n, got "${value}"`);
  return { index, count };
}

function adapterOf(value: string | undefined): AdapterPolicy {
  if (value === undefined) return "documents";
  if ((ADAPTER_POLICIES as readonly string[]).includes(value)) return value as AdapterPolicy;
  throw new UsageError(`--adapter must be one of ${ADAPTER_POLICIES.join(", ")}, got "${value}"`);
}

function documentPrefixOf(value: string | undefined): "none" | "template" {
  if (value === undefined || value === "none" || value === "template") return value ?? "none";
  throw new UsageError(`--document-prefix must be none or template, got "${value}"`);
}
