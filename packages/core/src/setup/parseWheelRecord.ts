/** One line of a wheel's RECORD: the file's sha256 (hex) and size as the wheel's builder wrote them. */
export interface WheelRecordEntry {
  readonly sha256: string;
  readonly sizeBytes: number;
}

/**
 * Parses a wheel's `*.dist-info/RECORD` (CSV `path,sha256=<urlsafe base64, unpadded>,size`) into
 * path → {sha256 hex, size}. Lines without a sha256 (RECORD itself, signatures) are left out.
 */
export function parseWheelRecord(text: string): Map<string, WheelRecordEntry> {
  const entries = new Map<string, WheelRecordEntry>();
  for (const line of text.split(/\r?\n/)) {
    // Paths with commas are quoted; the hash and size never contain one.
    const m = /^(?:"((?:[^"]|"")*)"|([^,]*)),sha256=([A-Za-z0-9_-]+),(\d+)\s*$/.exec(line);
    if (!m) continue;
    const path = m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2]!;
    const sha256 = Buffer.from(m[3]!, "base64url").toString("hex");
    if (sha256.length !== 64) continue;
    entries.set(path, { sha256, sizeBytes: Number(m[4]) });
  }
  return entries;
}
