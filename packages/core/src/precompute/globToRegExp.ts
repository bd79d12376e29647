import { InvalidInputError } from "../errors/KvLinkError.js";

/** Characters that make a path argument a glob pattern. */
export const GLOB_CHARS = /[*?[{]/;

/**
 * A RegExp matching whole `/`-separated relative paths against a glob: `*` (any run inside one segment), `?` (one
 * character), `**` as a whole segment (zero or more segments), `[abc]`, `[a-z]`, `[!abc]`/`[^abc]`, and `{a,b}`
 * (alternatives, which may hold the other forms but not another `{}`). `*` and `?` never match a leading `.` of a
 * segment, as in shells. InvalidInputError for an unclosed `[` or `{`.
 */
export function globToRegExp(pattern: string): RegExp {
  const segments = pattern.split("/");
  let source = "";
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === "**") {
      // Zero or more whole segments, none hidden.
      source += last ? "(?:(?!\\.)[^/]*(?:/(?!\\.)[^/]*)*)?" : "(?:(?!\\.)[^/]*/)*";
      continue;
    }
    source += segmentSource(segment, pattern) + (last ? "" : "/");
  }
  return new RegExp(`^${source}$`, "u");
}

function segmentSource(segment: string, pattern: string): string {
  let out = segment.startsWith(".") ? "" : "(?!\\.)";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === "*") {
      out += "[^/]*";
    } else if (c === "?") {
      out += "[^/]";
    } else if (c === "[") {
      const end = segment.indexOf("]", i + 2);
      if (end === -1) throw new InvalidInputError(`glob ${JSON.stringify(pattern)}: unclosed "[" at segment ${JSON.stringify(segment)}`);
      let body = segment.slice(i + 1, end);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      out += `[${negate ? "^/" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else if (c === "{") {
      const end = segment.indexOf("}", i);
      if (end === -1) throw new InvalidInputError(`glob ${JSON.stringify(pattern)}: unclosed "{" at segment ${JSON.stringify(segment)}`);
      const alternatives = segment.slice(i + 1, end).split(",");
      out += `(?:${alternatives.map((a) => segmentSource(a, pattern).replace(/^\(\?!\\\.\)/, "")).join("|")})`;
      i = end;
    } else {
      out += c.replace(/[.+^${}()|\\]/g, "\\$&");
    }
  }
  return out;
}
