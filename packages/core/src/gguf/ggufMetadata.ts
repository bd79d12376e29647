import { ModelFormatError } from "../errors/KvLinkError.js";
import type { GgufValue } from "./GgufFile.js";

/**
 * Typed access to GGUF metadata: each getter names the file and the key when a value is missing or has
 * the wrong type (ModelFormatError), so converters never handle raw `GgufValue`s.
 */
export class GgufMetadata {
  constructor(readonly entries: ReadonlyMap<string, GgufValue>, readonly path: string) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }

  #fail(key: string, expected: string, actual: unknown): never {
    const shown = actual === undefined ? "missing" : Array.isArray(actual) ? `array[${actual.length}]` : `${typeof actual} ${String(actual).slice(0, 60)}`;
    throw new ModelFormatError(`${this.path}: metadata "${key}" should be ${expected}, got ${shown}`, {
      details: { path: this.path, key, expected },
    });
  }

  optionalNumber(key: string): number | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (typeof v === "number") return v;
    if (typeof v === "bigint") return Number(v);
    return this.#fail(key, "a number", v);
  }
  number(key: string): number {
    return this.optionalNumber(key) ?? this.#fail(key, "a number", undefined);
  }
  optionalString(key: string): string | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    return typeof v === "string" ? v : this.#fail(key, "a string", v);
  }
  string(key: string): string {
    return this.optionalString(key) ?? this.#fail(key, "a string", undefined);
  }
  optionalBoolean(key: string): boolean | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    return typeof v === "boolean" ? v : this.#fail(key, "a boolean", v);
  }
  stringArray(key: string): readonly string[] {
    const v = this.entries.get(key);
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) return this.#fail(key, "an array of strings", v);
    return v as readonly string[];
  }
  optionalNumberArray(key: string): readonly number[] | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === "number")) return this.#fail(key, "an array of numbers", v);
    return v as readonly number[];
  }
}
