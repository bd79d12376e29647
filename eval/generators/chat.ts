/** Plain chat prompts without documents: a hand-written dev set and a template generator for training. */
import { mulberry32, pick, randInt } from "./random.js";
import { wikiSplitOf } from "./wiki.js";
import type { Article } from "./types.js";

/** Hand-written for this project; checks that the fine-tuned model still answers like the base model. */
export const CHAT_PROMPTS: readonly string[] = [
  "What is the boiling point of water at sea level in Celsius?",
  "Which planet is closest to the Sun?",
  "How many legs does a spider have?",
  "What language is mostly spoken in Brazil?",
  "Who painted the Mona Lisa?",
  "What gas do plants take in from the air to make sugar?",
  "How many minutes are there in three hours?",
  "What is 17 times 6?",
  "If a train leaves at 9:40 and the trip takes 85 minutes, when does it arrive?",
  "A shirt costs 40 dollars and is 25 percent off. What is the sale price?",
  "What is the square root of 144?",
  "I have 3 apples and buy 2 bags of 5 apples each. How many apples do I have now?",
  "Why is the sky blue during the day?",
  "Why do we have seasons on Earth?",
  "Can you explain what a computer virus is in two sentences?",
  "What does a thermostat do?",
  "How does a refrigerator keep food cold?",
  "What is the difference between weather and climate?",
  "Explain what compound interest means using a simple example.",
  "What causes thunder?",
  "How do I boil an egg so the yolk stays a bit soft?",
  "How can I get a stubborn jar lid open?",
  "What is a good way to start learning to play the guitar?",
  "How do I remove a coffee stain from a cotton shirt?",
  "Give me a simple recipe for pancakes.",
  "What should I pack for a two-day hiking trip?",
  "How do I change a flat tyre on a bicycle?",
  "Write a short poem about rain on a tin roof.",
  "Write a two-sentence story about a lost umbrella.",
  "Suggest three names for a small bakery by the sea.",
  "Write a polite email asking my landlord to fix a leaking tap.",
  "Write a thank-you note to a neighbour who watered my plants.",
  "Describe an autumn morning in a few sentences.",
  "Make up a riddle whose answer is a shadow.",
  "I get nervous before speaking in meetings. Any tips?",
  "How can I fall asleep faster at night?",
  "What are some cheap ways to stay busy on a rainy weekend?",
  "I keep forgetting to drink water during the day. What can I do?",
  "How should I prepare for a job interview tomorrow?",
  "My friend is upset with me and I don't know why. How should I bring it up?",
  "Is it better to study in one long session or several short ones?",
  "Translate 'good morning, how are you?' into French.",
  "What is the plural of 'mouse'?",
  "Correct the grammar in this sentence: 'She don't like apples.'",
  "What does the word 'ephemeral' mean?",
  "Give me a synonym for 'happy' and use it in a sentence.",
  "Summarise the plot of Little Red Riding Hood in one sentence.",
  "Hi! How are you today?",
  "Tell me a joke about cats.",
  "What is your favourite colour, and why?",
  "Can you recommend a board game for four players?",
  "What is the capital of Canada?",
  "How far is the Moon from the Earth, roughly?",
  "Which is heavier, a kilogram of feathers or a kilogram of iron?",
  "Convert 5 kilometres to miles.",
  "What year did the first person walk on the Moon?",
  "List the primary colours.",
  "What is the main job of the heart?",
  "In Python, how do I reverse a list?",
  "What does HTML stand for?",
  "Sort these numbers from smallest to largest: 42, 7, 19, 3, 88.",
  "What are two benefits of regular exercise?",
];

const TOPIC_TEMPLATES: ReadonlyArray<(x: string) => string> = [
  (x) => `What is ${x}?`,
  (x) => `Give me three facts about ${x}.`,
  (x) => `Explain ${x} to a child.`,
  (x) => `Write a haiku about ${x}.`,
  (x) => `Tell me briefly about ${x}.`,
  (x) => `Why is ${x} important?`,
  (x) => `Write one sentence describing ${x}.`,
  (x) => `What should a beginner know about ${x}?`,
];

const HOWTO: readonly string[] = [
  "tie a bowline knot", "make a cup of tea", "water a cactus", "clean a cast iron pan", "fold a paper aeroplane",
  "plant tomato seeds", "write a to-do list", "back up files on a laptop", "iron a shirt", "sharpen a pencil with a knife",
  "make a budget for a month", "set up a fish tank", "learn a new word every day", "stretch before running", "pack a suitcase",
];

export interface ChatPromptOptions { seed: number; count: number; articles?: readonly Article[] }

/** Training prompts from templates: topics from train-split article titles, arithmetic and how-to; never a dev prompt. */
export function generateChatPrompts(opts: ChatPromptOptions): string[] {
  const rng = mulberry32(opts.seed);
  const titles = (opts.articles ?? []).filter((a) => wikiSplitOf(a.title) === "train").map((a) => a.title.replace(/ \(.*\)$/, ""));
  const dev = new Set(CHAT_PROMPTS);
  const out: string[] = [];
  for (let tries = 0; out.length < opts.count && tries < opts.count * 20; tries++) {
    const r = rng();
    let p: string;
    if (r < 0.55 && titles.length > 0) p = pick(rng, TOPIC_TEMPLATES)(pick(rng, titles));
    else if (r < 0.8) {
      const a = randInt(rng, 2, 99);
      const b = randInt(rng, 2, 99);
      p = pick(rng, [`What is ${a} plus ${b}?`, `What is ${a} multiplied by ${b}?`, `Compute ${a * b} minus ${b}.`, `What is ${a} minus ${b}?`, `If I have ${a} coins and get ${b} more, how many coins do I have?`]);
    } else p = pick(rng, [`How do I ${pick(rng, HOWTO)}?`, `What are the steps to ${pick(rng, HOWTO)}?`, `Give me tips on how to ${pick(rng, HOWTO)}.`]);
    if (!dev.has(p)) out.push(p);
  }
  return out;
}
