import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const mainTs = join(repoRoot, "packages/core/src/cli/main.ts");

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI from source (`node --import tsx packages/core/src/cli/main.ts ...`) in a fresh process, with `input`
 * piped to stdin (stdin is closed either way), and resolves with its exit code and output.
 */
export function runKvlink(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", mainTs, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

/** The single JSON object a --json run printed (asserts there is exactly one line). */
export function parseJsonLine(run: CliRun): Record<string, unknown> {
  const lines = run.stdout.trim().split("\n");
  if (lines.length !== 1) throw new Error(`expected one line of JSON on stdout, got ${lines.length}:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

/** A temp folder with a tiny random-weight model (`kvlink tiny-model`) in `<root>/tiny`; remove `root` when done. */
export async function makeTinyModelRoot(prefix: string): Promise<{ root: string; modelDir: string }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const modelDir = join(root, "tiny");
  const made = await runKvlink(["tiny-model", modelDir, "--vocab", "320", "--seed", "4", "--signature", "kvlink"]);
  if (made.code !== 0) throw new Error(`kvlink tiny-model failed (${made.code}): ${made.stderr}`);
  return { root, modelDir };
}
