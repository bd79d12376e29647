/**
 * The agents' instructions. Written for a weak model (the default is a 135M model): one job per agent, short
 * outputs, a yes/no answer only where the workflow branches on it (the reviewer's verdict), and a parse of that
 * answer that falls back to a safe default instead of failing.
 */
export const AGENT_NAMES = ["researcher", "reviewer", "writer"] as const;
export type AgentName = (typeof AGENT_NAMES)[number];

export const RESEARCHER_SYSTEM =
  "You are the researcher. Read the documents and write two or three short notes with the facts that answer the question. " +
  "Quote names exactly as the documents write them. Do not answer beyond the documents.";

export const REVIEWER_SYSTEM =
  "You are the reviewer. Do the documents support the researcher's notes? Answer yes or no first. " +
  "If no, say in one sentence what is missing.";

export const WRITER_SYSTEM =
  "You are the writer. Answer the question in two or three sentences, using the documents and the researcher's notes.";

export function researcherPrompt(question: string, feedback: string | undefined): string {
  return feedback === undefined ? `Question: ${question}` : `Question: ${question}\nThe reviewer asked for: ${feedback}`;
}

export function reviewerPrompt(question: string, notes: string): string {
  return `Question: ${question}\nResearcher's notes: ${notes}\nDo the documents support these notes? Answer yes or no.`;
}

export function writerPrompt(question: string, notes: string): string {
  return `Question: ${question}\nResearcher's notes: ${notes}\nAnswer:`;
}

export interface ReviewVerdict {
  readonly verdict: "ok" | "revise";
  /** What the reviewer said is missing (for a revision), or its whole reply. */
  readonly feedback: string;
  /** False when the reply had no recognisable verdict (the workflow then goes on as if it were OK). */
  readonly parsed: boolean;
}

/**
 * The reviewer's reply → a verdict: a leading yes/no (or `VERDICT: OK|REVISE`). Anything else is "ok", so a model
 * that cannot follow the format never sends the workflow round in circles.
 */
export function parseReview(reply: string): ReviewVerdict {
  const match = /^\W*(?:verdict\s*[:\-]?\s*)?(yes|no|ok|revise)\b[\s.:,;!-]*([\s\S]*)/i.exec(reply);
  if (match === null) return { verdict: "ok", feedback: reply.trim(), parsed: false };
  const word = match[1]!.toLowerCase();
  const verdict = word === "no" || word === "revise" ? "revise" : "ok";
  return { verdict, feedback: (match[2] ?? "").trim().split("\n")[0]!.slice(0, 200), parsed: true };
}
