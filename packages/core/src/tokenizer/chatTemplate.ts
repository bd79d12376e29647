import { randomBytes } from "node:crypto";
import { Template } from "@huggingface/jinja";
import { InvalidInputError, TokenizerError } from "../errors/KvLinkError.js";

/** One chat message as chat templates see it; extra keys (tool_calls, name, ...) pass through. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
  readonly [key: string]: unknown;
}

export interface ChatTemplateOptions {
  readonly addGenerationPrompt: boolean;
  /** tokenizer_config's bos_token / eos_token strings (templates may print them). */
  readonly bosToken?: string;
  readonly eosToken?: string;
  readonly tools?: readonly unknown[];
  readonly documents?: readonly unknown[];
  /** More template variables (e.g. `enable_thinking`). */
  readonly variables?: Readonly<Record<string, unknown>>;
}

/** Renders a Jinja chat template (HF semantics, via @huggingface/jinja). TokenizerError if it fails. */
export function renderChatTemplate(template: string, messages: readonly ChatMessage[], options: ChatTemplateOptions): string {
  return render(compile(template), messages, options);
}

/** Part of a message's content in renderChatSegments: literal text, or the place of document slot `slot`. */
export type ChatContentPart = string | { readonly slot: number };

export interface SegmentChatMessage {
  readonly role: string;
  readonly content: string | readonly ChatContentPart[];
  readonly [key: string]: unknown;
}

/**
 * A piece of the rendered prompt. "text" comes from the template itself (`source: "template"`: control tokens,
 * role headers; encode with specialTokens "parse") or from message text (`source: "content"`: encode with
 * specialTokens "text"). "slot" marks where document slot `index` goes.
 */
export type ChatSegment =
  | { readonly kind: "text"; readonly text: string; readonly source: "template" | "content" }
  | { readonly kind: "slot"; readonly index: number };

export interface ChatSegmentsOptions extends ChatTemplateOptions {
  /** Number of document slots; each of 0 .. contentSlots-1 must appear exactly once in the messages. */
  readonly contentSlots: number;
}

/**
 * Renders the chat template with random per-call marker strings in place of message content and slots, then
 * splits the output at the markers: the result says, from the template's own output, where documents go and
 * which text is template vs. message content. Concatenating text segments (with each slot's text in its place)
 * gives the normal rendering, except that a template's trimming of content edges is not applied to the text
 * next to a slot. TokenizerError if the template drops, repeats or reorders content markers.
 */
export function renderChatSegments(
  template: string,
  messages: readonly SegmentChatMessage[],
  options: ChatSegmentsOptions,
): ChatSegment[] {
  const { contentSlots } = options;
  if (!Number.isInteger(contentSlots) || contentSlots < 0) {
    throw new InvalidInputError(`renderChatSegments: contentSlots must be a non-negative integer, got ${contentSlots}`);
  }
  const slotsInMessages = new Set<number>();
  for (const [m, message] of messages.entries()) {
    if (typeof message.content === "string") continue;
    for (const part of message.content) {
      if (typeof part === "string") continue;
      const { slot } = part;
      if (!Number.isInteger(slot) || slot < 0 || slot >= contentSlots || slotsInMessages.has(slot)) {
        throw new InvalidInputError(
          `renderChatSegments: message ${m} uses slot ${slot}; slots must be distinct integers in [0, ${contentSlots})`,
          { details: { messageIndex: m, slot, contentSlots } },
        );
      }
      slotsInMessages.add(slot);
    }
  }
  if (slotsInMessages.size !== contentSlots) {
    const missing = Array.from({ length: contentSlots }, (_, i) => i).filter((i) => !slotsInMessages.has(i));
    throw new InvalidInputError(`renderChatSegments: slots ${missing.join(", ")} appear in no message (contentSlots ${contentSlots})`, {
      details: { missing, contentSlots },
    });
  }

  const marker = newMarker(messages);
  const open = `${marker}b`;
  const close = `${marker}e`;
  const slotMarker = (i: number): string => `${marker}s${i}z`;
  const marked: ChatMessage[] = messages.map((message) => {
    const parts = typeof message.content === "string" ? [message.content] : message.content;
    const content = parts.map((p) => (typeof p === "string" ? `${open}${p}${close}` : slotMarker(p.slot))).join("");
    return { ...message, content };
  });
  const rendered = render(compile(template), marked, options);

  const segments: ChatSegment[] = [];
  const pushText = (text: string, source: "template" | "content"): void => {
    if (text.length === 0) return;
    const last = segments[segments.length - 1];
    if (last?.kind === "text" && last.source === source) segments[segments.length - 1] = { kind: "text", text: last.text + text, source };
    else segments.push({ kind: "text", text, source });
  };
  const fail = (problem: string): never => {
    throw new TokenizerError(`renderChatSegments: the chat template ${problem}; cannot place content by markers`, {
      details: { problem },
    });
  };
  const seenSlots = new Set<number>();
  let inContent = false;
  let cursor = 0;
  // Case-insensitive so that templates applying upper/lower to content still keep the markers findable.
  const pattern = new RegExp(`${marker}(?:s(\\d+)z|b|e)`, "gi");
  for (const match of rendered.matchAll(pattern)) {
    pushText(rendered.slice(cursor, match.index), inContent ? "content" : "template");
    cursor = match.index + match[0].length;
    const kind = match[0].charAt(marker.length).toLowerCase();
    if (kind === "b") {
      if (inContent) fail("nests or repeats message content");
      inContent = true;
    } else if (kind === "e") {
      if (!inContent) fail("splits or repeats message content");
      inContent = false;
    } else {
      const index = Number(match[1]);
      if (inContent) fail(`put slot ${index} inside another content part`);
      if (seenSlots.has(index)) fail(`repeats document slot ${index}`);
      seenSlots.add(index);
      segments.push({ kind: "slot", index });
    }
  }
  if (inContent) fail("cut message content short");
  pushText(rendered.slice(cursor), "template");
  if (seenSlots.size !== contentSlots) {
    const dropped = [...slotsInMessages].filter((i) => !seenSlots.has(i));
    fail(`dropped document slot(s) ${dropped.join(", ")} (e.g. it skips that message's role)`);
  }
  return segments;
}

/** A marker no message can contain: "kvl" + 24 random hex digits, redrawn on a (vanishingly rare) clash. */
function newMarker(messages: readonly SegmentChatMessage[]): string {
  const texts = messages.flatMap((m) => [m.role, ...(typeof m.content === "string" ? [m.content] : m.content.filter((p) => typeof p === "string"))]);
  const haystack = texts.join("\n").toLowerCase();
  for (;;) {
    const marker = `kvl${randomBytes(12).toString("hex")}`;
    if (!haystack.includes(marker)) return marker;
  }
}

function compile(template: string): Template {
  if (typeof template !== "string" || template.length === 0) {
    throw new TokenizerError(`chat template must be a non-empty string, got ${typeof template === "string" ? '""' : typeof template}`);
  }
  try {
    return new Template(template);
  } catch (error) {
    throw new TokenizerError(`chat template does not parse: ${errorMessage(error)}`, { cause: error });
  }
}

function render(compiled: Template, messages: readonly ChatMessage[], options: ChatTemplateOptions): string {
  try {
    return compiled.render({
      ...options.variables,
      messages,
      add_generation_prompt: options.addGenerationPrompt,
      ...(options.bosToken === undefined ? {} : { bos_token: options.bosToken }),
      ...(options.eosToken === undefined ? {} : { eos_token: options.eosToken }),
      ...(options.tools === undefined ? {} : { tools: options.tools }),
      ...(options.documents === undefined ? {} : { documents: options.documents }),
    });
  } catch (error) {
    throw new TokenizerError(`chat template failed to render: ${errorMessage(error)}`, { cause: error });
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
