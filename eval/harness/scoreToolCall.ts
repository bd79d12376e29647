import { normalizeAnswer } from "./scoreAnswer.js";
import type { ToolCallRecord } from "../generators/toolCalls.js";

/** What the model did with a tool-calling record. */
export interface ToolCallOutput {
  readonly content: string;
  readonly toolCalls: readonly { readonly name: string; readonly args: Record<string, unknown> }[];
}

/** Per record: whether the model called (any tool), chose the right tool, passed the right arguments, and is right overall. */
export interface ToolCallScore {
  readonly called: boolean;
  readonly rightTool: boolean;
  readonly rightArgs: boolean;
  readonly correct: boolean;
}

/** Argument values compare as JSON, except numbers (by value: 3 = 3.0) and strings (trimmed, case-insensitive). */
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === "number" || typeof b === "number") return Number(a) === Number(b) && a !== "" && b !== "" && a !== null && b !== null;
  if (typeof a === "string" && typeof b === "string") return a.trim().toLowerCase() === b.trim().toLowerCase();
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Exactly the expected keys, each with the expected value. */
export function sameArgs(expected: Record<string, unknown>, actual: Record<string, unknown>): boolean {
  const keys = Object.keys(expected);
  return keys.length === Object.keys(actual).length && keys.every((k) => k in actual && sameValue(expected[k], actual[k]));
}

/**
 * kind "call": right when the first call names the expected tool with the expected arguments (one call expected; a
 * second call does not make it wrong). "no_call": right when no call is made. "answer": right when no new call is
 * made and the text contains a result alias (SQuAD-normalised, as the QA harness scores).
 */
export function scoreToolCall(record: Pick<ToolCallRecord, "kind" | "call" | "answer">, output: ToolCallOutput): ToolCallScore {
  const first = output.toolCalls[0];
  const called = first !== undefined;
  if (record.kind === "call") {
    const rightTool = called && first.name === record.call!.name;
    const rightArgs = rightTool && sameArgs(record.call!.args, first.args);
    return { called, rightTool, rightArgs, correct: rightArgs };
  }
  if (record.kind === "no_call") return { called, rightTool: !called, rightArgs: !called, correct: !called };
  const text = ` ${normalizeAnswer(output.content)} `;
  const stated = (record.answer ?? []).some((a) => normalizeAnswer(a).length > 0 && text.includes(normalizeAnswer(a)));
  return { called, rightTool: !called, rightArgs: !called, correct: !called && stated };
}
