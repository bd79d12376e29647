/** Seeded randomness, hashing and text helpers shared by the generators (no Math.random anywhere). */

/** A PRNG returning floats in [0, 1); mulberry32, 32-bit state. */
export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a 32-bit hash of a string's UTF-16 code units; stable across processes and platforms. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Integer in [lo, hi] inclusive. */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError("pick: expected a non-empty array, got an empty one");
  return items[Math.floor(rng() * items.length)] as T;
}

/** A shuffled copy (Fisher–Yates). */
export function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** SQuAD answer normalisation: lower case, drop punctuation and the articles a/an/the, squeeze spaces. */
export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, " ")
    .replace(/\b(a|an|the)\b/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** True when some alias, normalised, occurs in the normalised text (the harness's metric, on a document). */
export function containsAnswer(text: string, aliases: readonly string[]): boolean {
  const hay = ` ${normalizeAnswer(text)} `;
  return aliases.some((a) => {
    const n = normalizeAnswer(a);
    return n.length > 0 && hay.includes(n);
  });
}

/** True when some alias occurs in the text as whole words (used to keep answers out of distractors). */
export function mentionsAnswer(text: string, aliases: readonly string[]): boolean {
  const hay = ` ${normalizeAnswer(text)} `;
  return aliases.some((a) => {
    const n = normalizeAnswer(a);
    return n.length > 0 && hay.includes(` ${n} `);
  });
}

export function wordCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
