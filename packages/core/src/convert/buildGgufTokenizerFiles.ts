import { TokenizerError, UnsupportedModelError } from "../errors/KvLinkError.js";
import type { GgufMetadata } from "../gguf/ggufMetadata.js";

/** The three Hugging Face JSON files that describe a tokenizer and its generation defaults. */
export interface TokenizerFiles {
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
  readonly generationConfig: Record<string, unknown>;
}

const BYTE_LEVEL = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Qwen2's split (its tokenizer.json; llama.cpp LLAMA_VOCAB_PRE_TYPE_QWEN2): Llama-3's with single digits. */
const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** tokenizer.ggml.pre → HF pre_tokenizer. llama.cpp's `smollm` = digits one by one, then GPT-2's regex. */
const PRE_TOKENIZERS: Readonly<Record<string, unknown>> = {
  smollm: { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, BYTE_LEVEL] },
  gpt2: BYTE_LEVEL,
  default: BYTE_LEVEL,
  "llama-bpe": {
    type: "Sequence",
    pretokenizers: [
      { type: "Split", pattern: { Regex: LLAMA3_SPLIT }, behavior: "Isolated", invert: false },
      { ...BYTE_LEVEL, use_regex: false },
    ],
  },
  qwen2: {
    type: "Sequence",
    pretokenizers: [
      { type: "Split", pattern: { Regex: QWEN2_SPLIT }, behavior: "Isolated", invert: false },
      { ...BYTE_LEVEL, use_regex: false },
    ],
  },
};

const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_USER_DEFINED = 4;

/**
 * Rebuilds tokenizer.json (byte-level BPE: vocab, merges in order, control tokens as special added tokens,
 * the pre-tokenizer named by `tokenizer.ggml.pre`, ByteLevel decoder, a BOS post-processor only when
 * `tokenizer.ggml.add_bos_token` is true), tokenizer_config.json (special tokens, chat_template) and
 * generation_config.json (bos/eos/pad ids) from GGUF metadata. Only `tokenizer.ggml.model = "gpt2"` is
 * supported (UnsupportedModelError otherwise); inconsistent arrays or ids throw TokenizerError.
 */
export function buildGgufTokenizerFiles(meta: GgufMetadata): TokenizerFiles {
  const where = meta.path;
  const model = meta.string("tokenizer.ggml.model");
  if (model !== "gpt2") {
    throw new UnsupportedModelError(`${where}: tokenizer.ggml.model "${model}" is not supported; supported: gpt2 (byte-level BPE)`, {
      details: { path: where, tokenizerModel: model, supported: ["gpt2"] },
    });
  }
  const pre = meta.optionalString("tokenizer.ggml.pre") ?? "default";
  const preTokenizer = PRE_TOKENIZERS[pre];
  if (preTokenizer === undefined) {
    throw new UnsupportedModelError(
      `${where}: pre-tokenizer "${pre}" is not supported; supported: ${Object.keys(PRE_TOKENIZERS).join(", ")}`,
      { details: { path: where, pre, supported: Object.keys(PRE_TOKENIZERS) } },
    );
  }
  const tokens = meta.stringArray("tokenizer.ggml.tokens");
  const tokenTypes = meta.optionalNumberArray("tokenizer.ggml.token_type");
  if (tokenTypes && tokenTypes.length !== tokens.length) {
    throw new TokenizerError(`${where}: ${tokenTypes.length} token types for ${tokens.length} tokens`, { details: { path: where } });
  }
  const merges = meta.stringArray("tokenizer.ggml.merges").map((m, i): [string, string] => {
    const cut = m.indexOf(" ", 1);
    if (cut < 0) throw new TokenizerError(`${where}: merge #${i} "${m}" has no space separating its two parts`, { details: { path: where, index: i } });
    return [m.slice(0, cut), m.slice(cut + 1)];
  });

  const vocab: Record<string, number> = {};
  for (let id = 0; id < tokens.length; id++) {
    const t = tokens[id]!;
    if (!Object.hasOwn(vocab, t)) vocab[t] = id;
  }
  const addedTokens: Record<string, unknown>[] = [];
  tokens.forEach((content, id) => {
    const type = tokenTypes?.[id];
    if (type !== TOKEN_TYPE_CONTROL && type !== TOKEN_TYPE_USER_DEFINED) return;
    addedTokens.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type === TOKEN_TYPE_CONTROL });
  });

  const tokenAt = (key: string): string | undefined => {
    const id = meta.optionalNumber(key);
    if (id === undefined) return undefined;
    const t = tokens[id];
    if (t === undefined) throw new TokenizerError(`${where}: ${key} = ${id} is outside the vocabulary of ${tokens.length}`, { details: { path: where, key, id } });
    return t;
  };
  const bosId = meta.optionalNumber("tokenizer.ggml.bos_token_id");
  const eosId = meta.optionalNumber("tokenizer.ggml.eos_token_id");
  const padId = meta.optionalNumber("tokenizer.ggml.padding_token_id");
  const bos = tokenAt("tokenizer.ggml.bos_token_id");
  const eos = tokenAt("tokenizer.ggml.eos_token_id");
  const unk = tokenAt("tokenizer.ggml.unknown_token_id");
  const pad = tokenAt("tokenizer.ggml.padding_token_id");
  const addBos = meta.optionalBoolean("tokenizer.ggml.add_bos_token") ?? false;
  if (addBos && (bos === undefined || bosId === undefined)) {
    throw new TokenizerError(`${where}: tokenizer.ggml.add_bos_token is true but there is no bos_token_id`, { details: { path: where } });
  }

  const tokenizerJson: Record<string, unknown> = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: addBos ? bosPostProcessor(bos!, bosId!) : null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: pre === "llama-bpe",
      vocab,
      merges,
    },
  };
  const chatTemplate = meta.optionalString("tokenizer.chat_template");
  const contextLength = meta.optionalNumber(`${meta.optionalString("general.architecture") ?? "llama"}.context_length`);
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: "GPT2Tokenizer",
    add_bos_token: addBos,
    add_eos_token: false,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    ...(bos !== undefined && { bos_token: bos }),
    ...(eos !== undefined && { eos_token: eos }),
    ...(pad !== undefined && { pad_token: pad }),
    ...(unk !== undefined && { unk_token: unk }),
    ...(contextLength !== undefined && { model_max_length: contextLength }),
    ...(chatTemplate !== undefined && { chat_template: chatTemplate }),
  };
  const generationConfig: Record<string, unknown> = {
    ...(bosId !== undefined && { bos_token_id: bosId }),
    ...(eosId !== undefined && { eos_token_id: eosId }),
    ...(padId !== undefined && { pad_token_id: padId }),
  };
  return { tokenizerJson, tokenizerConfig, generationConfig };
}

function bosPostProcessor(bos: string, bosId: number): Record<string, unknown> {
  const special = { SpecialToken: { id: bos, type_id: 0 } };
  return {
    type: "TemplateProcessing",
    single: [special, { Sequence: { id: "A", type_id: 0 } }],
    pair: [special, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
    special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
}
