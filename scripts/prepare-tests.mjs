// Everything `npm test` needs before mocha starts: the build (the CLI and the worker run from dist/).
import { execFileSync } from "node:child_process";
const run = (cmd, args) => execFileSync(cmd, args, { stdio: "inherit" });
run("npx", ["turbo", "run", "build", "--output-logs=errors-only"]);
