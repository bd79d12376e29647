/**
 * The agents' instructions. Written for a weak model (the default is a 135M model): one job per agent, short
 * outputs, a fixed reply format only where the workflow branches on it (the reviewer's verdict), and a parse of
 * that format that falls back to a safe default instead of failing.
 */
export const AGENT_NAMES = ["researcher", "reviewer", "writer"] as const;
export type AgentName = (typeof AGENT_NAMES)[number];

export const RESEARCHER_SYSTEM =
  "You are the researcher. Read the documents and write two or three short notes with the facts that answer the question. " +
  "Quote names exactly as the documents write them. Do not answer beyond the documents.";

export const REVIEWER_SYSTEM =
  "You are the reviewer. Check the researcher's notes against the documents. " +
  "Reply with VERDICT: OK if the notes are supported by the documents, or VERDICT: REVISE and one sentence saying what is missing.";

export const WRITER_SYSTEM =
  "You are the writer. Answer the question in two or three sentences, using the documents and the researcher's notes.";

export function researcherPrompt(question: string, feedback: string | undefined): string {
  return feedback === undefined ? `Question: ${question}` : `Question: ${question}\nThe reviewer asked for: ${feedback}`;
}

export function reviewerPrompt(question: string, notes: string): string {
  return `Question: ${question}\nResearcher's notes: ${notes}`;
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

/** The reviewer's reply → a verdict. Anything unrecognisable is "ok" (never loop on a model that cannot follow the format). */
export function parseReview(reply: string): ReviewVerdict {
  const match = /VERDICT\s*[:\-]?\s*(OK|REVISE)\b[\s.:,-]*([\s\S]*)/i.exec(reply);
  if (match === null) return { verdict: "ok", feedback: reply.trim(), parsed: false };
  const verdict = match[1]!.toUpperCase() === "REVISE" ? "revise" : "ok";
  return { verdict, feedback: (match[2] ?? "").trim().split("\n")[0]!.slice(0, 200), parsed: true };
}
