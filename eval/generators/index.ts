/** Dataset generators: committed dev/test sets and the training-example functions the pipeline calls. */
export { generateSyntheticEval, generateSyntheticExamples, namePoolOf, syntheticNamePool } from "./synthetic.ts";
export { defaultCacheDir, generateWikiEval, generateWikiExamples, loadWikiArticles, splitSentences, wikiQuestionsOf, wikiSplitOf, WIKI_WHEEL } from "./wiki.ts";
export { CHAT_PROMPTS, generateChatPrompts } from "./chat.ts";
export { HELDOUT_LINUX_DOC_FILES, LINUX_DOC_PACKAGE, loadLinuxDocTexts, paragraphsToPassages, readLinuxDoc, rstToText } from "./linuxdoc.ts";
export { containsAnswer, mulberry32, normalizeAnswer } from "./random.ts";
export type { Article, EvalSplit, QaRecord, Split, TrainingRecord } from "./types.ts";
