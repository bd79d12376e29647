import { open } from "node:fs/promises";
import { ModelFormatError } from "../errors/KvLinkError.js";
import type { ModelSpec } from "../model/ModelSpec.js";

/** The ModelProto doc_string line that records what a graph was built for (read back at load). */
const PREFIX = "kvlink-spec:";

/** The spec fields a graph bakes in (RoPE tables, shapes): config.json must agree with them. */
function stampedFields(spec: ModelSpec): Record<string, unknown> {
  return {
    architecture: spec.architecture,
    vocabSize: spec.vocabSize,
    hiddenSize: spec.hiddenSize,
    intermediateSize: spec.intermediateSize,
    numLayers: spec.numLayers,
    numHeads: spec.numHeads,
    numKvHeads: spec.numKvHeads,
    headDim: spec.headDim,
    rmsNormEps: spec.rmsNormEps,
    rope: spec.rope,
    tieWordEmbeddings: spec.tieWordEmbeddings,
    numExtraEmbeddings: spec.numExtraEmbeddings ?? 0,
  };
}

/** The doc_string line for a graph built from `spec`. */
export function graphSpecStamp(spec: ModelSpec): string {
  return `${PREFIX}${JSON.stringify(stampedFields(spec))}`;
}

/**
 * Reads a model.onnx's doc_string (ModelProto field 6, which comes before the graph) from the file's first bytes
 * and, when it carries a kvlink-spec line, checks `spec` (from config.json) against it. A folder whose config.json
 * disagrees with its graph (another rope_theta re-rotates wrongly; another hidden size or vocabulary fails at the
 * first forward) → ModelFormatError naming the field. Graphs without a stamp (older converters) are not checked.
 */
export async function checkGraphSpecStamp(modelPath: string, spec: ModelSpec): Promise<void> {
  const docString = await readModelDocString(modelPath);
  const line = docString?.split("\n").find((l) => l.startsWith(PREFIX));
  if (line === undefined) return;
  let stamped: Record<string, unknown>;
  try {
    stamped = JSON.parse(line.slice(PREFIX.length)) as Record<string, unknown>;
  } catch (cause) {
    throw new ModelFormatError(`${modelPath}: unreadable kvlink-spec in the graph's doc_string`, { cause, details: { modelPath } });
  }
  const expected = stampedFields(spec);
  for (const [field, value] of Object.entries(expected)) {
    if (JSON.stringify(stamped[field]) !== JSON.stringify(value)) {
      throw new ModelFormatError(
        `${modelPath} was built for ${field} = ${JSON.stringify(stamped[field])}, but config.json says ${JSON.stringify(value)}; reconvert the model or restore its config.json`,
        { details: { modelPath, field, graph: stamped[field], config: value } },
      );
    }
  }
}

/** ModelProto.doc_string from the head of an .onnx file, or undefined (none before the graph). */
async function readModelDocString(path: string): Promise<string | undefined> {
  const file = await open(path, "r");
  try {
    const head = Buffer.alloc(64 * 1024);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    let p = 0;
    const varint = (): number => {
      let result = 0;
      let shift = 0;
      for (;;) {
        if (p >= bytesRead || shift > 49) return -1;
        const b = head[p++]!;
        result += (b & 0x7f) * 2 ** shift;
        if ((b & 0x80) === 0) return result;
        shift += 7;
      }
    };
    while (p < bytesRead) {
      const tag = varint();
      if (tag < 0) return undefined;
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (field === 7) return undefined; // the graph: doc_string would have come before it
      if (wire === 0) varint();
      else if (wire === 1) p += 8;
      else if (wire === 5) p += 4;
      else if (wire === 2) {
        const length = varint();
        if (length < 0 || p + length > bytesRead) return undefined;
        if (field === 6) return head.subarray(p, p + length).toString("utf8");
        p += length;
      } else return undefined;
    }
    return undefined;
  } finally {
    await file.close();
  }
}
