import { InvalidInputError } from "../../errors/KvLinkError.js";
import { buildKeyTrie, type GrammarNode, type KeyTrie } from "./compileJsonSchema.js";

/**
 * A pushdown automaton over UTF-8 bytes that accepts exactly the texts of a program: JSON values of a compiled
 * schema (compileJsonSchema.ts), exact texts (a `<tool_call>` wrapper), and free text that switches to a value
 * after a trigger string. It reads bytes, not characters, so byte-level BPE tokens that hold part of a UTF-8
 * character walk through it unchanged (strings check UTF-8 well-formedness byte by byte).
 *
 * A state is a set of stacks (alternatives of anyOf stay alive together until the bytes tell them apart); stacks and
 * states are interned, so equal states are one object, and each state caches its transitions per byte. That makes a
 * walk of the whole vocabulary from a state mostly array lookups after its first time (TokenMask.ts).
 */
export interface AutomatonOptions {
  /** Most whitespace bytes in a row between JSON tokens (so a model cannot pad forever). Default 1. */
  readonly maxWhitespace?: number;
  /** Most digits before the point, after it; the exponent takes at most 3. Default 16. */
  readonly maxNumberDigits?: number;
}

/** What the automaton runs, from the first frame to the last: a JSON value, exact text, or free text with a trigger. */
export type ProgramStep =
  | { readonly kind: "value"; readonly node: GrammarNode }
  | { readonly kind: "text"; readonly text: string }
  /** Any text; once `trigger` appears, `body` then `close` must follow, then free text again. */
  | { readonly kind: "free"; readonly trigger: string; readonly body: GrammarNode; readonly close: string };

export interface AutomatonState {
  readonly id: number;
  /** Every stack empty: the program is complete and no byte may follow. */
  readonly complete: boolean;
  /** The text so far may end here (the program is complete, or only optional parts remain). */
  readonly canEnd: boolean;
  /** Inside free text, where tokens without text (control tokens) may appear. */
  readonly inFreeText: boolean;
}

type Frame =
  | { readonly t: "value"; readonly key: string; readonly node: GrammarNode }
  | { readonly t: "obj"; readonly key: string; readonly node: ObjectNode; readonly phase: ObjPhase; readonly index: number; readonly ws: number; readonly trieNode: number }
  | { readonly t: "fobj"; readonly key: string; readonly node: FreeObjectNode; readonly phase: ObjPhase; readonly ws: number }
  | { readonly t: "arr"; readonly key: string; readonly node: ArrayNode; readonly phase: ArrPhase; readonly count: number; readonly ws: number }
  | { readonly t: "str"; readonly key: string; readonly node: StringNode; readonly len: number; readonly sub: number; readonly lo: number; readonly hi: number }
  | { readonly t: "num"; readonly key: string; readonly integer: boolean; readonly phase: NumPhase; readonly digits: number }
  | { readonly t: "lit"; readonly key: string; readonly trie: KeyTrie; readonly trieId: number; readonly trieNode: number }
  | { readonly t: "free"; readonly key: string; readonly spec: FreeSpec; readonly matched: number };

type ObjectNode = Extract<GrammarNode, { kind: "object" }>;
type FreeObjectNode = Extract<GrammarNode, { kind: "freeObject" }>;
type ArrayNode = Extract<GrammarNode, { kind: "array" }>;
type StringNode = Extract<GrammarNode, { kind: "string" }>;

const ObjPhase = { Open: 0, Key: 1, Colon: 2, BeforeValue: 3, AfterValue: 4, BeforeKey: 5 } as const;
type ObjPhase = (typeof ObjPhase)[keyof typeof ObjPhase];
const ArrPhase = { Open: 0, BeforeValue: 1, AfterValue: 2 } as const;
type ArrPhase = (typeof ArrPhase)[keyof typeof ArrPhase];
const NumPhase = { Minus: 0, Zero: 1, Int: 2, FracStart: 3, Frac: 4, ExpStart: 5, ExpSign: 6, Exp: 7 } as const;
type NumPhase = (typeof NumPhase)[keyof typeof NumPhase];
/** String sub-states: Normal, after a backslash, inside \uXXXX (Hex + digits left - 1), inside a UTF-8 sequence (Utf8 + bytes left - 1). */
const STR_NORMAL = 0;
const STR_ESCAPE = 1;
const STR_HEX = 2; // 2..5: 4..1 hex digits left
const STR_UTF8 = 10; // 10..12: 1..3 continuation bytes left

interface FreeSpec {
  readonly id: number;
  readonly trigger: Uint8Array;
  /** KMP failure function of the trigger. */
  readonly failure: Int32Array;
  readonly body: GrammarNode;
  readonly close: KeyTrie;
}

class Stack {
  constructor(
    readonly id: number,
    readonly frame: Frame | undefined,
    readonly parent: Stack | undefined,
  ) {}
}

class State implements AutomatonState {
  /** Next state id per byte: -2 = not computed yet, -1 = no transition. */
  readonly nextIds = new Int32Array(256).fill(-2);
  constructor(
    readonly id: number,
    readonly stacks: readonly Stack[],
    readonly complete: boolean,
    readonly canEnd: boolean,
    readonly inFreeText: boolean,
  ) {}
}

const utf8 = new TextEncoder();
const isWs = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x09 || b === 0x0d;
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
const isHex = (b: number): boolean => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
const Q = 0x22; // "
const BACKSLASH = 0x5c;

export class ByteAutomaton {
  readonly initial: AutomatonState;
  readonly #maxWs: number;
  readonly #maxDigits: number;
  readonly #stacks = new Map<string, Stack>();
  readonly #states = new Map<string, State>();
  readonly #stateList: State[] = [];
  readonly #done: Stack;
  readonly #trieIds = new Map<KeyTrie, number>();
  readonly #anyNodes = new Map<number, GrammarNode>();
  readonly #stringNode: StringNode = { id: -1, kind: "string", minLength: 0, maxLength: 0x7fffffff };
  /** closingPath per state id (undefined: none). */
  readonly #closing = new Map<number, Uint8Array | undefined>();
  #nextNodeId = -2;

  constructor(program: readonly ProgramStep[], options: AutomatonOptions = {}) {
    this.#maxWs = options.maxWhitespace ?? 1;
    this.#maxDigits = options.maxNumberDigits ?? 16;
    if (!Number.isInteger(this.#maxWs) || this.#maxWs < 0 || this.#maxWs > 64) {
      throw new InvalidInputError(`maxWhitespace must be an integer in [0, 64], got ${this.#maxWs}`);
    }
    if (program.length === 0) throw new InvalidInputError("a constrained-decoding program needs at least one step");
    this.#done = new Stack(0, undefined, undefined);
    this.#stacks.set("", this.#done);
    let stack = this.#done;
    let freeId = 0;
    for (const step of [...program].reverse()) {
      if (step.kind === "value") stack = this.#push(stack, this.#valueFrame(step.node));
      else if (step.kind === "text") stack = this.#push(stack, this.#textFrame(buildKeyTrie([step.text])));
      else stack = this.#push(stack, this.#freeFrame(makeFreeSpec(freeId++, step, buildKeyTrie([step.close])), 0));
    }
    this.initial = this.#state([stack]);
  }

  /** The state after `byte`, or undefined when no accepted text continues that way. */
  next(state: AutomatonState, byte: number): AutomatonState | undefined {
    const id = this.nextId(state.id, byte);
    return id < 0 ? undefined : this.#stateList[id];
  }

  /** next() by state id (-1: no transition), for the vocabulary walk's inner loop. */
  nextId(stateId: number, byte: number): number {
    const s = this.#stateList[stateId]!;
    let n = s.nextIds[byte]!;
    if (n === -2) {
      const out: Stack[] = [];
      for (const stack of s.stacks) this.#feed(stack, byte, out);
      n = out.length === 0 ? -1 : this.#state(out).id;
      s.nextIds[byte] = n;
    }
    return n;
  }

  stateById(id: number): AutomatonState {
    return this.#stateList[id]!;
  }

  /** The state after a token without text (a control token): only free text lets one through, and resets its trigger match. */
  afterControlToken(state: AutomatonState): AutomatonState | undefined {
    const stacks = (state as State).stacks.filter((s) => s.frame?.t === "free");
    if (stacks.length === 0) return undefined;
    return this.#state(stacks.map((s) => this.#replace(s, this.#freeFrame((s.frame as Extract<Frame, { t: "free" }>).spec, 0))));
  }

  /** Walks a whole byte string; undefined as soon as it leaves the accepted texts. */
  walk(state: AutomatonState, bytes: Uint8Array): AutomatonState | undefined {
    let s: AutomatonState | undefined = state;
    for (let i = 0; i < bytes.length && s !== undefined; i++) s = this.next(s, bytes[i]!);
    return s;
  }

  /**
   * A shortest text that takes `state` to one where the output may end (canEnd), as bytes; empty when it may end
   * already, undefined when none is found. Computed from the stack frames, not by search: each open frame adds
   * its shortest way to finish (a string closes after its minimum length, an object writes its remaining required
   * keys with their shortest values, a number gets a digit, a literal its shortest remaining member, a text frame
   * its remaining bytes). Every candidate is checked by walking it, so a wrong guess is never returned. Cached per
   * state.
   */
  closingPath(state: AutomatonState): Uint8Array | undefined {
    if (state.canEnd) return new Uint8Array(0);
    const cached = this.#closing.get(state.id);
    if (cached !== undefined || this.#closing.has(state.id)) return cached;
    let best: Uint8Array | undefined;
    for (const stack of (state as State).stacks) {
      const text = this.#stackCompletion(stack);
      if (text === undefined) continue;
      const bytes = utf8.encode(text);
      if ((best === undefined || bytes.length < best.length) && this.walk(state, bytes)?.canEnd === true) best = bytes;
    }
    this.#closing.set(state.id, best);
    return best;
  }

  /** The shortest text that empties `stack`, frame by frame from the top (undefined: a frame it cannot finish). */
  #stackCompletion(stack: Stack): string | undefined {
    let out = "";
    for (let s: Stack | undefined = stack; s !== undefined && s !== this.#done; s = s.parent) {
      const piece = this.#frameCompletion(s.frame!);
      if (piece === undefined) return undefined;
      out += piece;
    }
    return out;
  }

  #frameCompletion(f: Frame): string | undefined {
    switch (f.t) {
      case "value":
        return minValueText(f.node);
      case "obj": {
        const props = f.node.properties;
        const rest = (from: number): string | undefined => {
          let text = "";
          for (let i = from; i < props.length; i++) {
            if (!props[i]!.required) continue;
            const v = minValueText(props[i]!.value);
            if (v === undefined) return undefined;
            text += `,${JSON.stringify(props[i]!.name)}:${v}`;
          }
          return `${text}}`;
        };
        // Property i's shortest value, then the required properties after it and the closing brace.
        const valueAndRest = (i: number): string | undefined => {
          const v = minValueText(props[i]!.value);
          const after = rest(i + 1);
          return v === undefined || after === undefined ? undefined : `${v}${after}`;
        };
        switch (f.phase) {
          case ObjPhase.Open:
          case ObjPhase.BeforeKey: {
            const from = f.phase === ObjPhase.Open ? 0 : f.index;
            if (f.phase === ObjPhase.Open && canClose(props, 0)) return "}";
            // One key must come (after a comma, or the object has required keys): the cheapest that may come here.
            let best: string | undefined;
            for (let i = from; i < props.length; i++) {
              const tail = valueAndRest(i);
              const text = tail === undefined ? undefined : `${JSON.stringify(props[i]!.name)}:${tail}`;
              if (text !== undefined && (best === undefined || text.length < best.length)) best = text;
              if (props[i]!.required) break;
            }
            return best;
          }
          case ObjPhase.Key: {
            let last = f.index;
            while (last < props.length - 1 && !props[last]!.required) last++;
            const key = shortestInTrie(f.node.keys, f.trieNode, (index) => index >= f.index && index <= last);
            const tail = key === undefined ? undefined : valueAndRest(key.index);
            return tail === undefined ? undefined : `${key!.text}:${tail}`;
          }
          case ObjPhase.Colon: {
            const tail = valueAndRest(f.index);
            return tail === undefined ? undefined : `:${tail}`;
          }
          case ObjPhase.BeforeValue:
            return valueAndRest(f.index);
          case ObjPhase.AfterValue:
            return rest(f.index + 1);
        }
        return undefined;
      }
      case "fobj": {
        const v = minValueText(f.node.values);
        if (v === undefined) return undefined;
        if (f.phase === ObjPhase.Open || f.phase === ObjPhase.AfterValue) return "}";
        if (f.phase === ObjPhase.BeforeKey) return `"":${v}}`;
        if (f.phase === ObjPhase.Colon) return `:${v}}`;
        if (f.phase === ObjPhase.BeforeValue) return `${v}}`;
        return undefined;
      }
      case "arr": {
        const v = minValueText(f.node.items);
        const more = (n: number): string | undefined => (n <= 0 ? "" : v === undefined ? undefined : `,${v}`.repeat(n));
        if (f.phase === ArrPhase.Open) {
          if (f.node.minItems === 0) return "]";
          const tail = more(f.node.minItems - 1);
          return v === undefined || tail === undefined ? undefined : `${v}${tail}]`;
        }
        if (f.phase === ArrPhase.BeforeValue) {
          const tail = more(f.node.minItems - f.count - 1);
          return v === undefined || tail === undefined ? undefined : `${v}${tail}]`;
        }
        const tail = more(f.node.minItems - f.count);
        return tail === undefined ? undefined : `${tail}]`;
      }
      case "str": {
        let head = "";
        if (f.sub === STR_ESCAPE) head = "n";
        else if (f.sub >= STR_HEX && f.sub < STR_HEX + 4) head = "0".repeat(4 - (f.sub - STR_HEX));
        else if (f.sub >= STR_UTF8) return undefined; // inside a UTF-8 character: the next token finishes it first
        return `${head}${"a".repeat(Math.max(0, f.node.minLength - f.len))}"`;
      }
      case "num":
        return f.phase === NumPhase.Minus || f.phase === NumPhase.FracStart || f.phase === NumPhase.ExpStart || f.phase === NumPhase.ExpSign ? "0" : "";
      case "lit": {
        const found = shortestInTrie(f.trie, f.trieNode, () => true);
        return found?.text;
      }
      case "free":
        return "";
    }
  }

  /** Whether `text` (as UTF-8) is a complete accepted text. */
  accepts(text: string): boolean {
    return this.walk(this.initial, utf8.encode(text))?.canEnd === true;
  }

  /** Number of distinct states made so far (for benchmarks and cache bounds). */
  get numStates(): number {
    return this.#states.size;
  }

  #state(stacks: readonly Stack[]): State {
    const unique = [...new Map(stacks.map((s) => [s.id, s])).values()].sort((a, b) => a.id - b.id);
    const key = unique.map((s) => s.id).join(",");
    let state = this.#states.get(key);
    if (state === undefined) {
      const complete = unique.every((s) => s === this.#done);
      const canEnd = unique.some((s) => this.#canEnd(s));
      const inFreeText = unique.some((s) => s.frame?.t === "free");
      state = new State(this.#stateList.length, unique, complete, canEnd, inFreeText);
      this.#states.set(key, state);
      this.#stateList.push(state);
    }
    return state;
  }

  #canEnd(stack: Stack | undefined): boolean {
    for (let s = stack; s !== undefined && s !== this.#done; s = s.parent) {
      const f = s.frame!;
      if (f.t === "free") continue;
      if (f.t === "num" && (f.phase === NumPhase.Zero || f.phase === NumPhase.Int || f.phase === NumPhase.Frac || f.phase === NumPhase.Exp)) continue;
      if (f.t === "lit" && f.trie.terminal[f.trieNode]! >= 0) continue;
      return false;
    }
    return true;
  }

  #intern(frame: Frame | undefined, parent: Stack | undefined): Stack {
    if (frame === undefined) return parent ?? this.#done;
    const key = `${frame.key}/${parent?.id ?? 0}`;
    let stack = this.#stacks.get(key);
    if (stack === undefined) {
      stack = new Stack(this.#stacks.size, frame, parent);
      this.#stacks.set(key, stack);
    }
    return stack;
  }
  #push(stack: Stack, frame: Frame): Stack {
    return this.#intern(frame, stack);
  }
  #replace(stack: Stack, frame: Frame): Stack {
    return this.#intern(frame, stack.parent);
  }
  #pop(stack: Stack): Stack {
    return stack.parent ?? this.#done;
  }

  /** Feeds one byte to the top frame of `stack`; pushes every resulting stack into `out`. */
  #feed(stack: Stack, b: number, out: Stack[]): void {
    const f = stack.frame;
    if (f === undefined) return; // complete: nothing may follow
    switch (f.t) {
      case "value":
        return this.#startValue(stack, f.node, b, out);
      case "obj":
        return this.#feedObject(stack, f, b, out);
      case "fobj":
        return this.#feedFreeObject(stack, f, b, out);
      case "arr":
        return this.#feedArray(stack, f, b, out);
      case "str":
        return this.#feedString(stack, f, b, out);
      case "num":
        return this.#feedNumber(stack, f, b, out);
      case "lit": {
        const child = f.trie.children[f.trieNode]!.get(b);
        if (child !== undefined) {
          const ends = f.trie.terminal[child]! >= 0 && f.trie.children[child]!.size === 0;
          out.push(ends ? this.#pop(stack) : this.#replace(stack, this.#litFrame(f.trie, child)));
        } else if (f.trie.terminal[f.trieNode]! >= 0) {
          this.#feed(this.#pop(stack), b, out); // a literal that may end here (enum 1 vs 10): the byte is the parent's
        }
        return;
      }
      case "free": {
        const spec = f.spec;
        let k = f.matched;
        while (k > 0 && spec.trigger[k] !== b) k = spec.failure[k - 1]!;
        if (spec.trigger[k] === b) k++;
        if (k === spec.trigger.length) {
          const back = this.#replace(stack, this.#freeFrame(spec, 0));
          out.push(this.#push(this.#push(back, this.#textFrame(spec.close)), this.#valueFrame(spec.body)));
        } else {
          out.push(k === f.matched ? stack : this.#replace(stack, this.#freeFrame(spec, k)));
        }
        return;
      }
    }
  }

  #startValue(stack: Stack, node: GrammarNode, b: number, out: Stack[]): void {
    switch (node.kind) {
      case "object":
        if (b === 0x7b) out.push(this.#replace(stack, this.#objFrame(node, ObjPhase.Open, 0, 0, 0)));
        return;
      case "freeObject":
        if (b === 0x7b) out.push(this.#replace(stack, this.#fobjFrame(node, ObjPhase.Open, 0)));
        return;
      case "array":
        if (b === 0x5b) out.push(this.#replace(stack, this.#arrFrame(node, ArrPhase.Open, 0, 0)));
        return;
      case "string":
        if (b === Q) out.push(this.#replace(stack, this.#strFrame(node, 0, STR_NORMAL, 0, 0)));
        return;
      case "number":
        if (b === 0x2d) out.push(this.#replace(stack, this.#numFrame(node.integer, NumPhase.Minus, 0)));
        else if (b === 0x30) out.push(this.#replace(stack, this.#numFrame(node.integer, NumPhase.Zero, 0)));
        else if (b > 0x30 && b <= 0x39) out.push(this.#replace(stack, this.#numFrame(node.integer, NumPhase.Int, 1)));
        return;
      case "literal":
        return this.#feed(this.#replace(stack, this.#litFrame(node.trie, 0)), b, out);
      case "anyOf":
        for (const option of node.options) this.#startValue(stack, option, b, out);
        return;
      case "any":
        return this.#startValue(stack, this.#anyNode(node.depth), b, out);
    }
  }

  #feedObject(stack: Stack, f: Extract<Frame, { t: "obj" }>, b: number, out: Stack[]): void {
    const props = f.node.properties;
    const ws = (): void => {
      if (isWs(b) && f.ws < this.#maxWs) out.push(this.#replace(stack, this.#objFrame(f.node, f.phase, f.index, f.ws + 1, 0)));
    };
    switch (f.phase) {
      case ObjPhase.Open:
      case ObjPhase.BeforeKey: {
        ws();
        const from = f.phase === ObjPhase.Open ? 0 : f.index;
        if (b === Q && from < props.length) {
          const child = f.node.keys.children[0]!.get(Q);
          if (child !== undefined && this.#keyAlive(f.node, from, child)) out.push(this.#replace(stack, this.#objFrame(f.node, ObjPhase.Key, from, 0, child)));
        } else if (b === 0x7d && f.phase === ObjPhase.Open && canClose(props, 0)) {
          out.push(this.#pop(stack));
        }
        return;
      }
      case ObjPhase.Key: {
        const child = f.node.keys.children[f.trieNode]!.get(b);
        if (child === undefined || !this.#keyAlive(f.node, f.index, child)) return;
        const matched = f.node.keys.terminal[child]!;
        out.push(this.#replace(stack, matched >= 0 ? this.#objFrame(f.node, ObjPhase.Colon, matched, 0, 0) : this.#objFrame(f.node, ObjPhase.Key, f.index, 0, child)));
        return;
      }
      case ObjPhase.Colon:
        ws();
        if (b === 0x3a) out.push(this.#replace(stack, this.#objFrame(f.node, ObjPhase.BeforeValue, f.index, 0, 0)));
        return;
      case ObjPhase.BeforeValue: {
        ws();
        if (isWs(b)) return;
        const after = this.#replace(stack, this.#objFrame(f.node, ObjPhase.AfterValue, f.index, 0, 0));
        this.#startValue(this.#push(after, this.#valueFrame(props[f.index]!.value)), props[f.index]!.value, b, out);
        return;
      }
      case ObjPhase.AfterValue:
        ws();
        if (b === 0x2c && f.index + 1 < props.length) out.push(this.#replace(stack, this.#objFrame(f.node, ObjPhase.BeforeKey, f.index + 1, 0, 0)));
        else if (b === 0x7d && canClose(props, f.index + 1)) out.push(this.#pop(stack));
        return;
    }
  }

  /** A key prefix at trie node `node` still leads to a property in [from, first required property at or after from]. */
  #keyAlive(object: ObjectNode, from: number, node: number): boolean {
    const props = object.properties;
    let last = from;
    while (last < props.length - 1 && !props[last]!.required) last++;
    for (const i of object.keys.below[node]!) if (i >= from && i <= last) return true;
    return false;
  }

  #feedFreeObject(stack: Stack, f: Extract<Frame, { t: "fobj" }>, b: number, out: Stack[]): void {
    const ws = (): void => {
      if (isWs(b) && f.ws < this.#maxWs) out.push(this.#replace(stack, this.#fobjFrame(f.node, f.phase, f.ws + 1)));
    };
    switch (f.phase) {
      case ObjPhase.Open:
      case ObjPhase.BeforeKey:
        ws();
        if (b === Q) {
          const colon = this.#replace(stack, this.#fobjFrame(f.node, ObjPhase.Colon, 0));
          out.push(this.#push(colon, this.#strFrame(this.#stringNode, 0, STR_NORMAL, 0, 0)));
        } else if (b === 0x7d && f.phase === ObjPhase.Open) {
          out.push(this.#pop(stack));
        }
        return;
      case ObjPhase.Colon:
        ws();
        if (b === 0x3a) out.push(this.#replace(stack, this.#fobjFrame(f.node, ObjPhase.BeforeValue, 0)));
        return;
      case ObjPhase.BeforeValue: {
        ws();
        if (isWs(b)) return;
        const after = this.#replace(stack, this.#fobjFrame(f.node, ObjPhase.AfterValue, 0));
        this.#startValue(this.#push(after, this.#valueFrame(f.node.values)), f.node.values, b, out);
        return;
      }
      case ObjPhase.AfterValue:
        ws();
        if (b === 0x2c) out.push(this.#replace(stack, this.#fobjFrame(f.node, ObjPhase.BeforeKey, 0)));
        else if (b === 0x7d) out.push(this.#pop(stack));
        return;
      case ObjPhase.Key:
        return; // free keys are string frames, never this phase
    }
  }

  #feedArray(stack: Stack, f: Extract<Frame, { t: "arr" }>, b: number, out: Stack[]): void {
    const { node } = f;
    const ws = (): void => {
      if (isWs(b) && f.ws < this.#maxWs) out.push(this.#replace(stack, this.#arrFrame(node, f.phase, f.count, f.ws + 1)));
    };
    switch (f.phase) {
      case ArrPhase.Open:
      case ArrPhase.BeforeValue:
        ws();
        if (isWs(b)) return;
        if (b === 0x5d && f.phase === ArrPhase.Open && node.minItems === 0) {
          out.push(this.#pop(stack));
          return;
        }
        if (f.count < node.maxItems) {
          const after = this.#replace(stack, this.#arrFrame(node, ArrPhase.AfterValue, f.count + 1, 0));
          this.#startValue(this.#push(after, this.#valueFrame(node.items)), node.items, b, out);
        }
        return;
      case ArrPhase.AfterValue:
        ws();
        if (b === 0x2c && f.count < node.maxItems) out.push(this.#replace(stack, this.#arrFrame(node, ArrPhase.BeforeValue, f.count, 0)));
        else if (b === 0x5d && f.count >= node.minItems) out.push(this.#pop(stack));
        return;
    }
  }

  #feedString(stack: Stack, f: Extract<Frame, { t: "str" }>, b: number, out: Stack[]): void {
    const { node, len } = f;
    // Characters are counted only as far as a bound needs, so an unbounded string stays one state.
    const counted = (n: number): number => (node.maxLength >= 0x7fffffff ? Math.min(n, node.minLength) : n);
    if (f.sub === STR_NORMAL) {
      if (b === Q) {
        if (len >= node.minLength) out.push(this.#pop(stack));
        return;
      }
      if (len >= node.maxLength) return;
      if (b === BACKSLASH) out.push(this.#replace(stack, this.#strFrame(node, counted(len + 1), STR_ESCAPE, 0, 0)));
      else if (b >= 0x20 && b < 0x80) out.push(this.#replace(stack, this.#strFrame(node, counted(len + 1), STR_NORMAL, 0, 0)));
      else {
        const lead = utf8Lead(b);
        if (lead !== undefined) out.push(this.#replace(stack, this.#strFrame(node, counted(len + 1), STR_UTF8 + lead.left - 1, lead.lo, lead.hi)));
      }
      return;
    }
    if (f.sub === STR_ESCAPE) {
      if (b === 0x75) out.push(this.#replace(stack, this.#strFrame(node, len, STR_HEX, 0, 0)));
      else if (b === Q || b === BACKSLASH || b === 0x2f || b === 0x62 || b === 0x66 || b === 0x6e || b === 0x72 || b === 0x74) {
        out.push(this.#replace(stack, this.#strFrame(node, len, STR_NORMAL, 0, 0)));
      }
      return;
    }
    if (f.sub >= STR_HEX && f.sub < STR_HEX + 4) {
      if (isHex(b)) out.push(this.#replace(stack, this.#strFrame(node, len, f.sub === STR_HEX + 3 ? STR_NORMAL : f.sub + 1, 0, 0)));
      return;
    }
    // Inside a UTF-8 sequence: the next byte must be a continuation byte in [lo, hi].
    if (b < f.lo || b > f.hi) return;
    const left = f.sub - STR_UTF8;
    out.push(this.#replace(stack, left === 0 ? this.#strFrame(node, len, STR_NORMAL, 0, 0) : this.#strFrame(node, len, f.sub - 1, 0x80, 0xbf)));
  }

  #feedNumber(stack: Stack, f: Extract<Frame, { t: "num" }>, b: number, out: Stack[]): void {
    const to = (phase: NumPhase, digits: number): void => {
      out.push(this.#replace(stack, this.#numFrame(f.integer, phase, digits)));
    };
    const max = this.#maxDigits;
    switch (f.phase) {
      case NumPhase.Minus:
        if (b === 0x30) to(NumPhase.Zero, 0);
        else if (b > 0x30 && b <= 0x39) to(NumPhase.Int, 1);
        return;
      case NumPhase.FracStart:
        if (isDigit(b)) to(NumPhase.Frac, 1);
        return;
      case NumPhase.ExpStart:
        if (b === 0x2b || b === 0x2d) to(NumPhase.ExpSign, 0);
        else if (isDigit(b)) to(NumPhase.Exp, 1);
        return;
      case NumPhase.ExpSign:
        if (isDigit(b)) to(NumPhase.Exp, 1);
        return;
      default: {
        // Zero, Int, Frac, Exp: the number may end here; a byte that does not continue it belongs to the parent.
        const p = f.phase;
        if (isDigit(b) && ((p === NumPhase.Int && f.digits < max) || (p === NumPhase.Frac && f.digits < max) || (p === NumPhase.Exp && f.digits < 3))) {
          to(p, f.digits + 1);
        } else if (b === 0x2e && !f.integer && (p === NumPhase.Zero || p === NumPhase.Int)) {
          to(NumPhase.FracStart, 0);
        } else if ((b === 0x65 || b === 0x45) && !f.integer && (p === NumPhase.Zero || p === NumPhase.Int || p === NumPhase.Frac)) {
          to(NumPhase.ExpStart, 0);
        } else if (!isDigit(b)) {
          this.#feed(this.#pop(stack), b, out);
        }
      }
    }
  }

  /** The value grammar of "any JSON value" nested at most `depth` more levels. */
  #anyNode(depth: number): GrammarNode {
    let node = this.#anyNodes.get(depth);
    if (node === undefined) {
      const scalars: GrammarNode[] = [
        this.#stringNode,
        { id: this.#nextNodeId--, kind: "number", integer: false },
        { id: this.#nextNodeId--, kind: "literal", trie: buildKeyTrie(["true", "false", "null"]) },
      ];
      const nested: GrammarNode[] =
        depth > 0
          ? [
              { id: this.#nextNodeId--, kind: "freeObject", values: { id: this.#nextNodeId--, kind: "any", depth: depth - 1 } },
              { id: this.#nextNodeId--, kind: "array", items: { id: this.#nextNodeId--, kind: "any", depth: depth - 1 }, minItems: 0, maxItems: 0x7fffffff },
            ]
          : [];
      node = { id: this.#nextNodeId--, kind: "anyOf", options: [...nested, ...scalars] };
      this.#anyNodes.set(depth, node);
    }
    return node;
  }

  #trieId(trie: KeyTrie): number {
    let id = this.#trieIds.get(trie);
    if (id === undefined) {
      id = this.#trieIds.size;
      this.#trieIds.set(trie, id);
    }
    return id;
  }

  #valueFrame(node: GrammarNode): Frame {
    return { t: "value", key: `v${node.id}`, node };
  }
  #objFrame(node: ObjectNode, phase: ObjPhase, index: number, ws: number, trieNode: number): Frame {
    return { t: "obj", key: `o${node.id}.${phase}.${index}.${ws}.${trieNode}`, node, phase, index, ws, trieNode };
  }
  #fobjFrame(node: FreeObjectNode, phase: ObjPhase, ws: number): Frame {
    return { t: "fobj", key: `f${node.id}.${phase}.${ws}`, node, phase, ws };
  }
  #arrFrame(node: ArrayNode, phase: ArrPhase, count: number, ws: number): Frame {
    // The count matters only up to the bounds that use it.
    const c = node.maxItems >= 0x7fffffff ? Math.min(count, node.minItems) : count;
    return { t: "arr", key: `a${node.id}.${phase}.${c}.${ws}`, node, phase, count: c, ws };
  }
  #strFrame(node: StringNode, len: number, sub: number, lo: number, hi: number): Frame {
    return { t: "str", key: `s${node.id}.${len}.${sub}.${lo}.${hi}`, node, len, sub, lo, hi };
  }
  #numFrame(integer: boolean, phase: NumPhase, digits: number): Frame {
    return { t: "num", key: `n${integer ? 1 : 0}.${phase}.${digits}`, integer, phase, digits };
  }
  #litFrame(trie: KeyTrie, trieNode: number): Frame {
    const trieId = this.#trieId(trie);
    return { t: "lit", key: `l${trieId}.${trieNode}`, trie, trieId, trieNode };
  }
  #textFrame(trie: KeyTrie): Frame {
    return this.#litFrame(trie, 0);
  }
  #freeFrame(spec: FreeSpec, matched: number): Frame {
    return { t: "free", key: `t${spec.id}.${matched}`, spec, matched };
  }
}

/** A shortest JSON text of `node` (undefined past a recursion depth of 32: a schema whose every value nests forever). */
function minValueText(node: GrammarNode, depth = 0): string | undefined {
  if (depth > 32) return undefined;
  switch (node.kind) {
    case "object": {
      const parts: string[] = [];
      for (const p of node.properties) {
        if (!p.required) continue;
        const v = minValueText(p.value, depth + 1);
        if (v === undefined) return undefined;
        parts.push(`${JSON.stringify(p.name)}:${v}`);
      }
      return `{${parts.join(",")}}`;
    }
    case "freeObject":
      return "{}";
    case "array": {
      if (node.minItems === 0) return "[]";
      const v = minValueText(node.items, depth + 1);
      return v === undefined ? undefined : `[${Array.from({ length: node.minItems }, () => v).join(",")}]`;
    }
    case "string":
      return `"${"a".repeat(node.minLength)}"`;
    case "number":
      return "0";
    case "literal":
      return shortestInTrie(node.trie, 0, () => true)?.text;
    case "anyOf": {
      let best: string | undefined;
      for (const option of node.options) {
        const v = minValueText(option, depth + 1);
        if (v !== undefined && (best === undefined || v.length < best.length)) best = v;
      }
      return best;
    }
    case "any":
      return "0";
  }
}

/** The shortest text from trie node `from` to a terminal whose index `ok` accepts: breadth-first over the (small) trie. */
function shortestInTrie(trie: KeyTrie, from: number, ok: (index: number) => boolean): { text: string; index: number } | undefined {
  const queue: { node: number; bytes: number[] }[] = [{ node: from, bytes: [] }];
  for (let head = 0; head < queue.length && head < 100_000; head++) {
    const { node, bytes } = queue[head]!;
    const index = trie.terminal[node]!;
    if (index >= 0 && ok(index) && (bytes.length > 0 || node === from)) return { text: Buffer.from(bytes).toString("utf8"), index };
    for (const [b, child] of trie.children[node]!) queue.push({ node: child, bytes: [...bytes, b] });
  }
  return undefined;
}

/** No required property at index `from` or later: the object may close. */
function canClose(props: ObjectNode["properties"], from: number): boolean {
  for (let i = from; i < props.length; i++) if (props[i]!.required) return false;
  return true;
}

/** A UTF-8 lead byte: how many continuation bytes follow and the range of the first (RFC 3629, no overlongs or surrogates). */
function utf8Lead(b: number): { left: number; lo: number; hi: number } | undefined {
  if (b >= 0xc2 && b <= 0xdf) return { left: 1, lo: 0x80, hi: 0xbf };
  if (b === 0xe0) return { left: 2, lo: 0xa0, hi: 0xbf };
  if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) return { left: 2, lo: 0x80, hi: 0xbf };
  if (b === 0xed) return { left: 2, lo: 0x80, hi: 0x9f };
  if (b === 0xf0) return { left: 3, lo: 0x90, hi: 0xbf };
  if (b >= 0xf1 && b <= 0xf3) return { left: 3, lo: 0x80, hi: 0xbf };
  if (b === 0xf4) return { left: 3, lo: 0x80, hi: 0x8f };
  return undefined;
}

function makeFreeSpec(id: number, step: Extract<ProgramStep, { kind: "free" }>, close: KeyTrie): FreeSpec {
  const trigger = utf8.encode(step.trigger);
  if (trigger.length === 0) throw new InvalidInputError("a free-text step needs a non-empty trigger");
  const failure = new Int32Array(trigger.length);
  for (let i = 1, k = 0; i < trigger.length; i++) {
    while (k > 0 && trigger[i] !== trigger[k]) k = failure[k - 1]!;
    if (trigger[i] === trigger[k]) k++;
    failure[i] = k;
  }
  return { id, trigger, failure, body: step.body, close };
}
