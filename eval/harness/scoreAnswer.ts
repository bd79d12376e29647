/**
 * SQuAD answer normalization and KVLink's `best_subspan_em`: an answer is correct when any normalized gold alias
 * is a substring of the normalized prediction.
 *
 * Follows SQuAD's `normalize_answer` (lowercase, strip punctuation, drop the articles a/an/the, collapse
 * whitespace), with two Unicode-aware choices where Python's version is ASCII-only or accidental:
 * - text is NFKC-normalized first, so composed and decomposed letters (and full-width forms) compare equal;
 * - every Unicode punctuation character (\p{P}) is stripped, plus the ASCII symbols of Python's
 *   `string.punctuation` ($ + < = > ^ ` | ~), so curly quotes and dashes go the way ASCII quotes do.
 * Article boundaries are Unicode letters/digits, as Python 3's `\b` is on str patterns.
 */

const PUNCTUATION = /[\p{P}$+<=>^`|~]/gu;
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;
const WHITESPACE = /\s+/gu;

/** SQuAD-normalized text (see the file comment). */
export function normalizeAnswer(text: string): string {
  const lowered = text.normalize("NFKC").toLowerCase();
  const noPunct = lowered.replace(PUNCTUATION, "");
  const noArticles = noPunct.replace(ARTICLES, " ");
  return noArticles.replace(WHITESPACE, " ").trim();
}

/** Gold aliases as a list: a single string becomes one alias. */
export function answerAliases(answer: string | readonly string[]): readonly string[] {
  return typeof answer === "string" ? [answer] : answer;
}

/**
 * Aliases that can be scored: those whose normalized form is not empty. (In the Python original an alias that
 * normalizes to "" — say "The" — is a substring of every prediction; here it is ignored instead.)
 */
export function scorableAliases(answer: string | readonly string[]): readonly string[] {
  return answerAliases(answer).filter((alias) => normalizeAnswer(alias).length > 0);
}

/** The alias matched, if any: the first gold alias whose normalized form occurs in the normalized prediction. */
export function matchAnswer(prediction: string, answer: string | readonly string[]): string | undefined {
  const normalizedPrediction = normalizeAnswer(prediction);
  return scorableAliases(answer).find((alias) => normalizedPrediction.includes(normalizeAnswer(alias)));
}

/** KVLink's `best_subspan_em`: true when any gold alias (normalized) is a substring of the normalized prediction. */
export function isCorrectAnswer(prediction: string, answer: string | readonly string[]): boolean {
  return matchAnswer(prediction, answer) !== undefined;
}
