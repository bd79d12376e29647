/**
 * Multi-document QA over fictional entities (towns, islands, companies, ships, bridges, inventions, people).
 * Every name is coined from syllables; the coined stem (a place's stem, a person's surname) is assigned to the
 * test, dev or train pool by a hash, so the three pools never share a name.
 */
import { capitalize, containsAnswer, fnv1a, mentionsAnswer, mulberry32, normalizeAnswer, pick, randInt, shuffled, wordCount } from "./random.js";
import type { Rng } from "./random.js";
import type { EvalSplit, QaRecord, Split, TrainingRecord } from "./types.js";

// ---------------------------------------------------------------------------------------------------------------
// Name pools

const ONSETS = [
  "Brel", "Quen", "Tav", "Orm", "Sel", "Dru", "Kess", "Marn", "Vol", "Thra", "Hal", "Yst", "Cor", "Fen", "Lod",
  "Rav", "Gim", "Wen", "Pell", "Zar", "Ask", "Bryn", "Cald", "Dov", "Elm", "Fal", "Grem", "Hask", "Iver", "Jor",
  "Kel", "Lun", "Mor", "Nesh", "Ost", "Prid", "Rhos", "Stav", "Tull", "Ulv", "Varn", "Wyst", "Yar", "Zell",
];
const CODAS = [
  "moor", "ford", "wick", "mere", "holt", "stead", "ara", "ovia", "enne", "ith", "avel", "orn", "esk", "umbe",
  "ley", "brook", "gate", "haven", "rith", "ossa",
];
const SURNAME_ONSETS = [
  "Mor", "Ash", "Tel", "Bran", "Quil", "Dov", "Har", "Lind", "Sor", "Vey", "Cal", "Fenn", "Gar", "Hol", "Kir",
  "Lam", "Nor", "Pen", "Rud", "Stam", "Tor", "Wex", "Ald", "Bex", "Crom", "Dell", "Esk", "Frob", "Gild", "Hen",
];
const SURNAME_CODAS = ["row", "wick", "by", "ley", "ston", "field", "grave", "mont", "ell", "ard", "ing", "holm", "ett", "ridge", "well", "cott"];
const FIRST_NAMES: ReadonlyArray<[string, "he" | "she"]> = [
  ["Agnes", "she"], ["Tobias", "he"], ["Mirela", "she"], ["Osric", "he"], ["Helka", "she"], ["Ansel", "he"],
  ["Liesel", "she"], ["Corwin", "he"], ["Ysolde", "she"], ["Bertram", "he"], ["Odile", "she"], ["Fintan", "he"],
  ["Greta", "she"], ["Lucan", "he"], ["Imke", "she"], ["Rasmus", "he"], ["Tamsin", "she"], ["Evander", "he"],
  ["Saoirse", "she"], ["Henrik", "he"], ["Philippa", "she"], ["Idris", "he"], ["Marit", "she"], ["Casimir", "he"],
  ["Vesna", "she"], ["Leopold", "he"], ["Delphine", "she"], ["Ambrose", "he"], ["Ilse", "she"], ["Matthias", "he"],
];

/** Which pool a coined stem or surname belongs to: ~20% test, ~10% dev, the rest train. */
export function namePoolOf(stem: string): Split {
  const u = fnv1a(`kvlink-synthetic-name:${stem}`) / 4294967296;
  return u < 0.2 ? "test" : u < 0.3 ? "dev" : "train";
}

interface Person { name: string; pronoun: "he" | "she" }

interface Pools { stems: string[]; surnames: string[] }

const poolCache = new Map<Split, Pools>();
function poolsFor(split: Split): Pools {
  const cached = poolCache.get(split);
  if (cached) return cached;
  const stems: string[] = [];
  for (const a of ONSETS) for (const b of CODAS) if (namePoolOf(a + b) === split) stems.push(a + b);
  const surnames: string[] = [];
  for (const a of SURNAME_ONSETS) for (const b of SURNAME_CODAS) if (namePoolOf(a + b) === split) surnames.push(a + b);
  const pools = { stems, surnames };
  poolCache.set(split, pools);
  return pools;
}

/** Draws names for one record without repeats, so no value appears in two of its documents. */
class NameDraw {
  private readonly usedStems = new Set<string>();
  private readonly usedSurnames = new Set<string>();
  private readonly usedValues = new Set<string>();
  constructor(private readonly rng: Rng, private readonly pools: Pools) {}
  stem(): string {
    for (let i = 0; i < 1000; i++) {
      const s = pick(this.rng, this.pools.stems);
      if (!this.usedStems.has(s)) { this.usedStems.add(s); return s; }
    }
    throw new RangeError("NameDraw: the stem pool is exhausted for one record");
  }
  person(): Person {
    for (let i = 0; i < 1000; i++) {
      const s = pick(this.rng, this.pools.surnames);
      if (this.usedSurnames.has(s)) continue;
      this.usedSurnames.add(s);
      const [first, pronoun] = pick(this.rng, FIRST_NAMES);
      return { name: `${first} ${s}`, pronoun };
    }
    throw new RangeError("NameDraw: the surname pool is exhausted for one record");
  }
  private readonly reserved = new Set<string>();
  /** Values that must never be drawn again in this record (the gold document's), even once fresh values run out. */
  reserve(values: Iterable<string>): void {
    for (const v of values) this.reserved.add(v);
  }
  /** A value (year, number, product) not yet used in this record; a reused one, never reserved, once none is left. */
  unique(make: () => string): string {
    for (let i = 0; i < 1000; i++) {
      const v = make();
      if (!this.usedValues.has(v)) { this.usedValues.add(v); return v; }
    }
    for (let i = 0; i < 1000; i++) {
      const v = make();
      if (!this.reserved.has(v)) return v;
    }
    throw new RangeError("NameDraw: could not draw a value outside the reserved ones");
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Entity types and their attributes

interface Names { E: string; e: string; title: string }
interface Value { text: string; aliases: string[]; person?: Person }
type Fact = (n: Names, v: string) => string;
type Ask = (n: Names) => string;

interface AttrDef {
  key: string;
  gen: (d: NameDraw, rng: Rng) => Value;
  facts: Fact[];
  questions: Ask[];
  response: (n: Names, v: string) => string;
}

interface TypeDef {
  type: string;
  names: (stem: string, rng: Rng) => Names;
  intros: Array<(n: Names) => string>;
  /** Value-free sentences used to pad a short document. */
  fillers: string[];
  attrs: AttrDef[];
  /** The attribute holding the person who made the entity (used by two-hop). */
  personKey: string;
  /** Verb phrase for two-hop questions: "built", "founded", ... and the role noun. */
  verb: string;
  role: string;
}

const fmt = (n: number): string => n.toLocaleString("en-US");
const numberValue = (n: number): Value => ({ text: fmt(n), aliases: n >= 1000 ? [fmt(n), String(n)] : [String(n)] });

function yearAttr(key: string, lo: number, hi: number, verb: string, noun: string, asks: Ask[], resp: (n: Names, v: string) => string): AttrDef {
  return {
    key,
    gen: (d, rng) => { const y = d.unique(() => String(randInt(rng, lo, hi))); return { text: y, aliases: [y] }; },
    facts: [
      (n, v) => `${n.E} was ${verb} in ${v}.`,
      (n, v) => `In ${v}, ${n.e} was ${verb}.`,
      (n, v) => `Records show that ${n.e} was ${verb} in ${v}.`,
      (n, v) => `The ${noun} of ${n.e} took place in ${v}.`,
      (n, v) => `${n.E} dates from ${v}, the year it was ${verb}.`,
    ],
    questions: asks,
    response: resp,
  };
}

function personAttr(key: string, verb: string, noun: string, role: string, asks: Ask[]): AttrDef {
  return {
    key,
    gen: (d) => { const p = d.person(); return { text: p.name, aliases: [p.name], person: p }; },
    facts: [
      (n, v) => `${n.E} was ${verb} by ${v}.`,
      (n, v) => `${v} ${verb} ${n.e}.`,
      (n, v) => `It was ${v} who ${verb} ${n.e}.`,
      (n, v) => `${v} is credited with the ${noun} of ${n.e}.`,
      (n, v) => `The ${role} of ${n.e} was ${v}.`,
    ],
    questions: asks,
    response: (n, v) => `${n.E} was ${verb} by ${v}.`,
  };
}

const town = (d: NameDraw): Value => { const s = d.stem(); return { text: s, aliases: [s] }; };

const TYPES: TypeDef[] = [
  {
    type: "town",
    names: (stem) => ({ E: stem, e: stem, title: stem }),
    fillers: ["Its old stone church is the oldest building still standing in the town.", "A weekly market fills the main square every summer.", "Many of its houses were rebuilt after a great fire."],
    intros: [
      (n) => `${n.E} is a market town set among low hills, with a cobbled square and a covered hall for traders.`,
      (n) => `${n.E} is a small river town known for its slate roofs and the narrow lanes of its old centre.`,
      (n) => `${n.E} is a quiet coastal town with a busy Saturday market and a harbour used mostly by fishing boats.`,
      (n) => `${n.E} is an old mill town whose brick chimneys can still be seen from the surrounding fields.`,
    ],
    personKey: "founder", verb: "founded", role: "founder",
    attrs: [
      yearAttr("year", 1480, 1890, "founded", "founding",
        [(n) => `When was ${n.e} founded?`, (n) => `In what year was the town of ${n.e} founded?`, (n) => `What year does the founding of ${n.e} date to?`],
        (n, v) => `${n.E} was founded in ${v}.`),
      personAttr("founder", "founded", "founding", "founder",
        [(n) => `Who founded ${n.e}?`, (n) => `Who was the founder of the town of ${n.e}?`, (n) => `Which person is credited with founding ${n.e}?`]),
      {
        key: "population",
        gen: (d, rng) => numberValue(Number(d.unique(() => String(randInt(rng, 12, 980) * 100 + randInt(rng, 0, 99))))),
        facts: [
          (n, v) => `${n.E} has a population of ${v}.`,
          (n, v) => `About ${v} people live in ${n.e} today.`,
          (n, v) => `${n.E} is home to ${v} residents.`,
          (n, v) => `The last census counted ${v} inhabitants in ${n.e}.`,
        ],
        questions: [(n) => `What is the population of ${n.e}?`, (n) => `How many people live in ${n.e}?`, (n) => `How many residents does ${n.e} have?`],
        response: (n, v) => `${n.E} has a population of ${v}.`,
      },
      {
        key: "region",
        gen: (d, rng) => {
          const s = d.stem();
          const form = pick(rng, [`the ${s} Valley`, `the province of ${s}`, `the ${s} Coast`, `the ${s} Highlands`]);
          return { text: form, aliases: [form.replace(/^the (province of )?/, "")] };
        },
        facts: [
          (n, v) => `${n.E} lies in ${v}.`,
          (n, v) => `${n.E} is located in ${v}.`,
          (n, v) => `${n.E} is one of the larger settlements of ${v}.`,
          (n, v) => `Travellers reach ${n.e} by the main road through ${v}.`,
        ],
        questions: [(n) => `In which region is ${n.e} located?`, (n) => `Where does the town of ${n.e} lie?`, (n) => `What region is ${n.e} in?`],
        response: (n, v) => `${n.E} is located in ${v}.`,
      },
      {
        key: "elevation",
        gen: (d, rng) => numberValue(Number(d.unique(() => String(randInt(rng, 40, 2400))))),
        facts: [
          (n, v) => `${n.E} sits ${v} metres above sea level.`,
          (n, v) => `The town centre of ${n.e} stands at an elevation of ${v} metres.`,
          (n, v) => `At ${v} metres above the sea, ${n.e} has cool summers.`,
          (n, v) => `${n.E} lies at an altitude of ${v} metres.`,
        ],
        questions: [(n) => `How high above sea level is ${n.e}?`, (n) => `What is the elevation of ${n.e} in metres?`, (n) => `At what altitude does ${n.e} lie?`],
        response: (n, v) => `${n.E} lies ${v} metres above sea level.`,
      },
    ],
  },
  {
    type: "island",
    names: (stem, rng) => pick(rng, [
      { E: `${stem} Island`, e: `${stem} Island`, title: `${stem} Island` },
      { E: `The Isle of ${stem}`, e: `the Isle of ${stem}`, title: `Isle of ${stem}` },
    ]),
    fillers: ["Puffins and gulls nest along its northern cliffs.", "The island has no airport, and visitors arrive by boat.", "Sheep graze freely across most of the interior."],
    intros: [
      (n) => `${n.E} is a rocky island with steep cliffs on its western shore and sheltered coves to the east.`,
      (n) => `${n.E} is a low, wind-swept island covered in heather, with a single road along its northern coast.`,
      (n) => `${n.E} is a volcanic island surrounded by coral reefs and visited mainly by divers and birdwatchers.`,
      (n) => `${n.E} is a thinly populated island known for its seabirds and the ruins of an old chapel.`,
    ],
    personKey: "discoverer", verb: "charted", role: "navigator who first charted",
    attrs: [
      yearAttr("year", 1500, 1850, "first charted", "first charting",
        [(n) => `When was ${n.e} first charted?`, (n) => `In what year was ${n.e} first put on a map?`, (n) => `What year was ${n.e} first charted?`],
        (n, v) => `${n.E} was first charted in ${v}.`),
      personAttr("discoverer", "charted", "charting", "navigator who first charted",
        [(n) => `Who first charted ${n.e}?`, (n) => `Which navigator charted ${n.e}?`, (n) => `Who put ${n.e} on the map?`]),
      {
        key: "area",
        gen: (d, rng) => numberValue(Number(d.unique(() => String(randInt(rng, 3, 2900))))),
        facts: [
          (n, v) => `${n.E} covers an area of ${v} square kilometres.`,
          (n, v) => `With ${v} square kilometres of land, ${n.e} is larger than it looks from the sea.`,
          (n, v) => `The total area of ${n.e} is ${v} square kilometres.`,
          (n, v) => `${n.E} measures ${v} square kilometres in all.`,
        ],
        questions: [(n) => `How large is ${n.e}?`, (n) => `What is the area of ${n.e} in square kilometres?`, (n) => `How many square kilometres does ${n.e} cover?`],
        response: (n, v) => `${n.E} covers ${v} square kilometres.`,
      },
      {
        key: "sea",
        gen: (d) => { const s = d.stem(); return { text: `the ${s} Sea`, aliases: [`${s} Sea`] }; },
        facts: [
          (n, v) => `${n.E} lies in ${v}.`,
          (n, v) => `${n.E} rises from the waters of ${v}.`,
          (n, v) => `Ferries cross ${v} to reach ${n.e}.`,
          (n, v) => `${n.E} is the largest island in ${v}.`,
        ],
        questions: [(n) => `In which sea does ${n.e} lie?`, (n) => `What body of water surrounds ${n.e}?`, (n) => `Which sea is ${n.e} in?`],
        response: (n, v) => `${n.E} lies in ${v}.`,
      },
      {
        key: "peak",
        gen: (d, rng) => numberValue(Number(d.unique(() => String(randInt(rng, 60, 1900))))),
        facts: [
          (n, v) => `The highest point on ${n.e} reaches ${v} metres.`,
          (n, v) => `${n.E} rises to a summit of ${v} metres.`,
          (n, v) => `Its central ridge gives ${n.e} a highest point of ${v} metres.`,
          (n, v) => `A beacon marks the top of ${n.e}, ${v} metres above the sea.`,
        ],
        questions: [(n) => `How high is the highest point of ${n.e}?`, (n) => `What is the elevation of the summit of ${n.e}?`, (n) => `How many metres does ${n.e} rise to at its highest point?`],
        response: (n, v) => `The highest point of ${n.e} is ${v} metres above sea level.`,
      },
    ],
  },
  {
    type: "company",
    names: (stem, rng) => {
      const suffix = pick(rng, ["Instruments", "Ironworks", "Textiles", "Shipping Company", "Porcelain Works", "Optical Company"]);
      return { E: `${stem} ${suffix}`, e: `${stem} ${suffix}`, title: `${stem} ${suffix}` };
    },
    fillers: ["The firm has stayed independent through several economic downturns.", "Its products are sold through a network of local dealers.", "The company still keeps its founding ledgers on display."],
    intros: [
      (n) => `${n.E} is a family-owned manufacturer that has kept the same name since its earliest days.`,
      (n) => `${n.E} is a mid-sized firm with a long export history and a reputation for careful work.`,
      (n) => `${n.E} is a private company that still runs its original workshop alongside a newer factory.`,
      (n) => `${n.E} began as a small workshop and grew slowly, one contract at a time.`,
    ],
    personKey: "founder", verb: "founded", role: "founder",
    attrs: [
      yearAttr("year", 1780, 1990, "founded", "founding",
        [(n) => `When was ${n.e} founded?`, (n) => `In what year was ${n.e} established?`, (n) => `What year was the company ${n.e} founded?`],
        (n, v) => `${n.E} was founded in ${v}.`),
      personAttr("founder", "founded", "founding", "founder",
        [(n) => `Who founded ${n.e}?`, (n) => `Who is the founder of ${n.e}?`, (n) => `Which person started ${n.e}?`]),
      {
        key: "headquarters",
        gen: town,
        facts: [
          (n, v) => `${n.E} has its headquarters in ${v}.`,
          (n, v) => `The head office of ${n.e} is in the town of ${v}.`,
          (n, v) => `${n.E} is based in ${v}.`,
          (n, v) => `From its offices in ${v}, ${n.e} sells across the region.`,
        ],
        questions: [(n) => `Where is ${n.e} headquartered?`, (n) => `In which town is ${n.e} based?`, (n) => `Where is the head office of ${n.e}?`],
        response: (n, v) => `${n.E} is headquartered in ${v}.`,
      },
      {
        key: "employees",
        gen: (d, rng) => numberValue(Number(d.unique(() => String(randInt(rng, 14, 9800))))),
        facts: [
          (n, v) => `${n.E} employs ${v} people.`,
          (n, v) => `On its payroll ${n.e} counts ${v} employees.`,
          (n, v) => `About ${v} staff work for ${n.e}.`,
          (n, v) => `${n.E} has a workforce of ${v}.`,
        ],
        questions: [(n) => `How many people does ${n.e} employ?`, (n) => `How many employees does ${n.e} have?`, (n) => `What is the size of the workforce at ${n.e}?`],
        response: (n, v) => `${n.E} employs ${v} people.`,
      },
      {
        key: "product",
        gen: (d, rng) => {
          const p = d.unique(() => pick(rng, ["marine barometers", "copper kettles", "woollen blankets", "bicycle frames", "glass lenses", "ceramic tiles", "pocket watches", "rope and netting", "typewriter ribbons", "brass valves", "felt hats", "garden tools"]));
          return { text: p, aliases: [p] };
        },
        facts: [
          (n, v) => `${n.E} is best known for its ${v}.`,
          (n, v) => `The main products of ${n.e} are ${v}.`,
          (n, v) => `${n.E} makes ${v}.`,
          (n, v) => `Most of the revenue of ${n.e} comes from ${v}.`,
        ],
        questions: [(n) => `What does ${n.e} make?`, (n) => `What is ${n.e} best known for producing?`, (n) => `Which products does ${n.e} manufacture?`],
        response: (n, v) => `${n.E} is best known for making ${v}.`,
      },
    ],
  },
  {
    type: "ship",
    names: (stem, rng) => {
      const n = pick(rng, [`SS ${stem}`, `MV ${stem}`, `${stem}`]);
      return { E: `The ${n}`, e: `the ${n}`, title: n };
    },
    fillers: ["She was known among sailors as a steady ship in rough weather.", "Her bell is now kept in a maritime museum.", "She was eventually sold for scrap after a long career."],
    intros: [
      (n) => `${n.E} was a steel-hulled cargo steamer that carried grain, timber and coal along the coast.`,
      (n) => `${n.E} was a passenger ferry with two funnels and a dining saloon on her upper deck.`,
      (n) => `${n.E} was a three-masted sailing ship built for long trading voyages.`,
      (n) => `${n.E} was a coastal mail ship that also carried a small number of passengers.`,
    ],
    personKey: "designer", verb: "designed", role: "designer",
    attrs: [
      yearAttr("year", 1820, 1960, "launched", "launch",
        [(n) => `When was ${n.e} launched?`, (n) => `In what year was ${n.e} launched?`, (n) => `What year did ${n.e} first take to the water?`],
        (n, v) => `${n.E} was launched in ${v}.`),
      personAttr("designer", "designed", "design", "designer",
        [(n) => `Who designed ${n.e}?`, (n) => `Who was the designer of ${n.e}?`, (n) => `Which naval architect designed ${n.e}?`]),
      {
        key: "port",
        gen: town,
        facts: [
          (n, v) => `${n.E} sailed from her home port of ${v}.`,
          (n, v) => `The home port of ${n.e} was ${v}.`,
          (n, v) => `${n.E} was registered in the port of ${v}.`,
          (n, v) => `For most of her career ${n.e} was based at ${v}.`,
        ],
        questions: [(n) => `What was the home port of ${n.e}?`, (n) => `Where was ${n.e} registered?`, (n) => `From which port did ${n.e} sail?`],
        response: (n, v) => `The home port of ${n.e} was ${v}.`,
      },
      {
        key: "length",
        gen: (d, rng) => numberValue(Number(d.unique(() => String(randInt(rng, 28, 310))))),
        facts: [
          (n, v) => `${n.E} was ${v} metres long.`,
          (n, v) => `With a length of ${v} metres, ${n.e} was large for her day.`,
          (n, v) => `${n.E} measured ${v} metres from bow to stern.`,
          (n, v) => `The hull of ${n.e} was ${v} metres in length.`,
        ],
        questions: [(n) => `How long was ${n.e}?`, (n) => `What was the length of ${n.e} in metres?`, (n) => `How many metres long was ${n.e}?`],
        response: (n, v) => `${n.E} was ${v} metres long.`,
      },
      {
        key: "voyage",
        gen: (d, rng) => { const k = Number(d.unique(() => String(randInt(rng, 3, 61)))); return { text: `${k} days`, aliases: [`${k} days`] }; },
        facts: [
          (n, v) => `The maiden voyage of ${n.e} lasted ${v}.`,
          (n, v) => `On her first voyage, ${n.e} spent ${v} at sea.`,
          (n, v) => `${n.E} completed her maiden voyage in ${v}.`,
          (n, v) => `It took ${n.e} ${v} to finish her first crossing.`,
        ],
        questions: [(n) => `How long did the maiden voyage of ${n.e} last?`, (n) => `How many days did ${n.e} spend on her first voyage?`, (n) => `What was the duration of ${n.e}'s maiden voyage?`],
        response: (n, v) => `The maiden voyage of ${n.e} lasted ${v}.`,
      },
    ],
  },
  {
    type: "bridge",
    names: (stem, rng) => {
      const n = pick(rng, [`${stem} Bridge`, `${stem} Viaduct`]);
      return { E: `The ${n}`, e: `the ${n}`, title: n };
    },
    fillers: ["The bridge was widened once to carry heavier traffic.", "Local people often walk across it on summer evenings.", "It is lit with lamps after dark."],
    intros: [
      (n) => `${n.E} is a stone arch bridge whose pale blocks were cut from a nearby quarry.`,
      (n) => `${n.E} is a steel truss bridge carrying a railway line over open water.`,
      (n) => `${n.E} is a suspension bridge painted dark green, with two tall towers at either end.`,
      (n) => `${n.E} is a narrow road bridge with a footpath on one side and iron railings.`,
    ],
    personKey: "builder", verb: "built", role: "builder",
    attrs: [
      yearAttr("year", 1700, 1980, "completed", "completion",
        [(n) => `When was ${n.e} completed?`, (n) => `In what year was ${n.e} finished?`, (n) => `What year was ${n.e} completed?`],
        (n, v) => `${n.E} was completed in ${v}.`),
      personAttr("builder", "built", "building", "builder",
        [(n) => `Who built ${n.e}?`, (n) => `Which engineer built ${n.e}?`, (n) => `Who was responsible for building ${n.e}?`]),
      {
        key: "river",
        gen: (d) => { const s = d.stem(); return { text: `the ${s} River`, aliases: [`${s} River`, s] }; },
        facts: [
          (n, v) => `${n.E} spans ${v}.`,
          (n, v) => `${n.E} carries traffic across ${v}.`,
          (n, v) => `${n.E} crosses ${v} at its narrowest point.`,
          (n, v) => `Below ${n.e} flows ${v}.`,
        ],
        questions: [(n) => `Which river does ${n.e} cross?`, (n) => `What river does ${n.e} span?`, (n) => `Over which river does ${n.e} pass?`],
        response: (n, v) => `${n.E} crosses ${v}.`,
      },
      {
        key: "length",
        gen: (d, rng) => numberValue(Number(d.unique(() => String(randInt(rng, 35, 2600))))),
        facts: [
          (n, v) => `${n.E} is ${v} metres long.`,
          (n, v) => `The total length of ${n.e} is ${v} metres.`,
          (n, v) => `${n.E} stretches for ${v} metres.`,
          (n, v) => `At ${v} metres, ${n.e} is the longest crossing in the area.`,
        ],
        questions: [(n) => `How long is ${n.e}?`, (n) => `What is the length of ${n.e} in metres?`, (n) => `How many metres long is ${n.e}?`],
        response: (n, v) => `${n.E} is ${v} metres long.`,
      },
      {
        key: "construction",
        gen: (d, rng) => { const k = Number(d.unique(() => String(randInt(rng, 2, 40)))); return { text: `${k} years`, aliases: [`${k} years`] }; },
        facts: [
          (n, v) => `Construction of ${n.e} took ${v}.`,
          (n, v) => `Work on ${n.e} lasted ${v}.`,
          (n, v) => `${n.E} took ${v} to build.`,
          (n, v) => `Builders spent ${v} on ${n.e}.`,
        ],
        questions: [(n) => `How long did it take to build ${n.e}?`, (n) => `How many years did construction of ${n.e} take?`, (n) => `How long did work on ${n.e} last?`],
        response: (n, v) => `Building ${n.e} took ${v}.`,
      },
    ],
  },
  {
    type: "invention",
    names: (stem, rng) => {
      const n = pick(rng, ["loom", "press", "lamp", "pump", "telegraph", "calculator", "seed drill"]);
      return { E: `The ${stem} ${n}`, e: `the ${stem} ${n}`, title: `${stem} ${n}` };
    },
    fillers: ["Several working copies survive in private collections.", "Its design was improved by many later engineers.", "Early models often broke down and needed careful oiling."],
    intros: [
      (n) => `${n.E} is an early mechanical device built from iron, brass and oak.`,
      (n) => `${n.E} was a machine that changed work in small factories and was copied by many rivals.`,
      (n) => `${n.E} is a hand-operated device still shown in museums and at historical fairs.`,
      (n) => `${n.E} was a clever, if heavy, invention that took years to become popular.`,
    ],
    personKey: "inventor", verb: "invented", role: "inventor",
    attrs: [
      yearAttr("year", 1750, 1950, "patented", "patenting",
        [(n) => `When was ${n.e} patented?`, (n) => `In what year was ${n.e} patented?`, (n) => `What year did ${n.e} receive its patent?`],
        (n, v) => `${n.E} was patented in ${v}.`),
      personAttr("inventor", "invented", "invention", "inventor",
        [(n) => `Who invented ${n.e}?`, (n) => `Who was the inventor of ${n.e}?`, (n) => `Which person came up with ${n.e}?`]),
      {
        key: "demonstrated",
        gen: town,
        facts: [
          (n, v) => `${n.E} was first demonstrated in ${v}.`,
          (n, v) => `The first public demonstration of ${n.e} was held in ${v}.`,
          (n, v) => `Crowds in ${v} saw ${n.e} work for the first time.`,
          (n, v) => `${n.E} was shown to the public at a fair in ${v}.`,
        ],
        questions: [(n) => `Where was ${n.e} first demonstrated?`, (n) => `In which town was ${n.e} first shown to the public?`, (n) => `Where did the first demonstration of ${n.e} take place?`],
        response: (n, v) => `${n.E} was first demonstrated in ${v}.`,
      },
      {
        key: "weight",
        gen: (d, rng) => numberValue(Number(d.unique(() => String(randInt(rng, 4, 1900))))),
        facts: [
          (n, v) => `${n.E} weighs ${v} kilograms.`,
          (n, v) => `A working ${n.title} weighs about ${v} kilograms.`,
          (n, v) => `${n.E} has a mass of ${v} kilograms.`,
          (n, v) => `At ${v} kilograms, ${n.e} needs two people to move it.`,
        ],
        questions: [(n) => `How much does ${n.e} weigh?`, (n) => `What is the weight of ${n.e} in kilograms?`, (n) => `How many kilograms does ${n.e} weigh?`],
        response: (n, v) => `${n.E} weighs ${v} kilograms.`,
      },
    ],
  },
];

// People, for the second hop.

interface PersonDoc { text: string; birthplace: Value; school: Value }

const PROFESSIONS = ["an engineer", "a surveyor", "an architect", "a shipwright", "a merchant", "a clockmaker", "a chemist", "a mapmaker"];

function personDocument(rng: Rng, d: NameDraw, p: Person): PersonDoc {
  const birthplace = town(d);
  const schoolStem = d.stem();
  const schoolText = pick(rng, [`the University of ${schoolStem}`, `the ${schoolStem} Institute`, `${schoolStem} College`, `the ${schoolStem} Academy`]);
  const school: Value = { text: schoolText, aliases: [schoolText.replace(/^the /, "")] };
  const born = d.unique(() => String(randInt(rng, 1700, 1930)));
  const P = p.name;
  const He = capitalize(p.pronoun);
  const his = p.pronoun === "he" ? "his" : "her";
  const prof = pick(rng, PROFESSIONS);
  const birthFacts = [
    `${P} was born in ${birthplace.text} in ${born}.`,
    `Born in ${born} in the town of ${birthplace.text}, ${P} was ${prof}.`,
    `${P} was a native of ${birthplace.text}, where ${p.pronoun} was born in ${born}.`,
    `${birthplace.text} was the birthplace of ${P}, who was born there in ${born}.`,
  ];
  const schoolFacts = [
    `${He} studied at ${school.text}.`,
    `${P} trained at ${school.text}.`,
    `As a young student, ${P} attended ${school.text}.`,
    `${He} received ${his} education at ${school.text}.`,
  ];
  const birth = pick(rng, birthFacts);
  const extras = [
    ...(birth.includes(prof) ? [] : [`${P} worked as ${prof} for most of ${his} life and took on several apprentices.`]),
    `${He} was known for ${his} careful notebooks, which are now kept in a small local archive.`,
    `${He} spent ${his} later years writing letters to former students and colleagues.`,
    `${P} travelled widely before settling down in a house by the harbour.`,
    `Colleagues remembered ${P} as patient, exacting and generous with ${his} time.`,
  ];
  const sentences = [birth, pick(rng, schoolFacts), ...shuffled(rng, extras).slice(0, randInt(rng, 2, 3))];
  const body = shuffled(rng, sentences.slice(1));
  const ordered = rng() < 0.7 ? [sentences[0] as string, ...body] : [body[0] as string, sentences[0] as string, ...body.slice(1)];
  let body2 = ordered;
  for (const e of extras) { if (wordCount(body2.join(" ")) >= 50 || body2.length >= 6) break; if (!body2.includes(e)) body2 = [...body2, e]; }
  const text = rng() < 0.35 ? `${P}\n${body2.join(" ")}` : body2.join(" ");
  return { text, birthplace, school };
}

interface EntityDoc { text: string; names: Names; values: Map<string, Value> }

/** One document about one entity; `must` attributes are always included. */
function entityDocument(rng: Rng, d: NameDraw, t: TypeDef, must: string[]): EntityDoc {
  const names = t.names(d.stem(), rng);
  const values = new Map<string, Value>();
  const others = shuffled(rng, t.attrs.filter((a) => !must.includes(a.key)));
  const chosen = [...t.attrs.filter((a) => must.includes(a.key)), ...others.slice(0, randInt(rng, 2, others.length))];
  const facts: string[] = [];
  for (const a of shuffled(rng, chosen)) {
    const v = a.gen(d, rng);
    values.set(a.key, v);
    facts.push(pick(rng, a.facts)(names, v.text));
  }
  const intro = pick(rng, t.intros)(names);
  let sentences = facts.length >= 5 && rng() < 0.3 ? facts : [intro, ...facts];
  for (const f of shuffled(rng, t.fillers)) {
    if (wordCount(sentences.join(" ")) >= 50 || sentences.length >= 6) break;
    sentences = [...sentences.slice(0, 1), ...shuffled(rng, [...sentences.slice(1), f])];
  }
  const text = sentences.join(" ");
  return { text: rng() < 0.4 ? `${names.title}\n${text}` : text, names, values };
}

// ---------------------------------------------------------------------------------------------------------------
// Records

interface Draft { kind: "single" | "two-hop"; gold: string[]; distractors: string[]; question: string; answer: string[]; response: string; tag: string }

function singleDraft(rng: Rng, pools: Pools, nDistractors: number): Draft {
  const t = pick(rng, TYPES);
  const attr = pick(rng, t.attrs);
  const d = new NameDraw(rng, pools);
  const gold = entityDocument(rng, d, t, [attr.key]);
  const v = gold.values.get(attr.key) as Value;
  d.reserve([...gold.values.values()].map((x) => x.text.replace(/ (days|years)$/, "")));
  const distractors = Array.from({ length: nDistractors }, () => entityDocument(rng, d, t, [attr.key]).text);
  return {
    kind: "single",
    gold: [gold.text],
    distractors,
    question: pick(rng, attr.questions)(gold.names),
    answer: v.aliases,
    response: attr.response(gold.names, v.text),
    tag: `${t.type}-${attr.key}`,
  };
}

function twoHopDraft(rng: Rng, pools: Pools, nDistractors: number): Draft {
  const t = pick(rng, TYPES);
  const d = new NameDraw(rng, pools);
  const a = entityDocument(rng, d, t, [t.personKey]);
  const p = (a.values.get(t.personKey) as Value).person as Person;
  const b = personDocument(rng, d, p);
  d.reserve([b.birthplace.text, b.school.text]);
  const askSchool = rng() < 0.3;
  const e = a.names.e;
  const question = askSchool
    ? pick(rng, [`Where did the ${t.role} of ${e} study?`, `At which school was the person who ${t.verb} ${e} educated?`, `Where was the ${t.role} of ${e} trained?`])
    : pick(rng, [
      `Where was the person who ${t.verb} ${e} born?`,
      `In which town was the ${t.role} of ${e} born?`,
      `What is the birthplace of the person who ${t.verb} ${e}?`,
      `The ${t.role} of ${e} was born where?`,
    ]);
  const v = askSchool ? b.school : b.birthplace;
  const response = askSchool
    ? `${e === a.names.E ? e : capitalize(e)} was ${t.verb} by ${p.name}, who studied at ${v.text}.`
    : `${capitalize(e)} was ${t.verb} by ${p.name}, who was born in ${v.text}.`;
  // Distractors: same-type entities made by other people, and those people's own biographies.
  const distractors: string[] = [];
  while (distractors.length < nDistractors) {
    const other = entityDocument(rng, d, t, [t.personKey]);
    distractors.push(other.text);
    if (distractors.length < nDistractors) {
      const q = (other.values.get(t.personKey) as Value).person as Person;
      distractors.push(personDocument(rng, d, q).text);
    }
  }
  return { kind: "two-hop", gold: [a.text, b.text], distractors, question, answer: v.aliases, response, tag: `${t.type}-${askSchool ? "school" : "birthplace"}` };
}

/** Builds a draft whose answer is in every gold document and in no distractor. */
function checkedDraft(rng: Rng, pools: Pools, kind: "single" | "two-hop", nDistractors: number): Draft {
  for (let attempt = 0; attempt < 200; attempt++) {
    const draft = kind === "single" ? singleDraft(rng, pools, nDistractors) : twoHopDraft(rng, pools, nDistractors);
    const goldOk = kind === "single"
      ? mentionsAnswer(draft.gold[0] as string, draft.answer)
      : mentionsAnswer(draft.gold[1] as string, draft.answer);
    const cleanDistractors = draft.distractors.every((t) => !containsAnswer(t, draft.answer));
    const cleanFirstHop = kind === "single" || !containsAnswer(draft.gold[0] as string, draft.answer);
    const lengthsOk = [...draft.gold, ...draft.distractors].every((t) => { const w = wordCount(t); return w >= 50 && w <= 120; });
    if (goldOk && cleanDistractors && cleanFirstHop && lengthsOk) return draft;
  }
  throw new Error(`synthetic: could not build a clean ${kind} record in 200 attempts`);
}

/** Places the gold documents at the given slots and the distractors, shuffled, everywhere else. */
function place(rng: Rng, draft: Draft, slots: number[]): { documents: string[]; gold: number[] } {
  const n = draft.gold.length + draft.distractors.length;
  const documents: string[] = new Array<string>(n);
  slots.forEach((s, i) => { documents[s] = draft.gold[i] as string; });
  const rest = shuffled(rng, draft.distractors);
  for (let i = 0; i < n; i++) if (documents[i] === undefined) documents[i] = rest.shift() as string;
  return { documents, gold: slots.slice() };
}

export interface SyntheticEvalOptions { seed: number; split: EvalSplit; count: number; singleFraction?: number }

/**
 * The committed dev/test sets: 5 documents per record; single-hop gold slots cycle 0..4 and two-hop slot pairs
 * cycle over all ten pairs, so every slot is gold equally often when counts are multiples of 5 and 10.
 */
export function generateSyntheticEval(opts: SyntheticEvalOptions): QaRecord[] {
  const rng = mulberry32(opts.seed);
  const pools = poolsFor(opts.split);
  const nSingle = Math.round(opts.count * (opts.singleFraction ?? 0.6));
  const pairs: number[][] = [];
  for (let i = 0; i < 5; i++) for (let j = i + 1; j < 5; j++) pairs.push([i, j]);
  const singleSlots = shuffled(rng, Array.from({ length: nSingle }, (_, i) => i % 5));
  const pairSlots = shuffled(rng, Array.from({ length: opts.count - nSingle }, (_, i) => pairs[i % pairs.length] as number[]));
  const kinds = shuffled(rng, [...Array<"single">(nSingle).fill("single"), ...Array<"two-hop">(opts.count - nSingle).fill("two-hop")]);
  const out: QaRecord[] = [];
  kinds.forEach((kind, i) => {
    const draft = checkedDraft(rng, pools, kind, kind === "single" ? 4 : 3);
    const slots = kind === "single" ? [singleSlots.shift() as number] : (rng() < 0.5 ? (pairSlots.shift() as number[]) : (pairSlots.shift() as number[]).slice().reverse());
    const placed = place(rng, draft, slots);
    out.push({
      id: `synthetic-${opts.split}-${String(i).padStart(3, "0")}-${draft.tag}`,
      dataset: "synthetic", split: opts.split, kind, documents: placed.documents, question: draft.question, answer: draft.answer, gold: placed.gold,
    });
  });
  return out;
}

export interface SyntheticTrainOptions { seed: number; count: number; split?: "train"; minDocs?: number; maxDocs?: number; twoHopFraction?: number }

/** Training items from the train name pool: minDocs..maxDocs documents (default 1..20), random gold slots, with `response`. */
export function generateSyntheticExamples(opts: SyntheticTrainOptions): TrainingRecord[] {
  if (opts.split !== undefined && opts.split !== "train") throw new RangeError(`generateSyntheticExamples: expected split "train", got "${String(opts.split)}"`);
  const minDocs = opts.minDocs ?? 1;
  const maxDocs = opts.maxDocs ?? 20;
  if (!(minDocs >= 1 && maxDocs >= minDocs)) throw new RangeError(`generateSyntheticExamples: expected 1 <= minDocs <= maxDocs, got ${minDocs}..${maxDocs}`);
  const rng = mulberry32(opts.seed);
  const pools = poolsFor("train");
  const out: TrainingRecord[] = [];
  for (let i = 0; i < opts.count; i++) {
    const n = randInt(rng, minDocs, maxDocs);
    const kind = n >= 2 && rng() < (opts.twoHopFraction ?? 0.4) ? "two-hop" : "single";
    const draft = checkedDraft(rng, pools, kind, n - (kind === "single" ? 1 : 2));
    const order = shuffled(rng, Array.from({ length: n }, (_, k) => k));
    const slots = order.slice(0, draft.gold.length);
    const placed = place(rng, draft, slots);
    out.push({
      id: `synthetic-train-${opts.seed}-${i}-${draft.tag}`,
      dataset: "synthetic", split: "train", kind, documents: placed.documents, question: draft.question, answer: draft.answer, gold: placed.gold,
      response: draft.response,
    });
  }
  return out;
}

/** Every coined name of a pool (stems and surnames), for tests and audits. */
export function syntheticNamePool(split: Split): { stems: readonly string[]; surnames: readonly string[] } {
  return poolsFor(split);
}

export { normalizeAnswer };
