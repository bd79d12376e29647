import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const SCRIPT = new URL("../../scripts/redis-test-server.sh", import.meta.url).pathname;

let availability: Promise<string | undefined> | undefined;

/**
 * Undefined when redis-server can run here, else the reason it cannot. Installs it through
 * scripts/redis-test-server.sh --install (apt-get) when missing; the result is remembered for the process.
 */
export function redisServerUnavailableReason(): Promise<string | undefined> {
  availability ??= (async () => {
    try {
      await execFileAsync("redis-server", ["--version"]);
      return undefined;
    } catch {
      try {
        await execFileAsync("bash", [SCRIPT, "--install"], { timeout: 300_000 });
        await execFileAsync("redis-server", ["--version"]);
        return undefined;
      } catch (error) {
        return `redis-server is not installed and could not be installed (${(error as Error).message.split("\n")[0]})`;
      }
    }
  })();
  return availability;
}

/** In a `before` hook: skips the suite (with a warning saying why) when redis-server cannot run here. */
export async function skipWithoutRedis(context: Mocha.Context, suite: string): Promise<void> {
  const reason = await redisServerUnavailableReason();
  if (reason === undefined) return;
  console.warn(`skipping ${suite}: ${reason}`);
  context.skip();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

async function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

/**
 * A private redis-server child process for tests: 127.0.0.1 only, no persistence, a free port kept across
 * stop()/restart() so clients reconnect to the same URL. Call stop() in an `after` hook.
 */
export class RedisTestServer {
  readonly port: number;
  readonly url: string;
  readonly #dir: string;
  readonly #appendOnly: boolean;
  #child: ChildProcess | undefined;

  private constructor(port: number, appendOnly: boolean) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.#dir = mkdtempSync(join(tmpdir(), "kvlink-redis-"));
    this.#appendOnly = appendOnly;
  }

  /** `appendOnly`: keep data across restart() in an fsync-always AOF in the server's directory (as a real deployment would). */
  static async start(options: { readonly appendOnly?: boolean } = {}): Promise<RedisTestServer> {
    const server = new RedisTestServer(await freePort(), options.appendOnly === true);
    await server.#launch();
    return server;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  async #launch(): Promise<void> {
    const child = spawn(
      "redis-server",
      [
        "--bind", "127.0.0.1", "--port", String(this.port), "--save", "", "--protected-mode", "yes", "--dir", this.#dir,
        ...(this.#appendOnly ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]),
      ],
      { stdio: "ignore" },
    );
    this.#child = child;
    let exited = false;
    child.once("exit", () => {
      exited = true;
      if (this.#child === child) this.#child = undefined;
    });
    for (let i = 0; i < 100; i++) {
      if (exited) throw new Error(`redis-server exited at start on port ${this.port}`);
      if (await answersPing(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not answer on 127.0.0.1:${this.port}`);
  }

  /** Stops the server (SIGTERM, then waits for it to exit). Safe to call twice. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    await exited;
    this.#child = undefined;
  }

  /** Starts it again on the same port (empty, unless started with appendOnly). */
  async restart(): Promise<void> {
    await this.stop();
    await this.#launch();
  }

  /** Stops the server and removes its working directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/**
 * A started RedisTestServer for a mocha `before` hook, or the suite skipped with the reason on stderr when
 * redis-server is not installed (under CI=true the reporter counts a skip as a failure).
 */
export async function startRedisOrSkip(context: Mocha.Context, what: string): Promise<RedisTestServer> {
  const reason = await redisServerUnavailableReason();
  if (reason !== undefined) {
    console.warn(`skipping ${what}: ${reason}`);
    context.skip();
  }
  return RedisTestServer.start();
}
