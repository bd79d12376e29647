/** A parsed JSON object (tokenizer.json, tokenizer_config.json, config.json, ...). */
export type JsonObject = { [key: string]: unknown };

export interface EncodeOptions {
  /**
   * "parse": special-token strings in the text become control tokens (use for rendered chat templates).
   * "text": they are encoded as ordinary text and no special id can appear (use for documents and user text).
   */
  readonly specialTokens: "parse" | "text";
  /** Run the tokenizer's post-processor (e.g. auto BOS). Default false: chat templates carry their own. */
  readonly addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens from the text. Default false. */
  readonly skipSpecialTokens?: boolean;
  /** HF's clean-up of spaces before punctuation; default: tokenizer_config's `clean_up_tokenization_spaces`. */
  readonly cleanUpTokenizationSpaces?: boolean;
}

/**
 * Text ⇄ token ids for one model. Data flows text → ids (encode) for prompts and documents, and ids → text
 * (decode) for generated tokens.
 */
export interface Tokenizer {
  encode(text: string, options: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The id of a token string (added tokens included), or undefined. */
  tokenToId(token: string): number | undefined;
  /** The token string of an id, or undefined. */
  idToToken(id: number): string | undefined;
  /** One past the largest id the tokenizer can produce. */
  readonly vocabSize: number;
  /** Ids of every added token marked special (control tokens). */
  readonly specialTokenIds: ReadonlySet<number>;
  readonly bosTokenId: number | undefined;
  /** End-of-generation ids: generation_config's eos_token_id(s) plus tokenizer_config's eos_token. */
  readonly eosTokenIds: readonly number[];
  /** tokenizer_config's bos_token / eos_token strings, as chat templates expect them. */
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  /** The default chat template, if the tokenizer has one. */
  readonly chatTemplate: string | undefined;
}
