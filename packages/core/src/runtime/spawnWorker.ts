import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

/** The entry module `name` next to the module at `moduleUrl`: `.ts` when running from source under tsx, `.js` in dist. */
export function siblingModuleUrl(name: string, moduleUrl: string): URL {
  const extension = moduleUrl.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./${name}${extension}`, moduleUrl);
}

/**
 * The ESM build of `tsx/esm/api`, resolved from this module. import.meta.resolve is absent when tsx runs this
 * file as CommonJS (under mocha), and the CommonJS build of the api cannot register hooks in a worker.
 */
function resolveTsxEsmApi(): string {
  if (typeof import.meta.resolve === "function") return import.meta.resolve("tsx/esm/api");
  const require = createRequire(import.meta.url);
  const packageJsonPath = require.resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(packageJsonPath, "utf8")) as { exports?: Record<string, { import?: { default?: string } }> };
  const entry = pkg.exports?.["./esm/api"]?.import?.default ?? "./dist/esm/api/index.mjs";
  return pathToFileURL(join(dirname(packageJsonPath), entry)).href;
}

/**
 * Starts a worker thread on `url` with `workerData`. Node 20 does not apply tsx's loader to a `.ts` worker entry
 * even with `execArgv` (ERR_UNKNOWN_FILE_EXTENSION), so a `.ts` entry is started by a tiny bootstrap that
 * registers tsx first.
 */
export function spawnWorker(url: URL, workerData: unknown): Worker {
  const options = { workerData, execArgv: workerExecArgv(process.execArgv) };
  if (!url.pathname.endsWith(".ts")) return new Worker(url, options);
  const tsxApi = resolveTsxEsmApi();
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/**
 * The host's Node options a worker thread can take. Workers refuse V8 and per-process options
 * (`--max-old-space-size`, `--expose-gc`, `--stack-size`, `--title`, … → ERR_WORKER_INVALID_EXEC_ARGV), so only
 * module-loading options pass (what tsx and test runners set: --import, --require, --loader, --conditions, …).
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const withValue = new Set(["--import", "--require", "-r", "--loader", "--experimental-loader", "--conditions", "-C"]);
  const flags = new Set(["--enable-source-maps", "--no-warnings", "--experimental-specifier-resolution=node"]);
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const name = arg.split("=")[0]!;
    if (withValue.has(name)) {
      out.push(arg);
      if (!arg.includes("=") && i + 1 < execArgv.length) out.push(execArgv[++i]!);
    } else if (flags.has(arg) || name.startsWith("--experimental-")) {
      out.push(arg);
    }
  }
  return out;
}
