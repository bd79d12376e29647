import { randomUUID } from "node:crypto";
import type { ToolDefinition } from "@langchain/core/language_models/base";
import type { ToolChoice } from "@langchain/core/language_models/chat_models";
import { InvalidInputError } from "@kvlink/core";

/**
 * The tool-call convention of ChatKVLink (Hermes/Qwen style, for chat templates that define none, such as
 * SmolLM2's and the tiny test model's ChatML):
 *
 * - Tools are described in the system message: their OpenAI-format JSON definitions inside `<tools>…</tools>`,
 *   followed by how to call them (`renderToolInstructions`).
 * - The model calls a tool by writing, anywhere in its answer, one block per call:
 *   `<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>`
 *   (`"parameters"` is accepted for `"arguments"`, and a JSON string holding the arguments object too).
 * - Blocks are cut out of the message content and become `AIMessage.tool_calls`; a block that is not a valid
 *   call (bad JSON, no name, arguments not an object) becomes an entry of `invalid_tool_calls`. A call naming an
 *   unknown tool is passed on: agents answer it with an error ToolMessage, as for any provider.
 * - Earlier assistant tool calls are written back in the same form; a tool's result is sent as a `tool` message
 *   whose content is `<tool_response>{"name": …, "tool_call_id": …, "content": …}</tool_response>`.
 *
 * Models whose own chat template renders `tools` (Qwen2.5, Hermes) use mode "template": the definitions go to
 * the template as the `tools` variable and the same `<tool_call>` blocks are parsed from the output.
 */
export type ToolCallingMode = "prompt" | "template" | "none";

export const TOOL_CALL_OPEN = "<tool_call>";
export const TOOL_CALL_CLOSE = "</tool_call>";

/** A well-formed tool call parsed from model output. */
export interface ParsedToolCall {
  readonly id: string;
  readonly name: string;
  readonly args: Record<string, unknown>;
}

/** A `<tool_call>` block that could not be used; `args` is the raw text inside the block. */
export interface InvalidParsedToolCall {
  readonly id: string;
  readonly name: string | undefined;
  readonly args: string;
  readonly error: string;
}

export type ToolCallParserEvent =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "tool_call"; readonly call: ParsedToolCall }
  | { readonly kind: "invalid_tool_call"; readonly call: InvalidParsedToolCall };

/** The system-message text that describes the tools and the call format (mode "prompt"). */
export function renderToolInstructions(tools: readonly ToolDefinition[], toolChoice?: ToolChoice): string {
  const lines = [
    "You can call tools. The available tools, as JSON definitions:",
    "<tools>",
    ...tools.map((tool) => JSON.stringify(tool)),
    "</tools>",
    `To call a tool, write one block per call, exactly in this form:`,
    `${TOOL_CALL_OPEN}{"name": "<tool name>", "arguments": {<arguments as a JSON object>}}${TOOL_CALL_CLOSE}`,
    "Each tool's result comes back in a <tool_response> block.",
  ];
  const forced = forcedToolName(toolChoice);
  if (forced !== undefined) lines.push(`You must call the tool "${forced}".`);
  else if (toolChoice === "any" || toolChoice === "required") lines.push("You must call at least one tool.");
  else lines.push("Call a tool only when it helps; otherwise answer directly.");
  return lines.join("\n");
}

/**
 * The conversation with the tool instructions (mode "prompt") appended to its leading system message, or in a new
 * one. The KVLink adapter's tool-calling data (training/prepare/packTrainingData.ts) is rendered by this function,
 * so what the model was trained on is what ChatKVLink sends.
 */
export function withToolInstructions<M extends { readonly role: string; readonly content: string }>(
  messages: readonly M[],
  tools: readonly ToolDefinition[],
  toolChoice?: ToolChoice,
): (M | { role: "system"; content: string })[] {
  const text = renderToolInstructions(tools, toolChoice);
  const first = messages[0];
  if (first?.role === "system") return [{ ...first, content: first.content.length > 0 ? `${first.content}\n\n${text}` : text }, ...messages.slice(1)];
  return [{ role: "system", content: text }, ...messages];
}

/**
 * The engine's response format for bound tools: calls are written by the constrained decoder in this file's
 * convention, `<tool_call>{"name": <tool>, "arguments": <that tool's parameters>}</tool_call>`. A forced choice
 * ("any", "required", a tool name) makes the answer exactly one call (of the named tool, if one is named); "auto"
 * leaves the model free until it opens a call, which is then constrained.
 */
export function toolCallResponseFormat(
  tools: readonly ToolDefinition[],
  toolChoice: ToolChoice | undefined,
  tags: { readonly open?: string; readonly close?: string } = {},
): { type: "tool_calls"; tools: { name: string; parameters?: Record<string, unknown> }[]; choice: "required" | "auto"; open: string; close: string } {
  const forced = forcedToolName(toolChoice);
  const required = forced !== undefined || toolChoice === "any" || toolChoice === "required";
  const chosen = forced === undefined ? tools : tools.filter((tool) => tool.function.name === forced);
  return {
    type: "tool_calls",
    tools: chosen.map((tool) => ({
      name: tool.function.name,
      ...(tool.function.parameters === undefined ? {} : { parameters: tool.function.parameters as Record<string, unknown> }),
    })),
    choice: required ? "required" : "auto",
    open: tags.open ?? TOOL_CALL_OPEN,
    close: tags.close ?? TOOL_CALL_CLOSE,
  };
}

/** The name a tool_choice forces, if it forces one (a tool name, or `{type: "function", function: {name}}`). */
export function forcedToolName(toolChoice: ToolChoice | undefined): string | undefined {
  if (typeof toolChoice === "string") return ["auto", "any", "none", "required"].includes(toolChoice) ? undefined : toolChoice;
  if (toolChoice !== null && typeof toolChoice === "object") {
    const fn = (toolChoice as { function?: { name?: unknown } }).function;
    if (typeof fn?.name === "string") return fn.name;
  }
  return undefined;
}

/** One assistant tool call written back into the conversation, in the convention's form. */
export function formatToolCall(call: { readonly name: string; readonly args: unknown }): string {
  return `${TOOL_CALL_OPEN}${JSON.stringify({ name: call.name, arguments: call.args })}${TOOL_CALL_CLOSE}`;
}

/** A tool's result as the content of a `tool` message. */
export function formatToolResponse(response: { readonly name: string | undefined; readonly toolCallId: string; readonly content: string }): string {
  const body = { ...(response.name === undefined ? {} : { name: response.name }), tool_call_id: response.toolCallId, content: response.content };
  return `<tool_response>${JSON.stringify(body)}</tool_response>`;
}

/**
 * Splits streamed model output into text and tool calls. Text that may be the start of `<tool_call>` is held back
 * until the next piece decides it, and a block is reported once its closing tag arrives, so the text events
 * never contain any part of a block whatever the piece boundaries are. Call `flush()` at the end of the stream.
 */
export class ToolCallStreamParser {
  #buffer = "";
  #inCall = false;
  #finished = false;
  /** Inside a block: how far the buffer was scanned, and whether that point is inside a JSON string or just after its backslash. */
  #scanned = 0;
  #inString = false;
  #escaped = false;

  push(piece: string): ToolCallParserEvent[] {
    if (this.#finished) throw new InvalidInputError("ToolCallStreamParser: push() called after flush()");
    this.#buffer += piece;
    const events: ToolCallParserEvent[] = [];
    for (;;) {
      if (this.#inCall) {
        const close = this.#findClose();
        if (close === -1) break;
        events.push(this.#parseBlock(this.#buffer.slice(0, close), true));
        this.#buffer = this.#buffer.slice(close + TOOL_CALL_CLOSE.length);
        this.#inCall = false;
        continue;
      }
      const open = this.#buffer.indexOf(TOOL_CALL_OPEN);
      if (open !== -1) {
        if (open > 0) events.push({ kind: "text", text: this.#buffer.slice(0, open) });
        this.#buffer = this.#buffer.slice(open + TOOL_CALL_OPEN.length);
        this.#inCall = true;
        this.#scanned = 0;
        this.#inString = false;
        this.#escaped = false;
        continue;
      }
      const keep = partialPrefixLength(this.#buffer, TOOL_CALL_OPEN);
      const text = this.#buffer.slice(0, this.#buffer.length - keep);
      if (text.length > 0) events.push({ kind: "text", text });
      this.#buffer = this.#buffer.slice(this.#buffer.length - keep);
      break;
    }
    return events;
  }

  /** Ends the stream: held-back text comes out; an unclosed block is parsed as it stands. */
  flush(): ToolCallParserEvent[] {
    if (this.#finished) return [];
    this.#finished = true;
    const rest = this.#buffer;
    this.#buffer = "";
    if (this.#inCall) {
      // The block never closed outside a string. If a closing tag came inside what read as a string, the JSON was
      // broken (say an unbalanced quote): end the block at that tag, and what follows is parsed again.
      const close = rest.indexOf(TOOL_CALL_CLOSE);
      if (close === -1) return [this.#parseBlock(rest, false)];
      const after = new ToolCallStreamParser();
      return [this.#parseBlock(rest.slice(0, close), true), ...after.push(rest.slice(close + TOOL_CALL_CLOSE.length)), ...after.flush()];
    }
    return rest.length > 0 ? [{ kind: "text", text: rest }] : [];
  }

  /**
   * Index of the block's closing tag, or -1 if it has not arrived. A `</tool_call>` inside a JSON string (an argument
   * that mentions the tag) is text, not the end of the block. The scan resumes where the last piece ended; a tag that
   * may still be completing is left for the next piece.
   */
  #findClose(): number {
    const buffer = this.#buffer;
    let i = this.#scanned;
    for (; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (c === 0x5c) this.#escaped = true;
        else if (c === 0x22) this.#inString = false;
        continue;
      }
      if (c === 0x22) {
        this.#inString = true;
        continue;
      }
      if (c === 0x3c) {
        if (buffer.startsWith(TOOL_CALL_CLOSE, i)) return i;
        if (TOOL_CALL_CLOSE.startsWith(buffer.slice(i))) break;
      }
    }
    this.#scanned = i;
    return -1;
  }

  #parseBlock(raw: string, closed: boolean): ToolCallParserEvent {
    const id = newToolCallId();
    const invalid = (name: string | undefined, error: string): ToolCallParserEvent => ({
      kind: "invalid_tool_call",
      call: { id, name, args: raw, error: closed ? error : `${error} (the block has no ${TOOL_CALL_CLOSE})` },
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      return invalid(undefined, `tool call is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      return invalid(undefined, `tool call must be a JSON object {"name", "arguments"}, got ${Array.isArray(parsed) ? "an array" : typeof parsed}`);
    }
    const record = parsed as Record<string, unknown>;
    const name = record["name"];
    if (typeof name !== "string" || name.length === 0) return invalid(undefined, `tool call has no "name" string`);
    const args = parseArguments(record["arguments"] ?? record["parameters"] ?? {});
    if (args === undefined) return invalid(name, `tool call "arguments" must be a JSON object (or a string holding one)`);
    return { kind: "tool_call", call: { id, name, args } };
  }
}

/** Parses a whole text at once: the content without blocks, and the calls. */
export function parseToolCalls(text: string): { content: string; toolCalls: ParsedToolCall[]; invalidToolCalls: InvalidParsedToolCall[] } {
  const parser = new ToolCallStreamParser();
  const events = [...parser.push(text), ...parser.flush()];
  let content = "";
  const toolCalls: ParsedToolCall[] = [];
  const invalidToolCalls: InvalidParsedToolCall[] = [];
  for (const event of events) {
    if (event.kind === "text") content += event.text;
    else if (event.kind === "tool_call") toolCalls.push(event.call);
    else invalidToolCalls.push(event.call);
  }
  return { content, toolCalls, invalidToolCalls };
}

function parseArguments(value: unknown): Record<string, unknown> | undefined {
  let candidate = value;
  if (typeof candidate === "string") {
    try {
      candidate = JSON.parse(candidate);
    } catch {
      return undefined;
    }
  }
  if (candidate === null || typeof candidate !== "object" || Array.isArray(candidate)) return undefined;
  return candidate as Record<string, unknown>;
}

/** Length of the longest suffix of `text` that is a proper prefix of `tag`. */
function partialPrefixLength(text: string, tag: string): number {
  for (let n = Math.min(text.length, tag.length - 1); n > 0; n--) {
    if (text.endsWith(tag.slice(0, n))) return n;
  }
  return 0;
}

function newToolCallId(): string {
  return `call_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
}
