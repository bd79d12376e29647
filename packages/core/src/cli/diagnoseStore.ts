import { connect, type Socket } from "node:net";

/** A permanent store fault, named: retrying will not fix it, the configuration (or the file) must change. */
export interface StoreDiagnosis {
  readonly kind: "connection" | "auth" | "db" | "corrupt" | "notADatabase" | "permission";
  /** What is wrong and what to do, one sentence. */
  readonly message: string;
}

const SQLITE_CODES: Readonly<Record<string, Pick<StoreDiagnosis, "kind"> & { what: string }>> = {
  SQLITE_CORRUPT: { kind: "corrupt", what: "the sqlite file is corrupt (database disk image is malformed): restore it from a backup or delete it" },
  SQLITE_NOTADB: { kind: "notADatabase", what: "the file is not a sqlite database: point --store at another path or delete it" },
  SQLITE_READONLY: { kind: "permission", what: "the sqlite file is read-only for this process" },
  SQLITE_PERM: { kind: "permission", what: "this process may not open the sqlite file" },
  SQLITE_CANTOPEN: { kind: "permission", what: "the sqlite file cannot be opened (missing folder or no permission)" },
};

/**
 * Why a store failed, when the cause is permanent (for `kvlink cache …`, where a misconfiguration must not look like
 * an outage). sqlite: the error's own code (SQLITE_CORRUPT, SQLITE_NOTADB, ...). Redis: the client only says "offline"
 * while it retries, so a probe of its own asks the server directly: connection refused or unknown host, a password the
 * server refuses or demands, a db index out of range. Undefined when nothing permanent is found (a transient outage).
 */
export async function diagnoseStore(url: string, error: unknown, options: { timeoutMs?: number } = {}): Promise<StoreDiagnosis | undefined> {
  const code = sqliteCode(error);
  if (code !== undefined) {
    const known = SQLITE_CODES[code];
    return known === undefined ? undefined : { kind: known.kind, message: `${known.what} (${code})` };
  }
  if (url.startsWith("redis://")) return probeRedis(url, options.timeoutMs ?? 3000);
  return undefined;
}

function sqliteCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code;
    const match = /\b(SQLITE_[A-Z]+)\b/.exec(e.message);
    if (match !== null) return match[1];
  }
  return undefined;
}

/** Asks a Redis server, over a plain socket (RESP), whether these credentials and this db work. */
async function probeRedis(url: string, timeoutMs: number): Promise<StoreDiagnosis | undefined> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
  const port = parsed.port === "" ? 6379 : Number(parsed.port);
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  const db = parsed.pathname.length > 1 ? parsed.pathname.slice(1) : "0";
  const where = `${host}:${port}`;
  let socket: Socket;
  try {
    socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host, port, timeout: timeoutMs });
      s.once("connect", () => resolve(s));
      s.once("timeout", () => {
        s.destroy();
        reject(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" }));
      });
      s.once("error", reject);
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ECONNREFUSED") return { kind: "connection", message: `nothing listens on ${where} (ECONNREFUSED): a wrong host or port, or the server is not running` };
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return { kind: "connection", message: `the host ${host} is not known (${code})` };
    return undefined; // a timeout or a reset: may be transient
  }
  try {
    const ask = (args: readonly string[]): Promise<string> => sendCommand(socket, args, timeoutMs);
    if (password !== "") {
      const reply = await ask(user !== "" ? ["AUTH", user, password] : ["AUTH", password]);
      if (reply.startsWith("-")) return { kind: "auth", message: `the server at ${where} refuses the password in the URL (${reply.slice(1)})` };
    }
    if (db !== "0") {
      const reply = await ask(["SELECT", db]);
      if (reply.startsWith("-NOAUTH")) return { kind: "auth", message: `the server at ${where} needs a password and the URL gives none (${reply.slice(1)})` };
      if (reply.startsWith("-")) return { kind: "db", message: `the server at ${where} has no db ${db} (${reply.slice(1)})` };
    }
    const pong = await ask(["PING"]);
    if (pong.startsWith("-NOAUTH")) return { kind: "auth", message: `the server at ${where} needs a password and the URL gives none (${pong.slice(1)})` };
    if (pong.startsWith("-WRONGPASS") || pong.startsWith("-NOPERM")) return { kind: "auth", message: `the server at ${where} refuses these credentials (${pong.slice(1)})` };
    return undefined; // it answers: the failure was not a configuration problem
  } catch {
    return undefined;
  } finally {
    socket.destroy();
  }
}

/** One RESP command and its first reply line ("+OK", "-ERR ...", ...). */
function sendCommand(socket: Socket, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => done(new Error("no reply")), timeoutMs);
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString("utf8");
      const end = buffer.indexOf("\r\n");
      if (end >= 0) done(undefined, buffer.slice(0, end));
    };
    const onError = (error: Error): void => done(error);
    const done = (error: Error | undefined, line?: string): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      if (error !== undefined) reject(error);
      else resolve(line!);
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
  });
}
