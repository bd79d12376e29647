/** `kvlink cache verify` names a permanent store fault instead of reporting an outage (issue 13 B7). */
import assert from "node:assert/strict";
import { open, rm, writeFile } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { startRedisOrSkip, type RedisTestServer } from "../../../support/redisServer.js";
import { makeTinyModelRoot, runKvlink } from "./runKvlink.js";

/** Sends one RESP command to a local redis and resolves with its first reply line. */
function redisCommand(port: number, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write(`*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")}`));
    socket.once("data", (data) => {
      resolve(data.toString("utf8").split("\r\n")[0]!);
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

/** A port nothing listens on (bound, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

describe("kvlink cache verify: permanent store faults are named", function () {
  this.timeout(180_000);
  let root: string;
  let modelDir: string;
  const verify = (store: string) => runKvlink(["cache", "verify", "--model", modelDir, "--store", store]);
  before(async () => {
    ({ root, modelDir } = await makeTinyModelRoot("kvlink-diagnose-"));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("a sqlite file with corrupt pages: CONFIG, naming SQLITE_CORRUPT", async () => {
    const file = join(root, "cache.sqlite");
    const docs = await Promise.all([1, 2, 3].map(async (i) => {
      const path = join(root, `doc${i}.txt`);
      await writeFile(path, Array.from({ length: 150 }, (_, j) => `word${i}-${j}`).join(" "));
      return path;
    }));
    const pre = await runKvlink(["precompute", ...docs, "--model", modelDir, "--store", `sqlite://${file}`]);
    assert.equal(pre.code, 0, pre.stderr);
    assert.equal((await verify(`sqlite://${file}`)).code, 0, "intact before");
    const handle = await open(file, "r+");
    for (const page of [1, 2, 3]) await handle.write(Buffer.alloc(64, 0xa5), 0, 64, page * 4096); // b-tree page headers
    await handle.close();
    const run = await verify(`sqlite://${file}`);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /misconfigured, not unreachable: the sqlite file is corrupt.*SQLITE_CORRUPT.*\(CONFIG\)\n$/);
  });

  describe("on redis", function () {
    let server: RedisTestServer | undefined;
    before(async function () {
      server = await startRedisOrSkip(this, "the redis diagnosis tests");
      assert.equal(await redisCommand(server.port, ["CONFIG", "SET", "requirepass", "sekret-for-test"]), "+OK");
    });
    after(async () => {
      await server?.dispose();
    });

    it("a wrong password, a missing password and a db out of range are CONFIG errors naming the server's reply", async () => {
      const port = server!.port;
      const cases: [string, RegExp][] = [
        [`redis://:wrong@127.0.0.1:${port}`, /refuses the password in the URL \(WRONGPASS/],
        [`redis://127.0.0.1:${port}`, /needs a password and the URL gives none \(NOAUTH/],
        [`redis://:sekret-for-test@127.0.0.1:${port}/99`, /has no db 99 \(ERR DB index is out of range\)/],
      ];
      for (const [url, cause] of cases) {
        const run = await verify(url);
        assert.equal(run.code, 1, url);
        assert.match(run.stderr, cause, url);
        assert.match(run.stderr, /misconfigured, not unreachable: .*\(CONFIG\)\n$/, url);
        assert.ok(!run.stderr.includes("wrong@") && !run.stderr.includes("sekret-for-test"), "the password is never printed");
      }
      const good = await verify(`redis://:sekret-for-test@127.0.0.1:${port}`);
      assert.equal(good.code, 0, good.stderr);
    });

    it("a port nothing listens on is named (ECONNREFUSED), and stays STORE_UNAVAILABLE (it may be a stopped server)", async () => {
      const run = await verify(`redis://127.0.0.1:${await closedPort()}`);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /is unreachable: nothing listens on 127\.0\.0\.1:\d+ \(ECONNREFUSED\).*\(STORE_UNAVAILABLE\)\n$/);
    });
  });
});
