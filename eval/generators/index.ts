/** Dataset generators: committed dev/test sets and the training-example functions the pipeline calls. */
export { generateSyntheticEval, generateSyntheticExamples, namePoolOf, syntheticNamePool } from "./synthetic.js";
export { defaultCacheDir, generateWikiEval, generateWikiExamples, loadWikiArticles, splitSentences, wikiQuestionsOf, wikiSplitOf, WIKI_WHEEL } from "./wiki.js";
export { CHAT_PROMPTS, generateChatPrompts } from "./chat.js";
export { HELDOUT_LINUX_DOC_FILES, LINUX_DOC_PACKAGE, loadLinuxDocTexts, paragraphsToPassages, readLinuxDoc, rstToText } from "./linuxdoc.js";
export { containsAnswer, mulberry32, normalizeAnswer } from "./random.js";
export type { Article, EvalSplit, QaRecord, Split, TrainingRecord } from "./types.js";
