import { InvalidInputError } from "../../errors/KvLinkError.js";

/**
 * A JSON schema compiled into the value grammar the byte automaton walks (ByteAutomaton.ts). Nodes are numbered:
 * the automaton's states name nodes by id, so a recursive `$ref` is a cycle in this graph, not an unbounded tree.
 */
export type GrammarNode =
  | { readonly id: number; readonly kind: "object"; readonly properties: readonly PropertyRule[]; readonly keys: KeyTrie }
  /** An object with free keys (a schema without `properties`): string keys, values of `values`. */
  | { readonly id: number; readonly kind: "freeObject"; readonly values: GrammarNode }
  | { readonly id: number; readonly kind: "array"; readonly items: GrammarNode; readonly minItems: number; readonly maxItems: number }
  | { readonly id: number; readonly kind: "string"; readonly minLength: number; readonly maxLength: number }
  | { readonly id: number; readonly kind: "number"; readonly integer: boolean }
  /** Exact JSON texts (enum, const, true/false, null), matched byte by byte. */
  | { readonly id: number; readonly kind: "literal"; readonly trie: KeyTrie }
  | { readonly id: number; readonly kind: "anyOf"; readonly options: readonly GrammarNode[] }
  /** Any JSON value, nested at most `depth` more levels (then scalars only). */
  | { readonly id: number; readonly kind: "any"; readonly depth: number };

export interface PropertyRule {
  readonly name: string;
  readonly required: boolean;
  /** Set once the whole graph is compiled (a property may refer to a node still being built). */
  value: GrammarNode;
}

/**
 * A byte trie over a set of exact texts (JSON-encoded object keys with their quotes, or literal values). Node 0 is
 * the root; `terminal[n]` is the index of the text ending at node n, or -1; `below[n]` lists the indices of the texts
 * through node n, so an object can tell whether a key prefix still leads to a key it may write.
 */
export interface KeyTrie {
  readonly children: readonly ReadonlyMap<number, number>[];
  readonly terminal: readonly number[];
  readonly below: readonly (readonly number[])[];
}

export interface CompileOptions {
  /** Levels of nesting inside `{}` / json_object values (any JSON). Default 6. */
  readonly maxAnyDepth?: number;
  /** Most digits before the decimal point, after it, and in the exponent (so a number cannot run on). Default 16. */
  readonly maxNumberDigits?: number;
}

/** Keywords that describe values; any other keyword (`pattern`, `format`, `minimum`, ...) is not enforced (README). */
const TYPES = ["object", "array", "string", "number", "integer", "boolean", "null"] as const;
type JsonType = (typeof TYPES)[number];

const MAX_ITEMS = 0x7fffffff;
const utf8 = new TextEncoder();

export function buildKeyTrie(texts: readonly string[]): KeyTrie {
  const children: Map<number, number>[] = [new Map()];
  const terminal: number[] = [-1];
  const below: number[][] = [[]];
  texts.forEach((text, index) => {
    let node = 0;
    below[0]!.push(index);
    for (const byte of utf8.encode(text)) {
      let next = children[node]!.get(byte);
      if (next === undefined) {
        next = children.length;
        children.push(new Map());
        terminal.push(-1);
        below.push([]);
        children[node]!.set(byte, next);
      }
      node = next;
      below[node]!.push(index);
    }
    if (terminal[node] === -1) terminal[node] = index;
  });
  return { children, terminal, below };
}

/**
 * Compiles a JSON schema (draft 2020-12 / OpenAPI subset: type, properties, required, additionalProperties, items,
 * min/maxItems, min/maxLength, enum, const, anyOf, oneOf, a one-element allOf, nullable, local $ref) into a grammar.
 * Properties are written in the schema's order, optional ones may be left out, and only declared properties appear.
 * Throws InvalidInputError naming the keyword and its path for what it cannot enforce soundly.
 */
export function compileJsonSchema(schema: unknown, options: CompileOptions = {}): GrammarNode {
  const compiler = new Compiler(schema, options.maxAnyDepth ?? 6);
  return compiler.compile(schema, "#");
}

class Compiler {
  readonly #root: unknown;
  readonly #maxAnyDepth: number;
  readonly #refToNode = new Map<string, GrammarNode>();
  #nextId = 0;

  constructor(root: unknown, maxAnyDepth: number) {
    this.#root = root;
    this.#maxAnyDepth = maxAnyDepth;
  }

  compile(schema: unknown, path: string): GrammarNode {
    if (schema === true || (isRecord(schema) && Object.keys(schema).every((k) => IGNORED_KEYWORDS.has(k)))) return this.#any(this.#maxAnyDepth);
    if (schema === false) throw fail(path, "false", "a `false` schema admits no value");
    if (!isRecord(schema)) throw fail(path, "schema", `a schema must be an object or a boolean, got ${describe(schema)}`);

    if (typeof schema["$ref"] === "string") return this.#ref(schema["$ref"], path);
    if (schema["allOf"] !== undefined) {
      const all = schema["allOf"];
      if (!Array.isArray(all) || all.length !== 1) throw fail(path, "allOf", "only a one-element allOf is supported");
      return this.compile({ ...omit(schema, "allOf"), ...(all[0] as object) }, `${path}/allOf/0`);
    }
    if ("const" in schema) return this.#literal([schema["const"]], `${path}/const`);
    if (schema["enum"] !== undefined) {
      const values = schema["enum"];
      if (!Array.isArray(values) || values.length === 0) throw fail(path, "enum", "enum must be a non-empty array");
      return this.#literal(values, `${path}/enum`);
    }
    for (const key of ["anyOf", "oneOf"] as const) {
      if (schema[key] === undefined) continue;
      const options = schema[key];
      if (!Array.isArray(options) || options.length === 0) throw fail(path, key, `${key} must be a non-empty array`);
      const rest = omit(schema, key);
      const hasRest = Object.keys(rest).some((k) => !IGNORED_KEYWORDS.has(k));
      return this.#anyOf(options.map((option, i) => this.compile(hasRest ? { ...rest, ...(option as object) } : option, `${path}/${key}/${i}`)));
    }

    let types: JsonType[];
    const type = schema["type"];
    if (type === undefined) {
      if (schema["properties"] !== undefined || schema["required"] !== undefined) types = ["object"];
      else if (schema["items"] !== undefined) types = ["array"];
      else return this.#any(this.#maxAnyDepth);
    } else {
      const list = Array.isArray(type) ? type : [type];
      for (const t of list) if (!TYPES.includes(t as JsonType)) throw fail(path, "type", `unknown type ${JSON.stringify(t)}`);
      types = list as JsonType[];
    }
    if (schema["nullable"] === true && !types.includes("null")) types = [...types, "null"];
    if (types.length === 0) throw fail(path, "type", "an empty type list admits no value");
    const nodes = types.map((t) => this.#typed(t, schema, path));
    return nodes.length === 1 ? nodes[0]! : this.#anyOf(nodes);
  }

  #typed(type: JsonType, schema: Record<string, unknown>, path: string): GrammarNode {
    switch (type) {
      case "string": {
        const minLength = count(schema["minLength"], 0, `${path}/minLength`);
        const maxLength = count(schema["maxLength"], MAX_ITEMS, `${path}/maxLength`);
        if (minLength > maxLength) throw fail(path, "minLength", `minLength ${minLength} exceeds maxLength ${maxLength}`);
        return { id: this.#nextId++, kind: "string", minLength, maxLength };
      }
      case "number":
      case "integer":
        return { id: this.#nextId++, kind: "number", integer: type === "integer" };
      case "boolean":
        return this.#literal([true, false], path);
      case "null":
        return this.#literal([null], path);
      case "array": {
        const minItems = count(schema["minItems"], 0, `${path}/minItems`);
        const maxItems = count(schema["maxItems"], MAX_ITEMS, `${path}/maxItems`);
        if (minItems > maxItems) throw fail(path, "minItems", `minItems ${minItems} exceeds maxItems ${maxItems}`);
        if (schema["prefixItems"] !== undefined) throw fail(path, "prefixItems", "tuples (prefixItems) are not supported");
        const items = schema["items"] === undefined ? this.#any(this.#maxAnyDepth - 1) : this.compile(schema["items"], `${path}/items`);
        return { id: this.#nextId++, kind: "array", items, minItems, maxItems };
      }
      case "object": {
        const props = schema["properties"];
        if (props === undefined) {
          const additional = schema["additionalProperties"];
          if (schema["required"] !== undefined && Array.isArray(schema["required"]) && schema["required"].length > 0) {
            throw fail(path, "required", "required properties without `properties` are not supported");
          }
          if (additional === false) return this.#literal([{}], path);
          const values = additional === undefined || additional === true ? this.#any(this.#maxAnyDepth - 1) : this.compile(additional, `${path}/additionalProperties`);
          return { id: this.#nextId++, kind: "freeObject", values };
        }
        if (!isRecord(props)) throw fail(path, "properties", "properties must be an object");
        const required = schema["required"] ?? [];
        if (!Array.isArray(required) || required.some((r) => typeof r !== "string")) throw fail(path, "required", "required must be an array of strings");
        for (const name of required as string[]) {
          if (!(name in props)) throw fail(path, "required", `required property ${JSON.stringify(name)} is not among the properties`);
        }
        const names = Object.keys(props);
        const node = {
          id: this.#nextId++,
          kind: "object" as const,
          properties: [] as PropertyRule[],
          keys: buildKeyTrie(names.map((n) => JSON.stringify(n))),
        };
        for (const name of names) {
          node.properties.push({ name, required: (required as string[]).includes(name), value: this.compile(props[name], `${path}/properties/${escapePointer(name)}`) });
        }
        return node;
      }
    }
  }

  #literal(values: readonly unknown[], path: string): GrammarNode {
    const texts = values.map((v, i) => {
      const text = JSON.stringify(v);
      if (text === undefined) throw fail(`${path}/${i}`, "enum", `${describe(v)} is not a JSON value`);
      return text;
    });
    return { id: this.#nextId++, kind: "literal", trie: buildKeyTrie([...new Set(texts)]) };
  }

  #anyOf(options: readonly GrammarNode[]): GrammarNode {
    return options.length === 1 ? options[0]! : { id: this.#nextId++, kind: "anyOf", options };
  }

  #any(depth: number): GrammarNode {
    return { id: this.#nextId++, kind: "any", depth: Math.max(0, depth) };
  }

  #ref(ref: string, path: string): GrammarNode {
    const known = this.#refToNode.get(ref);
    if (known !== undefined) return known;
    if (!ref.startsWith("#")) throw fail(path, "$ref", `only local references (#/...) are supported, got ${JSON.stringify(ref)}`);
    let target: unknown = this.#root;
    for (const raw of ref.slice(1).split("/").filter((p) => p.length > 0)) {
      const part = raw.replaceAll("~1", "/").replaceAll("~0", "~");
      if (!isRecord(target) && !Array.isArray(target)) throw fail(path, "$ref", `${ref} does not resolve`);
      target = (target as Record<string, unknown>)[part];
    }
    if (target === undefined) throw fail(path, "$ref", `${ref} does not resolve`);
    // A placeholder first, so a recursive reference points back at the node being compiled.
    const placeholder: { id: number; kind: "anyOf"; options: GrammarNode[] } = { id: this.#nextId++, kind: "anyOf", options: [] };
    this.#refToNode.set(ref, placeholder);
    placeholder.options.push(this.compile(target, ref));
    return placeholder;
  }
}

/** Annotations that say nothing about which values are valid. */
const IGNORED_KEYWORDS = new Set(["$schema", "$id", "$comment", "title", "description", "default", "examples", "$defs", "definitions", "deprecated", "readOnly", "writeOnly"]);

function count(value: unknown, fallback: number, path: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw fail(path, path.split("/").at(-1)!, `must be a non-negative integer, got ${describe(value)}`);
  return Math.min(value, MAX_ITEMS);
}

function fail(path: string, keyword: string, message: string): InvalidInputError {
  return new InvalidInputError(`JSON schema at ${path}: ${message}`, { details: { path, keyword } });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function omit(record: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _dropped, ...rest } = record;
  return rest;
}

function escapePointer(name: string): string {
  return name.replaceAll("~", "~0").replaceAll("/", "~1");
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "string" ? JSON.stringify(value) : typeof value;
}
