import type { BaseMessage, MessageContent } from "@langchain/core/messages";
import type { DocumentInterface } from "@langchain/core/documents";
import { InvalidInputError } from "@kvlink/core";
import type { KvLinkChatMessage, KvLinkChatRole, KvLinkDocumentInput } from "./engine.js";
import { parseKVLinkPrompt } from "./format.js";
import { formatToolCall, formatToolResponse } from "./tools.js";

/** LangChain messages turned into what the engine takes: plain chat messages and the documents to cache. */
export interface EngineConversation {
  readonly messages: KvLinkChatMessage[];
  /** Call-option documents first, then documents cut out of message text, duplicates (same text) removed. */
  readonly documents: KvLinkDocumentInput[];
}

const ROLE_OF_TYPE: Readonly<Record<string, KvLinkChatRole>> = {
  system: "system",
  developer: "system",
  human: "user",
  ai: "assistant",
  tool: "tool",
};

/**
 * Converts a LangChain conversation for the engine: roles mapped (human → user, ai → assistant, ...), assistant
 * tool calls and tool results written in the tool-call convention (see tools.ts), documents marked by
 * formatDocumentsForKVLink cut out of every message and collected. The engine places all documents, as cached
 * segments, at the start of the last user message. InvalidInputError for non-text content or unknown roles.
 */
export function toEngineConversation(
  messages: readonly BaseMessage[],
  optionDocuments: readonly DocumentInterface[] | undefined,
  where: string,
): EngineConversation {
  const documents = new DocumentList();
  for (const doc of checkDocuments(optionDocuments, where)) documents.add(doc);
  const converted = messages.map((message, index): KvLinkChatMessage => {
    const role = roleOf(message, index, where);
    const parsed = parseKVLinkPrompt(contentText(message.content, index, where));
    for (const doc of parsed.documents) documents.add(doc);
    let content = parsed.text;
    if (role === "assistant") {
      const calls = (message as { tool_calls?: readonly { name: string; args: unknown }[] }).tool_calls ?? [];
      content += calls.map((call) => formatToolCall(call)).join("");
    } else if (role === "tool") {
      const tool = message as { tool_call_id?: unknown; name?: unknown };
      content = formatToolResponse({
        name: typeof tool.name === "string" ? tool.name : undefined,
        toolCallId: typeof tool.tool_call_id === "string" ? tool.tool_call_id : "",
        content,
      });
    }
    return { role, content };
  });
  return { messages: converted, documents: documents.list };
}

/** Checks call-option documents and turns them into engine documents. */
export function checkDocuments(documents: readonly DocumentInterface[] | undefined, where: string): KvLinkDocumentInput[] {
  if (documents === undefined) return [];
  if (!Array.isArray(documents)) {
    throw new InvalidInputError(`${where}: call option "documents" must be an array of Documents, got ${typeof documents}`);
  }
  return documents.map((doc, index) => {
    if (doc === null || typeof doc !== "object" || typeof doc.pageContent !== "string") {
      throw new InvalidInputError(`${where}: documents[${index}] must be a Document with a string pageContent`, { details: { index } });
    }
    return typeof doc.id === "string" && doc.id.length > 0 ? { id: doc.id, text: doc.pageContent } : { text: doc.pageContent };
  });
}

/** Documents in first-seen order, one per distinct text. */
export class DocumentList {
  readonly list: KvLinkDocumentInput[] = [];
  readonly #texts = new Set<string>();
  add(doc: KvLinkDocumentInput): void {
    if (this.#texts.has(doc.text)) return;
    this.#texts.add(doc.text);
    this.list.push(doc);
  }
}

function roleOf(message: BaseMessage, index: number, where: string): KvLinkChatRole {
  const type = message.getType();
  if (type === "generic") {
    const role = (message as { role?: unknown }).role;
    const mapped = typeof role === "string" ? (ROLE_OF_TYPE[role] ?? asChatRole(role)) : undefined;
    if (mapped !== undefined) return mapped;
    throw new InvalidInputError(`${where}: message ${index} has role "${String(role)}"; expected system, user, assistant or tool`, {
      details: { index, role },
    });
  }
  const role = ROLE_OF_TYPE[type];
  if (role === undefined) {
    throw new InvalidInputError(`${where}: message ${index} is a "${type}" message; supported: system, human, ai, tool (and chat messages with those roles)`, {
      details: { index, type },
    });
  }
  return role;
}

function asChatRole(role: string): KvLinkChatRole | undefined {
  return role === "system" || role === "user" || role === "assistant" || role === "tool" ? role : undefined;
}

/** The text of a message: a string, or the concatenated text blocks of a content array. */
export function contentText(content: MessageContent, index: number, where: string): string {
  if (typeof content === "string") return content;
  let text = "";
  for (const block of content as readonly unknown[]) {
    if (typeof block === "string") {
      text += block;
      continue;
    }
    const typed = block as { type?: unknown; text?: unknown };
    // Tool calls are also in `tool_calls`, which is what gets written back.
    // Anthropic-style "tool_use" blocks in an AIMessage's list content carry the same calls.
    if (typed.type === "tool_call" || typed.type === "tool_call_chunk" || typed.type === "tool_use") continue;
    if ((typed.type === "text" || typed.type === "text-plain") && typeof typed.text === "string") {
      text += typed.text;
      continue;
    }
    throw new InvalidInputError(`${where}: message ${index} has a "${String(typed.type)}" content block; only text is supported`, {
      details: { index, blockType: typed.type },
    });
  }
  return text;
}
