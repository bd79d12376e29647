import { DownloadError } from "../errors/KvLinkError.js";

/** One file of a PyPI release, as the JSON API lists it. */
export interface PypiFile {
  readonly filename: string;
  readonly sha256: string;
  readonly sizeBytes: number;
}

/** GETs a URL and parses JSON; rejects on network errors and non-2xx answers. */
export type FetchJson = (url: string, signal?: AbortSignal) => Promise<unknown>;

export const fetchJsonWithFetch: FetchJson = async (url, signal) => {
  const response = await fetch(url, { headers: { accept: "application/json" }, ...(signal ? { signal } : {}) });
  if (!response.ok) throw new DownloadError(`GET ${url}: HTTP ${response.status}`, { details: { url, status: response.status } });
  return response.json();
};

export interface PypiFilesOptions {
  readonly fetchJson?: FetchJson;
  /** Default https://pypi.org/pypi. */
  readonly registryUrl?: string;
  readonly signal?: AbortSignal;
}

/**
 * The files (name, sha256, size) of `name==version` from PyPI's JSON API: the release URL first, then the
 * project URL's `releases[version]` (some mirrors serve only the latter). Unreachable, or the version absent,
 * throws DownloadError with both attempts.
 */
export async function loadPypiFiles(name: string, version: string, options: PypiFilesOptions = {}): Promise<PypiFile[]> {
  const fetchJson = options.fetchJson ?? fetchJsonWithFetch;
  const base = (options.registryUrl ?? "https://pypi.org/pypi").replace(/\/+$/, "");
  const attempts: string[] = [];
  for (const [url, pick] of [
    [`${base}/${name}/${version}/json`, (j: unknown) => field(j, "urls")],
    [`${base}/${name}/json`, (j: unknown) => field(field(j, "releases"), version)],
  ] as const) {
    try {
      const files = pick(await fetchJson(url, options.signal));
      if (Array.isArray(files)) return files.flatMap(toPypiFile);
      attempts.push(`${url}: no file list for ${version}`);
    } catch (error) {
      options.signal?.throwIfAborted();
      attempts.push(`${url}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new DownloadError(`cannot read the file list of ${name}==${version} from the registry: ${attempts.join("; ")}`, {
    details: { name, version, attempts },
  });
}

/**
 * The Linux x86-64 wheel to install: CPython 3.12 (the provider libraries are the same in every CPython build
 * of one release), else any other cp3xx, else py3-none; never free-threaded (`cp3xxt`). undefined if none.
 */
export function pickLinuxX64Wheel(files: readonly PypiFile[]): PypiFile | undefined {
  const linux = files.filter((f) => /-manylinux[\w.]*x86_64\.whl$/.test(f.filename) && !/-cp3\d+t-/.test(f.filename));
  return linux.find((f) => /-cp312-cp312-/.test(f.filename)) ?? linux.find((f) => /-cp3\d+-cp3\d+-/.test(f.filename)) ?? linux.find((f) => /-py3-none-/.test(f.filename));
}

/** The pip arguments that select exactly this wheel whatever the local Python and platform. */
export function pipArgsForWheel(filename: string): string[] {
  const m = /-(?:cp3(\d+)|py3)-(cp3\d+|none)-([\w.]+)\.whl$/.exec(filename);
  if (!m) return [];
  const [, minor, abi, platform] = m;
  const platformArgs = platform!.split(".").flatMap((p) => ["--platform", p]);
  return minor === undefined
    ? [...platformArgs, "--python-version", "3"]
    : [...platformArgs, "--python-version", `3.${minor}`, "--implementation", "cp", "--abi", abi!];
}

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function toPypiFile(entry: unknown): PypiFile[] {
  const filename = field(entry, "filename");
  const sha256 = field(field(entry, "digests"), "sha256");
  const size = field(entry, "size");
  if (typeof filename !== "string" || typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) return [];
  return [{ filename, sha256, sizeBytes: typeof size === "number" ? size : -1 }];
}
