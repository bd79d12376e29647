import { InvalidInputError } from "../errors/KvLinkError.js";
import { renderChatSegments, type SegmentChatMessage } from "../tokenizer/chatTemplate.js";
import type { Tokenizer } from "../tokenizer/Tokenizer.js";
import type { LayoutPiece, PlannedDocumentInput } from "./LinkPlan.js";

/** A conversation turn as the layout builder takes it. */
export interface LayoutMessage {
  readonly role: string;
  readonly content: string;
}

export interface PromptLayoutInput {
  readonly system?: string;
  readonly question?: string;
  readonly messages?: readonly LayoutMessage[];
  /** Tokenized documents (see documentSegmentText), placed in this order. */
  readonly documents: readonly PlannedDocumentInput[];
  /** Render through the tokenizer's chat template (default); false lays out raw text: system, documents, question. */
  readonly useChatTemplate?: boolean;
  readonly templateVariables?: Readonly<Record<string, unknown>>;
}

/**
 * The text a document is cached as: the document followed by a blank line, so consecutive documents and the
 * question stay apart. Precompute and linking both go through here, so a document tokenizes the same way in both.
 */
export function documentSegmentText(text: string): string {
  const trimmed = text.replace(/\s+$/u, "");
  return trimmed.length === 0 ? "" : `${trimmed}\n\n`;
}

/**
 * Turns a request into layout pieces: the chat template is rendered with markers, documents go where the
 * template puts the (last) user message's content, template text is encoded with control tokens parsed and
 * message text with special-token strings kept as text.
 */
export function buildPromptLayout(tokenizer: Tokenizer, input: PromptLayoutInput): LayoutPiece[] {
  const messages = layoutMessages(input);
  const docs = input.documents;
  const template = tokenizer.chatTemplate;
  if (input.useChatTemplate === false || template === undefined) {
    if (input.useChatTemplate !== false && template === undefined && input.messages !== undefined) {
      throw new InvalidInputError("this model has no chat template, so `messages` cannot be rendered; pass `question` (raw layout) instead");
    }
    const pieces: LayoutPiece[] = [];
    if (input.system) pieces.push({ kind: "text", tokenIds: tokenizer.encode(`${input.system}\n\n`, { specialTokens: "text" }) });
    if (docs.length > 0) pieces.push({ kind: "documents", documents: docs });
    const question = input.question ?? messages.at(-1)?.content ?? "";
    if (question.length > 0) pieces.push({ kind: "text", tokenIds: tokenizer.encode(question, { specialTokens: "text" }) });
    return pieces;
  }
  let lastUser = -1;
  messages.forEach((m, i) => {
    if (m.role === "user") lastUser = i;
  });
  if (docs.length > 0 && lastUser < 0) throw new InvalidInputError("documents need a user message to be placed in");
  const segmentMessages: SegmentChatMessage[] = messages.map((m, i) =>
    i === lastUser && docs.length > 0 ? { role: m.role, content: [{ slot: 0 }, m.content] } : { role: m.role, content: m.content },
  );
  const segments = renderChatSegments(template, segmentMessages, {
    addGenerationPrompt: true,
    contentSlots: docs.length > 0 ? 1 : 0,
    ...(tokenizer.bosToken === undefined ? {} : { bosToken: tokenizer.bosToken }),
    ...(tokenizer.eosToken === undefined ? {} : { eosToken: tokenizer.eosToken }),
    ...(input.templateVariables === undefined ? {} : { variables: input.templateVariables }),
  });
  const pieces: LayoutPiece[] = [];
  let pending: number[] = [];
  const flush = (): void => {
    if (pending.length > 0) pieces.push({ kind: "text", tokenIds: pending });
    pending = [];
  };
  for (const seg of segments) {
    if (seg.kind === "slot") {
      flush();
      pieces.push({ kind: "documents", documents: docs });
    } else {
      pending.push(...tokenizer.encode(seg.text, { specialTokens: seg.source === "template" ? "parse" : "text" }));
    }
  }
  flush();
  return pieces;
}

/** Roles a chat template renders; anything else would be pasted into the template as text (control tokens and all). */
export const LAYOUT_ROLES: readonly string[] = ["system", "user", "assistant", "tool"];

function layoutMessages(input: PromptLayoutInput): LayoutMessage[] {
  if (input.messages !== undefined) {
    if (input.question !== undefined) throw new InvalidInputError("give either `question` or `messages`, not both");
    if (!Array.isArray(input.messages) || input.messages.length === 0) throw new InvalidInputError("`messages` is empty");
    input.messages.forEach((m, i) => {
      if (typeof m?.role !== "string" || !LAYOUT_ROLES.includes(m.role)) {
        throw new InvalidInputError(`messages[${i}].role must be one of ${LAYOUT_ROLES.join(", ")}, got ${JSON.stringify(m?.role)}`, {
          details: { index: i, role: m?.role },
        });
      }
      if (typeof m.content !== "string") {
        throw new InvalidInputError(`messages[${i}].content must be a string, got ${typeof m.content}`, { details: { index: i } });
      }
    });
    const out = [...input.messages];
    if (input.system !== undefined && out[0]?.role !== "system") out.unshift({ role: "system", content: input.system });
    return out;
  }
  if (input.question === undefined) throw new InvalidInputError("a request needs `question` or `messages`");
  if (typeof input.question !== "string" || input.question.trim().length === 0) {
    throw new InvalidInputError(`\`question\` must be a non-empty string, got ${JSON.stringify(input.question)}`, { details: { question: input.question } });
  }
  return [...(input.system !== undefined ? [{ role: "system", content: input.system }] : []), { role: "user", content: input.question }];
}
