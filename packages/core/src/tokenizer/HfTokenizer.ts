import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer as HfTokenizersTokenizer } from "@huggingface/tokenizers";
import { TokenizerError } from "../errors/KvLinkError.js";
import type { DecodeOptions, EncodeOptions, JsonObject, Tokenizer } from "./Tokenizer.js";

interface AddedTokenJson {
  readonly id: number;
  readonly content: string;
  readonly special?: boolean;
}

/**
 * A Tokenizer over @huggingface/tokenizers, built from tokenizer.json + tokenizer_config.json
 * (+ generation_config.json for end-of-generation ids).
 *
 * Encoding untrusted text ("text" mode) uses a second instance built from the same JSON without the special
 * added tokens, so strings such as "<|im_end|>" are BPE-encoded as ordinary text; the result is then checked
 * to hold no special id.
 */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specialTokenIds: ReadonlySet<number>;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly chatTemplate: string | undefined;
  readonly #parsing: HfTokenizersTokenizer;
  readonly #plain: HfTokenizersTokenizer;
  readonly #where: string;

  private constructor(tokenizerJson: JsonObject, tokenizerConfig: JsonObject, generationConfig: JsonObject, where: string) {
    this.#where = where;
    const addedTokens = readAddedTokens(tokenizerJson, where);
    tokenizerJson = { ...tokenizerJson, pre_tokenizer: unicodeDigits(tokenizerJson["pre_tokenizer"]) };
    try {
      this.#parsing = new HfTokenizersTokenizer(tokenizerJson, tokenizerConfig);
      this.#plain = new HfTokenizersTokenizer(
        { ...tokenizerJson, added_tokens: addedTokens.filter((t) => t.special !== true) },
        tokenizerConfig,
      );
    } catch (error) {
      throw new TokenizerError(`${where}: @huggingface/tokenizers rejected the tokenizer: ${errorMessage(error)}`, {
        cause: error,
        details: { where },
      });
    }
    this.specialTokenIds = new Set(addedTokens.filter((t) => t.special === true).map((t) => t.id));

    let maxId = -1;
    for (const id of this.#parsing.get_vocab(true).values()) if (id > maxId) maxId = id;
    for (const t of addedTokens) if (t.id > maxId) maxId = t.id;
    this.vocabSize = maxId + 1;

    this.bosToken = tokenString(tokenizerConfig["bos_token"]);
    this.eosToken = tokenString(tokenizerConfig["eos_token"]);
    const genBos = generationConfig["bos_token_id"];
    this.bosTokenId =
      typeof genBos === "number" ? genBos : this.bosToken === undefined ? undefined : this.#parsing.token_to_id(this.bosToken);

    const eos = new Set<number>();
    const genEos = generationConfig["eos_token_id"];
    for (const id of Array.isArray(genEos) ? genEos : [genEos]) if (typeof id === "number") eos.add(id);
    const configEos = this.eosToken === undefined ? undefined : this.#parsing.token_to_id(this.eosToken);
    if (configEos !== undefined) eos.add(configEos);
    this.eosTokenIds = [...eos];

    this.chatTemplate = pickChatTemplate(tokenizerConfig["chat_template"], where);
  }

  /** Loads tokenizer.json, tokenizer_config.json and (if present) generation_config.json from `dir`. */
  static async load(dir: string): Promise<HfTokenizer> {
    const tokenizerJson = await readJson(join(dir, "tokenizer.json"), true);
    const tokenizerConfig = await readJson(join(dir, "tokenizer_config.json"), true);
    const generationConfig = (await readJson(join(dir, "generation_config.json"), false)) ?? {};
    return new HfTokenizer(tokenizerJson as JsonObject, tokenizerConfig as JsonObject, generationConfig, dir);
  }

  /** Builds a tokenizer from parsed JSON objects. */
  static fromJson(tokenizerJson: JsonObject, tokenizerConfig: JsonObject, generationConfig: JsonObject = {}): HfTokenizer {
    for (const [name, value] of [["tokenizerJson", tokenizerJson], ["tokenizerConfig", tokenizerConfig]] as const) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new TokenizerError(`HfTokenizer.fromJson: ${name} must be a JSON object, got ${describe(value)}`);
      }
    }
    return new HfTokenizer(tokenizerJson, tokenizerConfig, generationConfig, "HfTokenizer.fromJson");
  }

  encode(text: string, options: EncodeOptions): number[] {
    if (typeof text !== "string") throw new TokenizerError(`encode: text must be a string, got ${describe(text)}`);
    if (text.length === 0) return [];
    const addSpecial = options.addSpecialTokens ?? false;
    if (options.specialTokens === "parse") return this.#parsing.encode(text, { add_special_tokens: addSpecial }).ids;
    const ids = this.#plain.encode(text, { add_special_tokens: false }).ids;
    const index = ids.findIndex((id: number) => this.specialTokenIds.has(id));
    if (index >= 0) {
      throw new TokenizerError(
        `${this.#where}: encoding text with specialTokens "text" produced special token id ${ids[index]} at index ${index}`,
        { details: { tokenIndex: index, tokenId: ids[index] } },
      );
    }
    // The text itself is clean; the post-processor may still add its own special tokens (e.g. BOS).
    return addSpecial ? this.#plain.encode(text, { add_special_tokens: true }).ids : ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return "";
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new TokenizerError(`decode: token id ${id} at index ${i} is outside the vocabulary [0, ${this.vocabSize})`, {
          details: { tokenIndex: i, tokenId: id, vocabSize: this.vocabSize },
        });
      }
    }
    return this.#parsing.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      ...(options.cleanUpTokenizationSpaces === undefined ? {} : { clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces }),
    });
  }

  tokenToId(token: string): number | undefined {
    return this.#parsing.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.#parsing.id_to_token(id);
  }
}

function readAddedTokens(tokenizerJson: JsonObject, where: string): AddedTokenJson[] {
  const raw = tokenizerJson["added_tokens"];
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new TokenizerError(`${where}: tokenizer.json "added_tokens" must be an array, got ${describe(raw)}`);
  return raw.map((t: unknown, i) => {
    const token = t as Partial<AddedTokenJson> | null;
    if (typeof token !== "object" || token === null || !Number.isInteger(token.id) || typeof token.content !== "string") {
      throw new TokenizerError(`${where}: tokenizer.json added_tokens[${i}] needs an integer "id" and a string "content"`, {
        details: { index: i },
      });
    }
    return token as AddedTokenJson;
  });
}

/** tokenizer_config's special tokens are strings or AddedToken dicts `{content, ...}`. */
function tokenString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && typeof (value as { content?: unknown }).content === "string") {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** chat_template is a string, or a list of {name, template} / a name → template map; we take "default". */
function pickChatTemplate(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  const named = new Map<string, unknown>();
  if (Array.isArray(value)) {
    for (const entry of value) {
      const e = entry as { name?: unknown; template?: unknown } | null;
      if (typeof e?.name === "string") named.set(e.name, e.template);
    }
  } else if (typeof value === "object") {
    for (const [name, template] of Object.entries(value)) named.set(name, template);
  }
  const template = named.get("default");
  if (typeof template === "string") return template;
  throw new TokenizerError(`${where}: tokenizer_config.json chat_template has no string "default" template`, {
    details: { names: [...named.keys()] },
  });
}

async function readJson(path: string, required: true): Promise<JsonObject>;
async function readJson(path: string, required: false): Promise<JsonObject | undefined>;
async function readJson(path: string, required: boolean): Promise<JsonObject | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new TokenizerError(`cannot read ${path}: ${errorMessage(error)}`, { cause: error, details: { file: path } });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(`${path} is not valid JSON: ${errorMessage(error)}`, { cause: error, details: { file: path } });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TokenizerError(`${path}: expected a JSON object, got ${describe(value)}`, { details: { file: path } });
  }
  return value as JsonObject;
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * @huggingface/tokenizers 0.2.0 builds the Digits pre-tokenizer from JS `\d` (ASCII only), while the Rust
 * tokenizers and llama.cpp split every Unicode number (Arabic-Indic digits, ½, Ⅻ). An equivalent Split on `\p{N}`
 * restores their behaviour, so our ids equal theirs (test/core/model/llamacpp.model.test.ts checks 10k characters).
 */
function unicodeDigits(preTokenizer: unknown): unknown {
  if (preTokenizer === null || typeof preTokenizer !== "object") return preTokenizer;
  const pt = preTokenizer as JsonObject;
  if (pt["type"] === "Digits") {
    return { type: "Split", pattern: { Regex: pt["individual_digits"] === true ? "\\p{N}" : "\\p{N}+" }, behavior: "Isolated", invert: false };
  }
  if (pt["type"] === "Sequence" && Array.isArray(pt["pretokenizers"])) return { ...pt, pretokenizers: pt["pretokenizers"].map(unicodeDigits) };
  return pt;
}
