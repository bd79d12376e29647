import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { DownloadError } from "../errors/KvLinkError.js";

/** A way to run pip: an executable and the arguments that come before pip's own. */
export interface PipCommand {
  readonly command: string;
  readonly args: readonly string[];
}

/** Tried in order: `python3 -m pip`, `pip`, `pip3`. */
export const DEFAULT_PIP_COMMANDS: readonly PipCommand[] = [
  { command: "python3", args: ["-m", "pip"] },
  { command: "pip", args: [] },
  { command: "pip3", args: [] },
];

export interface DownloadWithPipOptions {
  readonly pipCommands?: readonly PipCommand[];
  readonly signal?: AbortSignal;
  /** Appended to the DownloadError message (e.g. how to pass the file by path instead). */
  readonly hint?: string;
  /** More `pip download` arguments, e.g. --platform/--python-version to pick one wheel whatever the local Python. */
  readonly extraArgs?: readonly string[];
}

/**
 * Runs `pip download --no-deps --only-binary=:all: <requirement> -d <destDir>` with the first pip that
 * works and returns the path of `wheelFileName` in destDir. No pip, or every attempt failing, throws
 * DownloadError with each attempt's reason.
 */
export async function downloadWithPip(requirement: string, wheelFileName: string, destDir: string, options: DownloadWithPipOptions = {}): Promise<string> {
  const attempts: string[] = [];
  for (const pip of options.pipCommands ?? DEFAULT_PIP_COMMANDS) {
    options.signal?.throwIfAborted();
    const args = [...pip.args, "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "--no-input", ...(options.extraArgs ?? []), requirement, "-d", destDir];
    const result = await run(pip.command, args, options.signal);
    const shown = `${pip.command} ${pip.args.join(" ")}`.trim();
    if (result.kind === "missing") {
      attempts.push(`${shown}: not found`);
      continue;
    }
    if (result.code !== 0) {
      attempts.push(`${shown}: exit code ${result.code}: ${lastLines(result.stderr)}`);
      continue;
    }
    const files = await readdir(destDir);
    if (files.includes(wheelFileName)) return join(destDir, wheelFileName);
    attempts.push(`${shown}: finished but ${wheelFileName} is not in ${destDir} (got ${files.join(", ") || "nothing"})`);
  }
  throw new DownloadError(
    `could not download ${requirement} with pip. ${attempts.join("; ")}.${options.hint ? ` ${options.hint}` : ""}`,
    { details: { requirement, attempts } },
  );
}

type RunResult = { kind: "missing" } | { kind: "ran"; code: number; stderr: string };

function run(command: string, args: string[], signal?: AbortSignal): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"], ...(signal && { signal }) });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-8000);
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") resolve({ kind: "missing" });
      else if (signal?.aborted) reject(signal.reason);
      else resolve({ kind: "ran", code: -1, stderr: error.message });
    });
    child.on("close", (code) => {
      if (signal?.aborted) reject(signal.reason);
      else resolve({ kind: "ran", code: code ?? -1, stderr });
    });
  });
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-3).join(" | ") || "(no output)";
}
