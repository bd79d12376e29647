import { InvalidInputError } from "../errors/KvLinkError.js";
import type { JsonObject } from "./Tokenizer.js";
import { BYTE_LEVEL_ALPHABET, byteLevelPreTokenize } from "./byteLevelPreTokenize.js";
import { TINY_CORPUS } from "./tinyCorpus.js";

/** Number of KVLink link tokens `<|link_0|>` .. `<|link_15|>` the tiny tokenizer reserves. */
export const TINY_NUM_LINK_TOKENS = 16;

/** Special tokens in id order, from id 0. */
export const TINY_SPECIAL_TOKENS: readonly string[] = [
  "<|endoftext|>",
  "<|im_start|>",
  "<|im_end|>",
  "<|mem_start|>",
  "<|mem_end|>",
  ...Array.from({ length: TINY_NUM_LINK_TOKENS }, (_, i) => `<|link_${i}|>`),
];

/** Smallest vocabulary: the specials plus all 256 byte tokens (no merges). */
export const TINY_MIN_VOCAB_SIZE = TINY_SPECIAL_TOKENS.length + 256;

/** SmolLM2-135M-Instruct's ChatML template, byte for byte (inserts a default system message). */
export const SMOLLM2_CHAT_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}" +
  "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}" +
  "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

export interface TinyTokenizerOptions {
  /** Total vocabulary (specials + 256 bytes + merges). Default 384. */
  readonly vocabSize?: number;
  /** Breaks ties between equally frequent pairs; different seeds give different merges. Default 0. */
  readonly seed?: number;
}

export interface TinyTokenizerIds {
  readonly endOfText: number;
  readonly imStart: number;
  readonly imEnd: number;
  readonly memStart: number;
  readonly memEnd: number;
  /** `<|link_i|>` at index i. */
  readonly link: readonly number[];
}

export interface TinyTokenizer {
  /** Contents of tokenizer.json. */
  readonly tokenizerJson: JsonObject;
  /** Contents of tokenizer_config.json (ChatML template, bos `<|im_start|>`, eos `<|im_end|>`). */
  readonly tokenizerConfig: JsonObject;
  readonly specialTokenIds: TinyTokenizerIds;
}

/**
 * Builds a real GPT-2-style byte-level BPE tokenizer for tiny test models: SmolLM2's pre-tokenizer and
 * decoder, merges learned from a built-in corpus until `vocabSize` is reached. Deterministic for a given
 * (vocabSize, seed). Loads in @huggingface/tokenizers and in transformers.js' AutoTokenizer.
 */
export function createTinyTokenizer(options: TinyTokenizerOptions = {}): TinyTokenizer {
  const vocabSize = options.vocabSize ?? 384;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(vocabSize) || vocabSize < TINY_MIN_VOCAB_SIZE) {
    throw new InvalidInputError(
      `createTinyTokenizer: vocabSize must be an integer ≥ ${TINY_MIN_VOCAB_SIZE} (specials + 256 bytes), got ${vocabSize}`,
      { details: { vocabSize, min: TINY_MIN_VOCAB_SIZE } },
    );
  }
  if (!Number.isInteger(seed)) {
    throw new InvalidInputError(`createTinyTokenizer: seed must be an integer, got ${seed}`, { details: { seed } });
  }

  const vocab: Record<string, number> = {};
  TINY_SPECIAL_TOKENS.forEach((token, id) => (vocab[token] = id));
  let nextId = TINY_SPECIAL_TOKENS.length;
  for (const symbol of BYTE_LEVEL_ALPHABET) vocab[symbol] = nextId++;

  const merges = learnMerges(vocabSize - nextId, seed);
  for (const [left, right] of merges) {
    // Two merges can spell the same token ("ab"+"c", "a"+"bc"): one id for both, as HF's trainer does.
    if (vocab[left + right] === undefined) vocab[left + right] = nextId++;
  }

  const addedTokens = TINY_SPECIAL_TOKENS.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));

  const tokenizerJson: JsonObject = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Digits", individual_digits: true },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([left, right]) => `${left} ${right}`),
    },
  };

  const addedTokensDecoder: Record<string, JsonObject> = {};
  for (const { id, ...rest } of addedTokens) addedTokensDecoder[String(id)] = rest;
  const tokenizerConfig: JsonObject = {
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder,
    additional_special_tokens: TINY_SPECIAL_TOKENS.slice(3),
    bos_token: "<|im_start|>",
    eos_token: "<|im_end|>",
    pad_token: "<|im_end|>",
    unk_token: "<|endoftext|>",
    chat_template: SMOLLM2_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    model_max_length: 8192,
    tokenizer_class: "GPT2Tokenizer",
    vocab_size: vocabSize,
  };

  return {
    tokenizerJson,
    tokenizerConfig,
    specialTokenIds: {
      endOfText: 0,
      imStart: 1,
      imEnd: 2,
      memStart: 3,
      memEnd: 4,
      link: Array.from({ length: TINY_NUM_LINK_TOKENS }, (_, i) => 5 + i),
    },
  };
}

/**
 * Classic BPE training over the corpus' byte-level pieces: repeatedly merge the most frequent adjacent pair
 * (ties: seeded hash, then code-unit order), left to right within each piece, until `numNewTokens` distinct
 * new tokens exist.
 */
function learnMerges(numNewTokens: number, seed: number): Array<[string, string]> {
  const pieceToCount = new Map<string, number>();
  for (const piece of byteLevelPreTokenize(TINY_CORPUS)) pieceToCount.set(piece, (pieceToCount.get(piece) ?? 0) + 1);
  const words = [...pieceToCount].map(([piece, count]) => ({ symbols: [...piece], count }));

  const merges: Array<[string, string]> = [];
  const newTokens = new Set<string>();
  while (newTokens.size < numNewTokens) {
    const pairToCount = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairToCount.set(key, (pairToCount.get(key) ?? 0) + count);
      }
    }
    let best: { key: string; count: number; rank: number } | undefined;
    for (const [key, count] of pairToCount) {
      const rank = seededHash(key, seed);
      if (
        best === undefined ||
        count > best.count ||
        (count === best.count && (rank < best.rank || (rank === best.rank && key < best.key)))
      ) {
        best = { key, count, rank };
      }
    }
    if (best === undefined) {
      const max = TINY_MIN_VOCAB_SIZE + newTokens.size;
      const requested = TINY_MIN_VOCAB_SIZE + numNewTokens;
      throw new InvalidInputError(
        `createTinyTokenizer: the built-in corpus supports at most vocabSize ${max}, asked for ${requested}`,
        { details: { max, requested } },
      );
    }
    const space = best.key.indexOf(" ");
    const left = best.key.slice(0, space);
    const right = best.key.slice(space + 1);
    merges.push([left, right]);
    const merged = left + right;
    newTokens.add(merged);
    for (const word of words) {
      const { symbols } = word;
      const out: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
          out.push(merged);
          i++;
        } else {
          out.push(symbols[i] as string);
        }
      }
      word.symbols = out;
    }
  }
  return merges;
}

/** FNV-1a over the seed and the pair: a stable, process-independent tie-breaker. */
function seededHash(key: string, seed: number): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  h = Math.imul(h, 0x01000193);
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
