import { z } from "zod";
import { InvalidInputError } from "../errors/KvLinkError.js";
import { SamplingOptionsSchema } from "../generate/SamplingOptionsSchema.js";
import { LINK_MODES, type LinkMode } from "../link/LinkPlan.js";

const DocumentSchema = z.union([z.string(), z.looseObject({ id: z.string().optional(), text: z.string() })]);
const functionValue = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", { message: "expected a function" });
const signalValue = z.custom<AbortSignal>((v) => v instanceof AbortSignal, { message: "expected an AbortSignal" });

/** Sampling fields as a request carries them: optional, the bounds of SamplingOptionsSchema. */
const sampling = Object.fromEntries(Object.entries(SamplingOptionsSchema.shape).map(([key, schema]) => [key, schema.optional()])) as {
  [K in keyof typeof SamplingOptionsSchema.shape]: z.ZodOptional<(typeof SamplingOptionsSchema.shape)[K]>;
};

/**
 * Every field of a GenerateRequest, checked before any compute (engine/types.ts documents each). Unknown fields are
 * refused, so a misspelt option (`max_tokens`) fails instead of being ignored. The response format is checked by
 * parseResponseFormat, which compiles its schema.
 */
export const GenerateRequestSchema = z.strictObject({
  system: z.string().optional(),
  documents: z.array(DocumentSchema).optional(),
  question: z.string().optional(),
  messages: z.array(z.looseObject({ role: z.enum(["system", "user", "assistant", "tool"]), content: z.string() })).optional(),
  mode: z.enum(LINK_MODES as [LinkMode, ...LinkMode[]]).optional(),
  recomputePrefixTokens: z.number().int().nonnegative().optional(),
  useChatTemplate: z.boolean().optional(),
  templateVariables: z.record(z.string(), z.unknown()).optional(),
  responseFormat: z.unknown().optional(),
  signal: signalValue.optional(),
  ...sampling,
});

/** The documents and options of KvLinkEngine.precompute. */
export const PrecomputeArgsSchema = z.strictObject({
  documents: z.array(DocumentSchema),
  options: z.strictObject({ signal: signalValue.optional(), onProgress: functionValue.optional(), verifyStored: z.boolean().optional() }),
});

/** Throws InvalidInputError naming every bad field (zod's readable report) when `value` does not fit `schema`. */
export function assertRequest(schema: z.ZodType, value: unknown, what: string): void {
  const parsed = schema.safeParse(value);
  if (parsed.success) return;
  throw new InvalidInputError(`invalid ${what}:\n${z.prettifyError(parsed.error)}`, {
    cause: parsed.error,
    details: { fields: parsed.error.issues.map((issue) => issue.path.join(".")) },
  });
}
