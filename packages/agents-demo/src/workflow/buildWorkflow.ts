import type { DocumentInterface } from "@langchain/core/documents";
import { AIMessageChunk, HumanMessage, SystemMessage, type BaseMessage } from "@langchain/core/messages";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import type { ChatKVLink, KVLinkCallMetadata, KVLinkRetriever } from "@kvlink/langchain";
import {
  parseReview,
  RESEARCHER_SYSTEM,
  researcherPrompt,
  REVIEWER_SYSTEM,
  reviewerPrompt,
  WRITER_SYSTEM,
  writerPrompt,
  type AgentName,
  type ReviewVerdict,
} from "./agentPrompts.js";

/** One model call of one agent, as it happened: what it read, what it said, and what its documents cost. */
export interface AgentTurn {
  readonly agent: AgentName;
  readonly question: string;
  readonly retrievalQuery: string;
  readonly documentIds: readonly string[];
  readonly output: string;
  /** Sum of the documents' token counts (each document once). */
  readonly docTokens: number;
  readonly kvlink: KVLinkCallMetadata;
  readonly verdict?: ReviewVerdict;
}

export interface WorkflowOptions {
  readonly model: ChatKVLink;
  readonly retriever: KVLinkRetriever;
  /** Tokens of a document text as the engine counts them. */
  readonly countTokens: (text: string) => number;
  /** Most researcher rounds (a reviewer's REVISE sends the question back once by default). Default 2. */
  readonly maxResearchRounds?: number;
  /** Most documents one call reads. Default 5. */
  readonly maxDocumentsPerCall?: number;
  /** Streamed text of each agent's turn, as it is generated. */
  readonly onToken?: (agent: AgentName, piece: string) => void;
  /** Called when an agent starts and ends a turn. */
  readonly onTurn?: (event: { readonly agent: AgentName; readonly phase: "start" | "end"; readonly turn?: AgentTurn }) => void;
  readonly signal?: AbortSignal;
}

const WorkflowState = Annotation.Root({
  question: Annotation<string>(),
  /** The evidence so far: every document an agent has read, in order, without repeats. */
  documents: Annotation<DocumentInterface[]>({ reducer: (a, b) => mergeDocuments(a, b), default: () => [] }),
  notes: Annotation<string | undefined>(),
  review: Annotation<ReviewVerdict | undefined>(),
  answer: Annotation<string | undefined>(),
  researchRounds: Annotation<number>({ reducer: (a, b) => a + b, default: () => 0 }),
  turns: Annotation<AgentTurn[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});
export type WorkflowStateType = typeof WorkflowState.State;

/**
 * Supervisor, researcher, reviewer, writer, as a LangGraph StateGraph. The supervisor is code, not a model call:
 * it routes on the state (no notes → researcher; notes not yet reviewed → reviewer; a REVISE verdict with rounds
 * left → researcher again with the reviewer's feedback; else → writer), so a weak model can only change what an
 * agent says, never break the flow. The model decides one branch: the reviewer's yes/no (parseReview, with OK as
 * the fallback). Every agent reads its documents through ChatKVLink, so documents one agent computed are reused by
 * the next: the reviewer re-reads the researcher's documents plus what its own query finds, the writer reads
 * them all.
 */
export function buildWorkflow(options: WorkflowOptions) {
  const maxRounds = options.maxResearchRounds ?? 2;
  const maxDocs = options.maxDocumentsPerCall ?? 5;

  const callAgent = async (
    agent: AgentName,
    state: WorkflowStateType,
    input: { readonly system: string; readonly user: string; readonly retrievalQuery: string; readonly reuse: readonly DocumentInterface[]; readonly maxTokens: number },
  ): Promise<{ turn: AgentTurn; documents: DocumentInterface[] }> => {
    options.signal?.throwIfAborted();
    options.onTurn?.({ agent, phase: "start" });
    const retrieved = input.retrievalQuery === "" ? [] : await options.retriever.invoke(input.retrievalQuery, options.signal === undefined ? {} : { signal: options.signal });
    const documents = mergeDocuments([...input.reuse], retrieved).slice(0, maxDocs);
    const messages: BaseMessage[] = [new SystemMessage(input.system), new HumanMessage(input.user)];
    let message: AIMessageChunk | undefined;
    // A repetition penalty over the prompt and the answer: a small model otherwise loops, or copies the notes it is given.
    const stream = await options.model.stream(messages, { documents, maxTokens: input.maxTokens, repetitionPenalty: 1.2, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    for await (const chunk of stream) {
      message = message === undefined ? chunk : message.concat(chunk);
      if (typeof chunk.content === "string" && chunk.content.length > 0) options.onToken?.(agent, chunk.content);
    }
    const kvlink = message?.response_metadata["kvlink"] as KVLinkCallMetadata | undefined;
    if (message === undefined || kvlink === undefined) throw new Error(`${agent}: ChatKVLink returned no kvlink metadata`);
    const output = typeof message.content === "string" ? message.content.trim() : "";
    const turn: AgentTurn = {
      agent,
      question: state.question,
      retrievalQuery: input.retrievalQuery,
      documentIds: documents.map(documentId),
      output,
      docTokens: documents.reduce((sum, doc) => sum + options.countTokens(doc.pageContent), 0),
      kvlink,
    };
    return { turn, documents };
  };

  const researcher = async (state: WorkflowStateType) => {
    const feedback = state.review?.verdict === "revise" && state.review.feedback !== "" ? state.review.feedback : undefined;
    const query = feedback === undefined ? state.question : `${state.question} ${feedback}`;
    const { turn, documents } = await callAgent("researcher", state, {
      system: RESEARCHER_SYSTEM, user: researcherPrompt(state.question, feedback), retrievalQuery: query, reuse: [], maxTokens: 48,
    });
    options.onTurn?.({ agent: "researcher", phase: "end", turn });
    return { notes: turn.output, review: undefined, documents, researchRounds: 1, turns: [turn] };
  };

  const reviewer = async (state: WorkflowStateType) => {
    const notes = state.notes ?? "";
    const { turn: raw, documents } = await callAgent("reviewer", state, {
      system: REVIEWER_SYSTEM, user: reviewerPrompt(state.question, notes), retrievalQuery: `${state.question} ${notes}`, reuse: state.documents, maxTokens: 24,
    });
    const verdict = parseReview(raw.output);
    const turn: AgentTurn = { ...raw, verdict };
    options.onTurn?.({ agent: "reviewer", phase: "end", turn });
    return { review: verdict, documents, turns: [turn] };
  };

  const writer = async (state: WorkflowStateType) => {
    const { turn, documents } = await callAgent("writer", state, {
      system: WRITER_SYSTEM, user: writerPrompt(state.question, state.notes ?? ""), retrievalQuery: "", reuse: state.documents, maxTokens: 64,
    });
    options.onTurn?.({ agent: "writer", phase: "end", turn });
    return { answer: turn.output, documents, turns: [turn] };
  };

  const supervisor = (state: WorkflowStateType): "researcher" | "reviewer" | "writer" | typeof END => {
    if (state.answer !== undefined) return END;
    if (state.notes === undefined) return "researcher";
    if (state.review === undefined) return "reviewer";
    if (state.review.verdict === "revise" && state.researchRounds < maxRounds) return "researcher";
    return "writer";
  };

  return new StateGraph(WorkflowState)
    .addNode("supervisor", () => ({}))
    .addNode("researcher", researcher)
    .addNode("reviewer", reviewer)
    .addNode("writer", writer)
    .addEdge(START, "supervisor")
    .addConditionalEdges("supervisor", supervisor, ["researcher", "reviewer", "writer", END])
    .addEdge("researcher", "supervisor")
    .addEdge("reviewer", "supervisor")
    .addEdge("writer", "supervisor")
    .compile({ name: "kvlink-agents" });
}

/** A document's id: the corpus id in metadata, else its Document id, else its cache key. */
export function documentId(doc: DocumentInterface): string {
  const meta = doc.metadata as { id?: unknown; kvlink?: { cacheKey?: unknown } };
  if (typeof meta.id === "string") return meta.id;
  if (doc.id !== undefined) return doc.id;
  return String(meta.kvlink?.cacheKey ?? "");
}

function mergeDocuments(a: readonly DocumentInterface[], b: readonly DocumentInterface[]): DocumentInterface[] {
  const seen = new Set(a.map((d) => d.pageContent));
  const out = [...a];
  for (const doc of b) {
    if (seen.has(doc.pageContent)) continue;
    seen.add(doc.pageContent);
    out.push(doc);
  }
  return out;
}
