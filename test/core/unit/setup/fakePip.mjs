// A stand-in for `pip` in installCudaProvider tests: records its arguments in $FAKE_PIP_LOG and "downloads"
// $FAKE_PIP_WHEEL into the -d folder.
import { appendFileSync, copyFileSync } from "node:fs";
import { basename, join } from "node:path";
const args = process.argv.slice(2);
appendFileSync(process.env.FAKE_PIP_LOG, `${JSON.stringify(args)}\n`);
const dest = args[args.indexOf("-d") + 1];
copyFileSync(process.env.FAKE_PIP_WHEEL, join(dest, basename(process.env.FAKE_PIP_WHEEL)));
