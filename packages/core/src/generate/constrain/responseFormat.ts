import { z } from "zod";
import { InvalidInputError } from "../../errors/KvLinkError.js";
import type { Tokenizer } from "../../tokenizer/Tokenizer.js";
import { ByteAutomaton, type ProgramStep } from "./ByteAutomaton.js";
import { compileJsonSchema, type GrammarNode } from "./compileJsonSchema.js";
import { GrammarConstraint } from "./GrammarConstraint.js";
import { TokenMasker } from "./TokenMask.js";
import { TokenTrie } from "./TokenTrie.js";

const schemaValue = z.custom<unknown>((v) => v === true || (v !== null && typeof v === "object" && !Array.isArray(v)), {
  message: "expected a JSON schema (an object, or true)",
});

/**
 * What the output must be (schema-constrained decoding):
 * - `text`: anything (the default);
 * - `json_object`: one JSON object, any content;
 * - `json_schema`: one JSON value valid for `schema` (the keywords compileJsonSchema enforces);
 * - `tool_calls`: calls written as `open` + `{"name": <a tool name>, "arguments": <that tool's parameters>}` + `close`.
 *   `choice: "required"` makes the answer exactly one call; `"auto"` lets the model write text and constrains a call
 *   once it writes `open`.
 */
export const ResponseFormatSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("text") }),
  z.strictObject({ type: z.literal("json_object") }),
  z.strictObject({ type: z.literal("json_schema"), schema: schemaValue, name: z.string().optional() }),
  z.strictObject({
    type: z.literal("tool_calls"),
    tools: z.array(z.strictObject({ name: z.string().min(1), parameters: schemaValue.optional() })).min(1),
    choice: z.enum(["required", "auto"]).default("required"),
    open: z.string().min(1).default("<tool_call>"),
    close: z.string().min(1).default("</tool_call>"),
  }),
]);
export type ResponseFormatInput = z.input<typeof ResponseFormatSchema>;
export type ResponseFormat = z.output<typeof ResponseFormatSchema>;

/** Parses a response format; InvalidInputError with zod's message when it is malformed. */
export function parseResponseFormat(input: unknown): ResponseFormat {
  const parsed = ResponseFormatSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(`invalid responseFormat:\n${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  return parsed.data;
}

/** The automaton program of a response format (undefined for plain text). Schemas are compiled here, so errors come early. */
export function responseFormatProgram(format: ResponseFormat): ProgramStep[] | undefined {
  switch (format.type) {
    case "text":
      return undefined;
    case "json_object":
      return [{ kind: "value", node: compileJsonSchema({ type: "object" }) }];
    case "json_schema":
      return [{ kind: "value", node: compileJsonSchema(format.schema) }];
    case "tool_calls": {
      const names = format.tools.map((t) => t.name);
      if (new Set(names).size !== names.length) throw new InvalidInputError(`responseFormat.tools: tool names must be distinct, got ${names.join(", ")}`);
      const call = compileJsonSchema({
        anyOf: format.tools.map((tool) => ({
          type: "object",
          properties: { name: { const: tool.name }, arguments: tool.parameters ?? { type: "object" } },
          required: ["name", "arguments"],
        })),
      });
      return format.choice === "required"
        ? [{ kind: "text", text: format.open }, { kind: "value", node: call }, { kind: "text", text: format.close }]
        : [{ kind: "free", trigger: format.open, body: call, close: format.close }];
    }
  }
}

const MAX_MASKERS_PER_TOKENIZER = 16;
const MASKERS = new WeakMap<Tokenizer, Map<string, TokenMasker>>();

/**
 * The constraint of one generation for a response format, or undefined for plain text. `maxTokens` (the generation's
 * limit) lets it finish a value before the limit (GrammarConstraint). The automaton and its mask
 * cache are shared by every generation with the same format and tokenizer (an agent's tools repeat on every call).
 */
export function createResponseConstraint(input: unknown, tokenizer: Tokenizer, options: { readonly maxTokens?: number } = {}): GrammarConstraint | undefined {
  if (input === undefined) return undefined;
  const format = parseResponseFormat(input);
  if (format.type === "text") return undefined;
  const key = JSON.stringify(format);
  let maskers = MASKERS.get(tokenizer);
  if (maskers === undefined) MASKERS.set(tokenizer, (maskers = new Map()));
  let masker = maskers.get(key);
  if (masker === undefined) {
    const program = responseFormatProgram(format)!;
    masker = new TokenMasker(new ByteAutomaton(program), TokenTrie.forTokenizer(tokenizer), { eosTokenIds: tokenizer.eosTokenIds });
    maskers.set(key, masker);
    if (maskers.size > MAX_MASKERS_PER_TOKENIZER) maskers.delete(maskers.keys().next().value!);
  } else {
    maskers.delete(key);
    maskers.set(key, masker);
  }
  return new GrammarConstraint(masker, tokenizer.eosTokenIds, options);
}


