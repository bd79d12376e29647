/** Schema-constrained decoding (issue 13 A5): the JSON-schema byte automaton, the vocabulary trie's masks, the Sampler hook. */
import assert from "node:assert/strict";
import { InvalidInputError } from "../../../../packages/core/src/errors/KvLinkError.js";
import { ByteAutomaton } from "../../../../packages/core/src/generate/constrain/ByteAutomaton.js";
import { compileJsonSchema } from "../../../../packages/core/src/generate/constrain/compileJsonSchema.js";
import { GrammarConstraint } from "../../../../packages/core/src/generate/constrain/GrammarConstraint.js";
import { createResponseConstraint, responseFormatProgram, parseResponseFormat } from "../../../../packages/core/src/generate/constrain/responseFormat.js";
import { maskAllows, TokenMasker } from "../../../../packages/core/src/generate/constrain/TokenMask.js";
import { TokenTrie } from "../../../../packages/core/src/generate/constrain/TokenTrie.js";
import { Sampler } from "../../../../packages/core/src/generate/Sampler.js";
import { createTinyTokenizer } from "../../../../packages/core/src/tokenizer/createTinyTokenizer.js";
import { HfTokenizer } from "../../../../packages/core/src/tokenizer/HfTokenizer.js";
import { mulberry32 } from "../../../support/mulberry32.js";

const WEATHER = {
  type: "object",
  properties: {
    city: { type: "string", minLength: 1 },
    days: { type: "integer" },
    unit: { enum: ["celsius", "fahrenheit"] },
    tags: { type: "array", items: { type: "string" }, maxItems: 2 },
    ok: { type: "boolean" },
    score: { type: ["number", "null"] },
  },
  required: ["city", "days"],
};

const automatonOf = (schema: unknown, maxWhitespace = 1): ByteAutomaton =>
  new ByteAutomaton([{ kind: "value", node: compileJsonSchema(schema) }], { maxWhitespace });

/** A validator of exactly what the automaton enforces for WEATHER, independent of it. */
function validWeather(value: unknown): boolean {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v);
  const order = ["city", "days", "unit", "tags", "ok", "score"];
  if (keys.some((k) => !order.includes(k))) return false;
  if (typeof v["city"] !== "string" || v["city"].length < 1) return false;
  if (!Number.isInteger(v["days"])) return false;
  if ("unit" in v && v["unit"] !== "celsius" && v["unit"] !== "fahrenheit") return false;
  if ("tags" in v && (!Array.isArray(v["tags"]) || v["tags"].length > 2 || v["tags"].some((t) => typeof t !== "string"))) return false;
  if ("ok" in v && typeof v["ok"] !== "boolean") return false;
  if ("score" in v && v["score"] !== null && typeof v["score"] !== "number") return false;
  return true;
}

const tiny = createTinyTokenizer({ vocabSize: 600, seed: 3 });
const tokenizer = HfTokenizer.fromJson(tiny.tokenizerJson, tiny.tokenizerConfig);

describe("constrained decoding: the JSON-schema byte automaton", () => {
  it("accepts the texts of the schema and refuses others", () => {
    const a = automatonOf(WEATHER);
    const accepted = [
      '{"city":"Paris","days":3}',
      '{"city": "Pé", "days": -3, "unit": "fahrenheit", "tags": ["a", "b"], "ok": true, "score": null}',
      '{"city":"a","days":0,"score":1.5e-3}',
      '{"city":"\\u00e9\\n\\"","days":1}',
      '{ "city" : "a" , "days" : 2 }',
      '{"city":"日本","days":10}',
    ];
    const refused = [
      '{"days":3}', // required city missing
      '{"city":"","days":3}', // minLength 1
      '{"city":"a","days":3.5}', // integer
      '{"city":"a","days":01}', // leading zero
      '{"days":3,"city":"a"}', // schema order
      '{"city":"a","days":3,"unit":"kelvin"}', // enum
      '{"city":"a","days":3,"tags":["a","b","c"]}', // maxItems
      '{"city":"a","days":3,"other":1}', // undeclared property
      '{"city":"a","days":3}x', // trailing text
      '{"city":"a",  "days":3}', // 2 whitespace bytes where 1 is allowed
      '{"city":"a\nb","days":3}', // raw control character in a string
      '{"city":"a","days":3,}', // trailing comma
    ];
    for (const text of accepted) assert.equal(a.accepts(text), true, text);
    for (const text of refused) assert.equal(a.accepts(text), false, text);
  });

  it("every prefix of an accepted text is live, and only the whole text may end", () => {
    const a = automatonOf(WEATHER);
    const text = '{"city":"Oslo","days":12,"tags":["x"],"score":-0.5}';
    const bytes = new TextEncoder().encode(text);
    let state = a.initial;
    for (let i = 0; i < bytes.length; i++) {
      assert.equal(state.canEnd, false, `prefix of ${i} bytes may not end`);
      const next = a.next(state, bytes[i]!);
      assert.ok(next !== undefined, `byte ${i} (${text[i]}) refused`);
      state = next;
    }
    assert.equal(state.canEnd, true);
    assert.equal(state.complete, true, "after the closing brace nothing may follow");
  });

  it("checks UTF-8 byte by byte: a lone continuation byte, an overlong form and a surrogate are refused", () => {
    const a = automatonOf({ type: "string" });
    const afterQuote = a.next(a.initial, 0x22)!;
    assert.equal(a.walk(afterQuote, Uint8Array.of(0xc3, 0xa9)) !== undefined, true, "é");
    assert.equal(a.walk(afterQuote, Uint8Array.of(0xc3)) !== undefined, true, "the first byte of é alone is live (a partial token)");
    assert.equal(a.walk(afterQuote, Uint8Array.of(0xa9)), undefined, "continuation byte without a lead");
    assert.equal(a.walk(afterQuote, Uint8Array.of(0xc0, 0xaf)), undefined, "overlong");
    assert.equal(a.walk(afterQuote, Uint8Array.of(0xed, 0xa0, 0x80)), undefined, "UTF-16 surrogate");
    assert.equal(a.walk(afterQuote, Uint8Array.of(0xc3, 0x22)), undefined, "a quote inside a sequence");
  });

  it("anyOf keeps alternatives apart until the bytes decide; recursive $ref and json_object nest", () => {
    const pets = automatonOf({
      anyOf: [
        { type: "object", properties: { kind: { const: "cat" }, lives: { type: "integer" } }, required: ["kind", "lives"] },
        { type: "object", properties: { kind: { const: "dog" }, good: { type: "boolean" } }, required: ["kind", "good"] },
      ],
    });
    assert.equal(pets.accepts('{"kind":"cat","lives":9}'), true);
    assert.equal(pets.accepts('{"kind":"dog","good":true}'), true);
    assert.equal(pets.accepts('{"kind":"cat","good":true}'), false);
    const tree = automatonOf({
      $defs: { node: { type: "object", properties: { v: { type: "integer" }, kids: { type: "array", items: { $ref: "#/$defs/node" } } }, required: ["v"] } },
      $ref: "#/$defs/node",
    });
    assert.equal(tree.accepts('{"v":1,"kids":[{"v":2,"kids":[{"v":3}]},{"v":4}]}'), true);
    assert.equal(tree.accepts('{"v":1,"kids":[{"w":2}]}'), false);
    const object = new ByteAutomaton(responseFormatProgram(parseResponseFormat({ type: "json_object" }))!);
    assert.equal(object.accepts('{"a":[1,{"b":null}],"c":"d"}'), true);
    assert.equal(object.accepts("[1]"), false, "json_object is an object");
  });

  it("numbers and whitespace are bounded, so a forced value cannot run on", () => {
    const a = new ByteAutomaton([{ kind: "value", node: compileJsonSchema({ type: "number" }) }], { maxNumberDigits: 4 });
    assert.equal(a.accepts("1234"), true);
    assert.equal(a.accepts("12345"), false);
    assert.equal(a.accepts("1.25e10"), true);
    assert.equal(automatonOf({ type: "object", properties: {} }, 2).accepts("{  }"), true);
    assert.equal(automatonOf({ type: "object", properties: {} }, 2).accepts("{   }"), false);
  });

  it("rejects what it cannot enforce with InvalidInputError naming the keyword", () => {
    const cases: [unknown, string][] = [
      [{ type: "array", prefixItems: [{ type: "string" }] }, "prefixItems"],
      [{ allOf: [{ type: "string" }, { minLength: 2 }] }, "allOf"],
      [{ type: "object", properties: { a: {} }, required: ["b"] }, "required"],
      [{ $ref: "https://example.com/s.json" }, "$ref"],
      [{ type: "strng" }, "type"],
      [false, "false"],
    ];
    for (const [schema, keyword] of cases) {
      assert.throws(() => compileJsonSchema(schema), (e: unknown) => e instanceof InvalidInputError && e.details["keyword"] === keyword, JSON.stringify(schema));
    }
    assert.throws(() => parseResponseFormat({ type: "json_schema" }), InvalidInputError);
    assert.throws(() => parseResponseFormat({ type: "xml" }), InvalidInputError);
    assert.throws(() => createResponseConstraint({ type: "tool_calls", tools: [] }, tokenizer), InvalidInputError);
  });
});

describe("constrained decoding: token masks over the vocabulary trie", () => {
  const trie = TokenTrie.forTokenizer(tokenizer);

  it("each token's bytes decode to the token's own text (byte-level BPE)", () => {
    let checked = 0;
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      const bytes = trie.tokenBytes[id];
      if (bytes === undefined) {
        assert.ok(tokenizer.specialTokenIds.has(id), `id ${id} has no bytes but is not special`);
        continue;
      }
      const text = Buffer.from(bytes).toString("utf8");
      if (text.includes("\uFFFD")) continue; // part of a character: compared through the automaton tests
      assert.equal(tokenizer.decode([id], { cleanUpTokenizationSpaces: false }), text, `token ${id}`);
      checked++;
    }
    assert.ok(checked > 400, `${checked} tokens checked`);
  });

  it("the trie walk gives the same mask as walking every token's bytes on its own", () => {
    const automaton = automatonOf(WEATHER);
    const masker = new TokenMasker(automaton, trie, { eosTokenIds: tokenizer.eosTokenIds });
    const text = '{"city": "Pé", "days": -3, "tags": ["a"], "ok": false, "score": 2.5}';
    const bytes = new TextEncoder().encode(text);
    let state = automaton.initial;
    for (let i = 0; i <= bytes.length; i++) {
      const mask = masker.maskFor(state);
      for (let id = 0; id < tokenizer.vocabSize; id++) {
        const tokenBytes = trie.tokenBytes[id];
        const expected = tokenBytes === undefined ? tokenizer.eosTokenIds.includes(id) && state.canEnd : automaton.walk(state, tokenBytes) !== undefined;
        assert.equal(maskAllows(mask, id), expected, `after ${i} bytes, token ${id} ${JSON.stringify(tokenizer.idToToken(id))}`);
      }
      if (i < bytes.length) state = automaton.next(state, bytes[i]!)!;
    }
  });

  it("the Sampler, masked, always writes a valid value from random logits (seeded), ending with EOS", () => {
    // Bounded strings, so every walk ends within the step budget (numbers and whitespace are bounded already).
    const schema = structuredClone(WEATHER) as unknown as { properties: Record<string, Record<string, unknown>> };
    schema.properties["city"]!["maxLength"] = 8;
    schema.properties["tags"]!["items"] = { type: "string", maxLength: 4 };
    const random = mulberry32(7);
    const vocab = tokenizer.vocabSize + 5; // padding rows of an output layer are never picked
    for (let run = 0; run < 40; run++) {
      const constraint = createResponseConstraint({ type: "json_schema", schema }, tokenizer)!;
      const sampler = new Sampler({ temperature: 1, seed: run }, { constraint });
      const ids: number[] = [];
      for (let step = 0; step < 400; step++) {
        const logits = Float32Array.from({ length: vocab }, () => random() * 8);
        const id = sampler.sample(logits);
        assert.ok(id < tokenizer.vocabSize);
        if (tokenizer.eosTokenIds.includes(id)) break;
        ids.push(id);
      }
      assert.equal(constraint.ended, true, `run ${run} ended with EOS`);
      const text = tokenizer.decode(ids, { cleanUpTokenizationSpaces: false });
      const value = JSON.parse(text) as { city: string; tags?: string[] };
      const codePoints = (s: string): number => [...s].length; // JSON Schema counts characters, not UTF-16 units
      assert.ok(validWeather(value) && codePoints(value.city) <= 8 && (value.tags ?? []).every((t) => codePoints(t) <= 4), text);
    }
  });

  it("closingPath: the shortest bytes that finish a value from a state (a string closed, a required key written)", () => {
    const automaton = automatonOf(WEATHER);
    const prefix = '{"city": "ab';
    const state = automaton.walk(automaton.initial, new TextEncoder().encode(prefix))!;
    const path = automaton.closingPath(state)!;
    const closing = new TextDecoder().decode(path);
    assert.equal(closing, '","days":0}');
    assert.ok(automaton.accepts(prefix + closing));
    assert.equal(automaton.closingPath(automaton.walk(automaton.initial, new TextEncoder().encode('{"city":"x","days":12}'))!)!.length, 0);
  });

  it("with a token budget, a forced value is finished before the budget runs out, even with unbounded strings", () => {
    const random = mulberry32(11);
    const vocab = tokenizer.vocabSize + 5;
    for (let run = 0; run < 30; run++) {
      const maxTokens = 24 + (run % 3) * 8;
      const constraint = createResponseConstraint({ type: "json_schema", schema: WEATHER }, tokenizer, { maxTokens })!;
      const sampler = new Sampler({ temperature: 1, seed: run }, { constraint });
      const ids: number[] = [];
      for (let step = 0; step < maxTokens; step++) {
        // Random logits favour letters: left alone, the city string would never close within the budget.
        const logits = Float32Array.from({ length: vocab }, () => random() * 8);
        const id = sampler.sample(logits);
        if (tokenizer.eosTokenIds.includes(id)) break;
        ids.push(id);
      }
      const text = tokenizer.decode(ids, { cleanUpTokenizationSpaces: false });
      assert.ok(validWeather(JSON.parse(text)), `run ${run} (${maxTokens} tokens): ${text}`);
    }
    // Without a budget the same logits do run on past it (the check above is not vacuous).
    const free = createResponseConstraint({ type: "json_schema", schema: WEATHER }, tokenizer)!;
    const sampler = new Sampler({ temperature: 1, seed: 0 }, { constraint: free });
    const ids: number[] = [];
    for (let step = 0; step < 24; step++) ids.push(sampler.sample(Float32Array.from({ length: vocab }, () => random() * 8)));
    assert.throws(() => JSON.parse(tokenizer.decode(ids, { cleanUpTokenizationSpaces: false })));
  });

  it("forced tool calls are the wrapper around {name, arguments}; auto leaves text free until a call opens", () => {
    const tools = [
      { name: "add", parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] } },
      { name: "get_weather", parameters: WEATHER },
    ];
    const forced = new ByteAutomaton(responseFormatProgram(parseResponseFormat({ type: "tool_calls", tools }))!);
    assert.equal(forced.accepts('<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'), true);
    assert.equal(forced.accepts('<tool_call>{"name": "add", "arguments": {"city": "x", "days": 1}}</tool_call>'), false);
    assert.equal(forced.accepts('<tool_call>{"name": "sub", "arguments": {"a": 1, "b": 2}}</tool_call>'), false);
    assert.equal(forced.accepts('Sure. <tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'), false);
    const auto = new ByteAutomaton(responseFormatProgram(parseResponseFormat({ type: "tool_calls", tools, choice: "auto" }))!);
    assert.equal(auto.accepts("Just text, <tool no call."), true);
    assert.equal(auto.accepts('I will add. <tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call> Done.'), true);
    assert.equal(auto.accepts('<tool_call>{"name": "add", "arguments": {"a": "1"}}</tool_call>'), false);
    assert.equal(auto.accepts('<tool_call>{"name": "add"'), false, "an opened call must be finished before the end");
  });

  it("masks ids past the vocabulary and allows EOS only where the output may end", () => {
    const constraint = new GrammarConstraint(
      new TokenMasker(automatonOf({ enum: ["yes"] }), trie, { eosTokenIds: tokenizer.eosTokenIds }),
      tokenizer.eosTokenIds,
    );
    const scores = new Float64Array(tokenizer.vocabSize + 3);
    constraint.maskLogits(scores);
    for (const eos of tokenizer.eosTokenIds) assert.equal(scores[eos], -Infinity, "EOS before the value");
    for (let i = tokenizer.vocabSize; i < scores.length; i++) assert.equal(scores[i], -Infinity);
    for (const id of tokenizer.encode('"yes"', { specialTokens: "text" })) constraint.accept(id);
    scores.fill(0);
    constraint.maskLogits(scores);
    const allowed = [...scores.keys()].filter((i) => scores[i] === 0);
    assert.deepEqual(allowed, [...tokenizer.eosTokenIds].sort((a, b) => a - b));
  });
});
