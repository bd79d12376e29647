/** @kvlink/agents-demo: agents that share document KV caches (library entry; the bin is kvlink-agents). */
export { buildCorpus, type BuildCorpusOptions, type CorpusDocument } from "./corpus/buildCorpus.js";
export { Bm25Retriever, tokenizeForSearch, type Bm25RetrieverInput } from "./retrieval/Bm25Retriever.js";
export { AGENT_NAMES, parseReview, type AgentName, type ReviewVerdict } from "./workflow/agentPrompts.js";
export { buildWorkflow, documentId, type AgentTurn, type WorkflowOptions } from "./workflow/buildWorkflow.js";
export { formatSummaryTable, summarizeTurns, type AgentSummary } from "./report/summarizeTurns.js";
export { runAgents, type RunAgentsOptions, type RunAgentsResult } from "./runAgents.js";
export { DEFAULT_QUESTIONS } from "./defaultQuestions.js";
