import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { InvalidInputError } from "../errors/KvLinkError.js";
import { parseResponseFormat, responseFormatProgram, type ResponseFormatInput } from "../generate/constrain/responseFormat.js";

/** Flags added by addResponseFormatOptions. */
export interface ResponseFormatFlags {
  jsonSchema?: string;
  jsonObject?: boolean;
}

/** --json-schema <file>, --json-object: constrained decoding of the answer. */
export function addResponseFormatOptions(command: Command): Command {
  return command
    .option("--json-schema <file>", "constrain the answer to JSON valid for this JSON schema (a .json file)")
    .option("--json-object", "constrain the answer to one JSON object");
}

/** The response format the flags ask for (checked now, so a bad schema fails before the model loads), or undefined. */
export async function responseFormatFromFlags(flags: ResponseFormatFlags): Promise<ResponseFormatInput | undefined> {
  if (flags.jsonSchema !== undefined && flags.jsonObject === true) throw new InvalidInputError("give --json-schema or --json-object, not both");
  if (flags.jsonObject === true) return { type: "json_object" };
  if (flags.jsonSchema === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(flags.jsonSchema, "utf8");
  } catch (error) {
    throw new InvalidInputError(`--json-schema: cannot read ${flags.jsonSchema}`, { cause: error, details: { path: flags.jsonSchema } });
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(`--json-schema: ${flags.jsonSchema} is not valid JSON`, { cause: error, details: { path: flags.jsonSchema } });
  }
  const format = { type: "json_schema" as const, schema };
  responseFormatProgram(parseResponseFormat(format)); // compiles the schema: what it cannot enforce fails now
  return format;
}
