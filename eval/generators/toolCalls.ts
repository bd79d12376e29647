/**
 * Tool-calling records: a conversation with tools bound (OpenAI-format definitions) and what a right answer is.
 *   call     the user asks for something a bound tool does: the answer is one call, right tool, right arguments;
 *   no_call  tools are bound but none fits the question: the answer is text, no call;
 *   answer   the call was made and its result came back: the answer is text stating the result, no new call.
 * Tool families are split (train / dev / test) by family, so dev and test measure tools never seen in training;
 * weather and addition, the tools LangChain's standard tests bind, are test families. Seeded, offline.
 */
import { mulberry32, pick, randInt, shuffled, type Rng } from "./random.js";
import type { Split } from "./types.js";

export interface ToolDefinitionRecord {
  readonly type: "function";
  readonly function: { readonly name: string; readonly description: string; readonly parameters: Record<string, unknown> };
}

export type ToolMessageRecord =
  | { readonly role: "system" | "user"; readonly content: string }
  | { readonly role: "assistant"; readonly content: string; readonly toolCalls: readonly { id: string; name: string; args: Record<string, unknown> }[] }
  | { readonly role: "tool"; readonly content: string; readonly toolCallId: string; readonly name: string };

export interface ToolCallRecord {
  readonly id: string;
  readonly split: Split;
  readonly kind: "call" | "no_call" | "answer";
  readonly family: string;
  readonly tools: readonly ToolDefinitionRecord[];
  readonly messages: readonly ToolMessageRecord[];
  /** kind "call": the expected call. */
  readonly call?: { readonly name: string; readonly args: Record<string, unknown> };
  /** kind "answer": aliases of the result, one of which the text must contain (SQuAD-normalised). */
  readonly answer?: readonly string[];
  /** kind "answer": a reply in the style of the training targets (training only). */
  readonly reply?: string;
}

type Args = Record<string, string | number>;
interface Family {
  readonly family: string;
  readonly split: Split;
  /** Name variants (snake_case, camelCase, …); one is drawn per record. */
  readonly names: readonly string[];
  readonly description: string;
  readonly properties: Record<string, { type: "string" | "number" | "integer"; description: string; enum?: readonly string[] }>;
  readonly required: readonly string[];
  /** Draws arguments and a request phrased by a user. */
  readonly ask: (rng: Rng) => { args: Args; text: string };
  /** The tool's result for those arguments and the reply stating it. */
  readonly result: (args: Args, rng: Rng) => { content: string; answer: string[]; reply: string };
}

const CITIES = ["Paris", "Tokyo", "Nairobi", "Lima", "Oslo", "Toronto", "Cairo", "Sydney", "Mumbai", "Berlin", "Denver", "Seoul", "Madrid", "Austin", "Hanoi", "Dublin", "Quito", "Perth", "Accra", "Boston"];
const COUNTRIES = ["France", "Japan", "Kenya", "Peru", "Norway", "Canada", "Egypt", "Brazil", "India", "Germany", "Chile", "Ghana", "Spain", "Vietnam", "Ireland", "Mexico"];
const WORDS = ["serendipity", "ephemeral", "lucid", "gregarious", "candid", "arduous", "benevolent", "meticulous", "resilient", "whimsical", "tenacious", "verbose"];
const LANGUAGES = ["French", "Spanish", "German", "Japanese", "Italian", "Portuguese", "Swahili", "Korean"];
const CURRENCIES = ["USD", "EUR", "JPY", "GBP", "CAD", "INR", "AUD", "CHF"];
const SYMBOLS = ["AAPL", "MSFT", "TSLA", "AMZN", "NVDA", "IBM", "ORCL", "SONY"];
const PEOPLE = ["Maria", "Kenji", "Amara", "Lucas", "Priya", "Omar", "Elena", "Tomas", "Ines", "Kwame"];
const TOPICS = ["electric cars", "the Olympics", "climate policy", "space travel", "vaccines", "solar power", "chess", "jazz"];
const MOVIES = ["Inception", "Spirited Away", "The Matrix", "Casablanca", "Parasite", "Amelie", "Arrival", "Up"];
const FOODS = ["chicken", "lentils", "tofu", "mushrooms", "salmon", "chickpeas", "spinach", "rice"];
const PRODUCTS = ["wireless headphones", "a standing desk", "running shoes", "a coffee grinder", "a yoga mat", "a desk lamp"];
const SONGS: readonly [string, string][] = [["Imagine", "John Lennon"], ["Halo", "Beyonce"], ["Yesterday", "The Beatles"], ["Hello", "Adele"], ["Clocks", "Coldplay"]];
const SIGNS = ["aries", "taurus", "gemini", "cancer", "leo", "virgo", "libra", "scorpio"];
const PLACES = ["Mount Everest", "Denver", "Lake Titicaca", "Mont Blanc", "Kilimanjaro", "La Paz", "Death Valley", "Mount Fuji"];

const num = (description: string) => ({ type: "number" as const, description });
const int = (description: string) => ({ type: "integer" as const, description });
const str = (description: string, values?: readonly string[]) => ({ type: "string" as const, description, ...(values ? { enum: values } : {}) });
const round2 = (x: number): number => Math.round(x * 100) / 100;

const FAMILIES: readonly Family[] = [
  // ---- train
  {
    family: "currency", split: "train", names: ["convert_currency", "convertCurrency", "currency_converter"], description: "Convert an amount of money from one currency to another.",
    properties: { amount: num("The amount to convert"), from_currency: str("ISO code of the source currency"), to_currency: str("ISO code of the target currency") }, required: ["amount", "from_currency", "to_currency"],
    ask: (r) => {
      const [from, to] = shuffled(r, CURRENCIES);
      const amount = randInt(r, 5, 900);
      return { args: { amount, from_currency: from!, to_currency: to! }, text: pick(r, [`How much is ${amount} ${from} in ${to}?`, `Convert ${amount} ${from} to ${to}.`, `I have ${amount} ${from}. What is that in ${to}?`]) };
    },
    result: (a, r) => {
      const v = round2(Number(a["amount"]) * (0.2 + r() * 3));
      return { content: JSON.stringify({ converted_amount: v, currency: a["to_currency"] }), answer: [String(v)], reply: `${a["amount"]} ${a["from_currency"]} is ${v} ${a["to_currency"]}.` };
    },
  },
  {
    family: "stock", split: "train", names: ["get_stock_price", "getStockPrice", "stock_quote"], description: "Get the latest price of a stock by its ticker symbol.",
    properties: { symbol: str("The ticker symbol, e.g. IBM") }, required: ["symbol"],
    ask: (r) => {
      const s = pick(r, SYMBOLS);
      return { args: { symbol: s }, text: pick(r, [`What is the current price of ${s} stock?`, `How much is one share of ${s} right now?`, `Get me the stock price for ${s}.`]) };
    },
    result: (a, r) => {
      const p = round2(20 + r() * 500);
      return { content: JSON.stringify({ symbol: a["symbol"], price: p, currency: "USD" }), answer: [String(p)], reply: `${a["symbol"]} is trading at ${p} USD.` };
    },
  },
  {
    family: "translate", split: "train", names: ["translate_text", "translate", "translateText"], description: "Translate a text into another language.",
    properties: { text: str("The text to translate"), target_language: str("The language to translate into") }, required: ["text", "target_language"],
    ask: (r) => {
      const text = pick(r, ["good morning", "thank you very much", "where is the station", "I love this book", "see you tomorrow"]);
      const lang = pick(r, LANGUAGES);
      return { args: { text, target_language: lang }, text: pick(r, [`Translate "${text}" into ${lang}.`, `How do you say "${text}" in ${lang}?`, `Can you translate "${text}" to ${lang} for me?`]) };
    },
    result: (a, r) => {
      const t = pick(r, ["bonjour a tous", "muchas gracias", "danke schoen", "arigato gozaimasu", "grazie mille"]);
      return { content: JSON.stringify({ translation: t }), answer: [t], reply: `In ${a["target_language"]}, "${a["text"]}" is "${t}".` };
    },
  },
  {
    family: "time", split: "train", names: ["get_local_time", "getLocalTime", "current_time"], description: "Get the current local time in a city.",
    properties: { city: str("The city name") }, required: ["city"],
    ask: (r) => {
      const c = pick(r, CITIES);
      return { args: { city: c }, text: pick(r, [`What time is it in ${c} right now?`, `Tell me the local time in ${c}.`, `What's the current time in ${c}?`]) };
    },
    result: (a, r) => {
      const t = `${randInt(r, 1, 12)}:${String(randInt(r, 0, 59)).padStart(2, "0")} ${pick(r, ["AM", "PM"])}`;
      return { content: JSON.stringify({ city: a["city"], local_time: t }), answer: [t], reply: `It is ${t} in ${a["city"]}.` };
    },
  },
  {
    family: "search", split: "train", names: ["search_web", "webSearch", "internet_search"], description: "Search the web and return the top results for a query.",
    properties: { query: str("The search query") }, required: ["query"],
    ask: (r) => {
      const q = pick(r, TOPICS);
      return { args: { query: q }, text: pick(r, [`Search the web for the latest on ${q}.`, `Look up recent articles about ${q} online.`, `Find me web results about ${q}.`]) };
    },
    result: (a, r) => {
      const title = `${pick(r, ["New report on", "What to know about", "A guide to"])} ${a["query"]}`;
      return { content: JSON.stringify({ results: [{ title, url: "https://example.org/a" }] }), answer: [title], reply: `The top result is "${title}".` };
    },
  },
  {
    family: "email", split: "train", names: ["send_email", "sendEmail", "email_send"], description: "Send an email to a contact.",
    properties: { recipient: str("The recipient's name"), subject: str("The subject line") }, required: ["recipient", "subject"],
    ask: (r) => {
      const p = pick(r, PEOPLE);
      const s = pick(r, ["Meeting tomorrow", "Project update", "Lunch on Friday", "Invoice", "Travel plans"]);
      return { args: { recipient: p, subject: s }, text: pick(r, [`Send an email to ${p} with the subject "${s}".`, `Email ${p} about "${s}".`, `Please write ${p} an email titled "${s}".`]) };
    },
    result: (a) => ({ content: JSON.stringify({ status: "sent", recipient: a["recipient"] }), answer: ["sent"], reply: `The email to ${a["recipient"]} was sent.` }),
  },
  {
    family: "multiply", split: "train", names: ["multiply", "multiply_numbers", "multiplierTool"], description: "Multiply two numbers.",
    properties: { a: num("The first factor"), b: num("The second factor") }, required: ["a", "b"],
    ask: (r) => {
      const a = randInt(r, 2, 99);
      const b = randInt(r, 2, 99);
      return { args: { a, b }, text: pick(r, [`What is ${a} times ${b}?`, `Multiply ${a} by ${b}.`, `Calculate ${a} * ${b}.`, `What is the product of ${a} and ${b}?`]) };
    },
    result: (a) => {
      const v = Number(a["a"]) * Number(a["b"]);
      return { content: String(v), answer: [String(v)], reply: `${a["a"]} times ${a["b"]} is ${v}.` };
    },
  },
  {
    family: "subtract", split: "train", names: ["subtract", "subtract_numbers", "minusTool"], description: "Subtract the second number from the first.",
    properties: { a: num("The number to subtract from"), b: num("The number to subtract") }, required: ["a", "b"],
    ask: (r) => {
      const a = randInt(r, 20, 999);
      const b = randInt(r, 1, 19);
      return { args: { a, b }, text: pick(r, [`What is ${a} minus ${b}?`, `Subtract ${b} from ${a}.`, `Calculate ${a} - ${b}.`]) };
    },
    result: (a) => {
      const v = Number(a["a"]) - Number(a["b"]);
      return { content: String(v), answer: [String(v)], reply: `${a["a"]} minus ${a["b"]} is ${v}.` };
    },
  },
  {
    family: "population", split: "train", names: ["get_population", "getPopulation", "population_lookup"], description: "Get the population of a country.",
    properties: { country: str("The country name") }, required: ["country"],
    ask: (r) => {
      const c = pick(r, COUNTRIES);
      return { args: { country: c }, text: pick(r, [`What is the population of ${c}?`, `How many people live in ${c}?`, `Look up the population of ${c}.`]) };
    },
    result: (a, r) => {
      const m = round2(2 + r() * 200);
      return { content: JSON.stringify({ country: a["country"], population_millions: m }), answer: [String(m)], reply: `${a["country"]} has about ${m} million people.` };
    },
  },
  {
    family: "define", split: "train", names: ["define_word", "dictionary_lookup", "getDefinition"], description: "Look up the dictionary definition of a word.",
    properties: { word: str("The word to define") }, required: ["word"],
    ask: (r) => {
      const w = pick(r, WORDS);
      return { args: { word: w }, text: pick(r, [`What does "${w}" mean?`, `Define the word ${w}.`, `Look up the meaning of ${w} in the dictionary.`]) };
    },
    result: (a, r) => {
      const d = pick(r, ["showing great care", "lasting a very short time", "clear and easy to understand", "friendly and sociable"]);
      return { content: JSON.stringify({ word: a["word"], definition: d }), answer: [d], reply: `"${a["word"]}" means ${d}.` };
    },
  },
  {
    family: "restaurant", split: "train", names: ["book_table", "reserveTable", "restaurant_booking"], description: "Reserve a table at a restaurant.",
    properties: { restaurant: str("The restaurant's name"), party_size: int("Number of people") }, required: ["restaurant", "party_size"],
    ask: (r) => {
      const name = pick(r, ["Luigi's", "The Blue Door", "Sakura", "Casa Verde", "The Olive Tree"]);
      const n = randInt(r, 2, 9);
      return { args: { restaurant: name, party_size: n }, text: pick(r, [`Book a table for ${n} at ${name}.`, `Reserve a table at ${name} for ${n} people.`, `Can you get us a table for ${n} at ${name}?`]) };
    },
    result: (a, r) => {
      const code = `R${randInt(r, 1000, 9999)}`;
      return { content: JSON.stringify({ confirmed: true, confirmation: code }), answer: [code], reply: `Your table at ${a["restaurant"]} is booked; the confirmation code is ${code}.` };
    },
  },
  {
    family: "timer", split: "train", names: ["set_timer", "setTimer", "start_timer"], description: "Start a countdown timer.",
    properties: { minutes: int("Length of the timer in minutes") }, required: ["minutes"],
    ask: (r) => {
      const m = randInt(r, 1, 90);
      return { args: { minutes: m }, text: pick(r, [`Set a timer for ${m} minutes.`, `Start a ${m}-minute timer.`, `Can you time ${m} minutes for me?`]) };
    },
    result: (a) => ({ content: JSON.stringify({ status: "running", minutes: a["minutes"] }), answer: [String(a["minutes"])], reply: `A timer for ${a["minutes"]} minutes is running.` }),
  },
  {
    family: "bmi", split: "train", names: ["calculate_bmi", "bmiCalculator", "compute_bmi"], description: "Calculate the body mass index from weight and height.",
    properties: { weight_kg: num("Weight in kilograms"), height_m: num("Height in metres") }, required: ["weight_kg", "height_m"],
    ask: (r) => {
      const w = randInt(r, 45, 120);
      const h = round2(1.5 + r() * 0.5);
      return { args: { weight_kg: w, height_m: h }, text: pick(r, [`What is my BMI if I weigh ${w} kg and am ${h} m tall?`, `Calculate the BMI for ${w} kilograms and ${h} metres.`]) };
    },
    result: (a) => {
      const v = Math.round((Number(a["weight_kg"]) / Number(a["height_m"]) ** 2) * 10) / 10;
      return { content: JSON.stringify({ bmi: v }), answer: [String(v)], reply: `The BMI is ${v}.` };
    },
  },
  {
    family: "recipe", split: "train", names: ["find_recipe", "recipeSearch", "get_recipes"], description: "Find recipes that use an ingredient.",
    properties: { ingredient: str("The main ingredient") }, required: ["ingredient"],
    ask: (r) => {
      const f = pick(r, FOODS);
      return { args: { ingredient: f }, text: pick(r, [`Find me a recipe with ${f}.`, `What can I cook with ${f}? Search for recipes.`, `Look up recipes that use ${f}.`]) };
    },
    result: (a, r) => {
      const dish = `${pick(r, ["Spicy", "Lemon", "Garlic", "Smoky"])} ${a["ingredient"]} ${pick(r, ["stew", "bowl", "salad", "curry"])}`;
      return { content: JSON.stringify({ recipes: [dish] }), answer: [dish], reply: `You could make ${dish}.` };
    },
  },
  {
    family: "movie", split: "train", names: ["get_movie_info", "movieLookup", "film_details"], description: "Get details about a film: year, director and rating.",
    properties: { title: str("The film's title") }, required: ["title"],
    ask: (r) => {
      const m = pick(r, MOVIES);
      return { args: { title: m }, text: pick(r, [`Tell me about the movie ${m}.`, `Who directed ${m} and when was it released?`, `Get the details of the film ${m}.`]) };
    },
    result: (a, r) => {
      const y = randInt(r, 1940, 2022);
      return { content: JSON.stringify({ title: a["title"], year: y, rating: round2(6 + r() * 3) }), answer: [String(y)], reply: `${a["title"]} came out in ${y}.` };
    },
  },
  {
    family: "package", split: "train", names: ["track_package", "trackShipment", "parcel_status"], description: "Get the delivery status of a package by its tracking number.",
    properties: { tracking_number: str("The tracking number") }, required: ["tracking_number"],
    ask: (r) => {
      const t = `${pick(r, ["1Z", "TX", "PK"])}${randInt(r, 100000, 999999)}`;
      return { args: { tracking_number: t }, text: pick(r, [`Where is my package ${t}?`, `Track the parcel with tracking number ${t}.`, `What's the status of shipment ${t}?`]) };
    },
    result: (a, r) => {
      const s = pick(r, ["out for delivery", "in transit", "delivered", "held at the depot"]);
      return { content: JSON.stringify({ tracking_number: a["tracking_number"], status: s }), answer: [s], reply: `Package ${a["tracking_number"]} is ${s}.` };
    },
  },
  {
    family: "flight", split: "train", names: ["get_flight_status", "flightStatus", "check_flight"], description: "Get the status of a flight by its flight number.",
    properties: { flight_number: str("The flight number, e.g. BA117") }, required: ["flight_number"],
    ask: (r) => {
      const f = `${pick(r, ["BA", "LH", "AF", "UA", "QF"])}${randInt(r, 10, 999)}`;
      return { args: { flight_number: f }, text: pick(r, [`Is flight ${f} on time?`, `What is the status of flight ${f}?`, `Check flight ${f} for me.`]) };
    },
    result: (a, r) => {
      const s = pick(r, ["on time", "delayed by 40 minutes", "boarding", "cancelled"]);
      return { content: JSON.stringify({ flight: a["flight_number"], status: s }), answer: [s], reply: `Flight ${a["flight_number"]} is ${s}.` };
    },
  },
  {
    family: "temperature", split: "train", names: ["convert_temperature", "temperatureConverter", "temp_convert"], description: "Convert a temperature between Celsius and Fahrenheit.",
    properties: { value: num("The temperature to convert"), to_unit: str("The unit to convert to", ["celsius", "fahrenheit"]) }, required: ["value", "to_unit"],
    ask: (r) => {
      const toF = r() < 0.5;
      const v = randInt(r, -20, 110);
      return { args: { value: v, to_unit: toF ? "fahrenheit" : "celsius" }, text: toF ? pick(r, [`What is ${v} degrees Celsius in Fahrenheit?`, `Convert ${v} C to Fahrenheit.`]) : pick(r, [`What is ${v} degrees Fahrenheit in Celsius?`, `Convert ${v} F to Celsius.`]) };
    },
    result: (a) => {
      const v = Number(a["value"]);
      const out = Math.round((a["to_unit"] === "fahrenheit" ? (v * 9) / 5 + 32 : ((v - 32) * 5) / 9) * 10) / 10;
      return { content: String(out), answer: [String(out)], reply: `That is ${out} degrees ${a["to_unit"] === "fahrenheit" ? "Fahrenheit" : "Celsius"}.` };
    },
  },
  {
    family: "sqrt", split: "train", names: ["square_root", "sqrtTool", "compute_square_root"], description: "Compute the square root of a number.",
    properties: { number: num("A non-negative number") }, required: ["number"],
    ask: (r) => {
      const x = randInt(r, 2, 5000);
      return { args: { number: x }, text: pick(r, [`What is the square root of ${x}?`, `Compute sqrt(${x}).`, `Find the square root of ${x}.`]) };
    },
    result: (a) => {
      const v = round2(Math.sqrt(Number(a["number"])));
      return { content: String(v), answer: [String(v)], reply: `The square root of ${a["number"]} is about ${v}.` };
    },
  },
  {
    family: "news", split: "train", names: ["get_news", "latestHeadlines", "news_headlines"], description: "Get today's news headlines on a topic.",
    properties: { topic: str("The news topic") }, required: ["topic"],
    ask: (r) => {
      const t = pick(r, TOPICS);
      return { args: { topic: t }, text: pick(r, [`What are today's headlines about ${t}?`, `Give me the latest news on ${t}.`, `Any news about ${t} today?`]) };
    },
    result: (a, r) => {
      const h = `${pick(r, ["Record year for", "Debate grows over", "Breakthrough in"])} ${a["topic"]}`;
      return { content: JSON.stringify({ headlines: [h] }), answer: [h], reply: `Today's top headline: "${h}".` };
    },
  },
  {
    family: "reminder", split: "train", names: ["create_reminder", "addReminder", "set_reminder"], description: "Create a reminder at a given time.",
    properties: { text: str("What to be reminded of"), time: str("When, e.g. 5 PM") }, required: ["text", "time"],
    ask: (r) => {
      const what = pick(r, ["call the dentist", "water the plants", "pick up the kids", "pay the rent", "take my medicine"]);
      const when = `${randInt(r, 1, 12)} ${pick(r, ["AM", "PM"])}`;
      return { args: { text: what, time: when }, text: pick(r, [`Remind me to ${what} at ${when}.`, `Set a reminder at ${when} to ${what}.`]) };
    },
    result: (a) => ({ content: JSON.stringify({ created: true, time: a["time"] }), answer: [String(a["time"])], reply: `I will remind you to ${a["text"]} at ${a["time"]}.` }),
  },
  {
    family: "capital", split: "train", names: ["lookup_capital", "getCapitalCity", "capital_of"], description: "Look up the capital city of a country.",
    properties: { country: str("The country name") }, required: ["country"],
    ask: (r) => {
      const c = pick(r, COUNTRIES);
      return { args: { country: c }, text: pick(r, [`Use the lookup tool to find the capital of ${c}.`, `Look up the capital city of ${c}.`, `Which city is the capital of ${c}? Check with the tool.`]) };
    },
    result: (a, r) => {
      const city = pick(r, CITIES);
      return { content: JSON.stringify({ country: a["country"], capital: city }), answer: [city], reply: `The capital of ${a["country"]} is ${city}.` };
    },
  },
  {
    family: "wordcount", split: "train", names: ["count_words", "wordCounter", "word_count"], description: "Count the words in a text.",
    properties: { text: str("The text") }, required: ["text"],
    ask: (r) => {
      const t = pick(r, ["the quick brown fox jumps over the lazy dog", "to be or not to be", "all that glitters is not gold", "a journey of a thousand miles begins with a single step"]);
      return { args: { text: t }, text: pick(r, [`How many words are in "${t}"?`, `Count the words in this sentence: "${t}"`]) };
    },
    result: (a) => {
      const n = String(a["text"]).split(" ").length;
      return { content: String(n), answer: [String(n)], reply: `The text has ${n} words.` };
    },
  },
  {
    family: "distance", split: "train", names: ["get_distance", "distanceBetween", "route_distance"], description: "Get the driving distance between two cities in kilometres.",
    properties: { origin: str("The starting city"), destination: str("The destination city") }, required: ["origin", "destination"],
    ask: (r) => {
      const [a, b] = shuffled(r, CITIES);
      return { args: { origin: a!, destination: b! }, text: pick(r, [`How far is it from ${a} to ${b}?`, `What's the distance between ${a} and ${b}?`, `How many kilometres from ${a} to ${b} by road?`]) };
    },
    result: (a, r) => {
      const km = randInt(r, 40, 9000);
      return { content: JSON.stringify({ distance_km: km }), answer: [String(km)], reply: `It is ${km} km from ${a["origin"]} to ${a["destination"]}.` };
    },
  },
  {
    family: "music", split: "train", names: ["play_song", "playMusic", "music_player"], description: "Play a song on the speaker.",
    properties: { title: str("The song title"), artist: str("The artist") }, required: ["title", "artist"],
    ask: (r) => {
      const [t, a] = pick(r, SONGS);
      return { args: { title: t, artist: a }, text: pick(r, [`Play ${t} by ${a}.`, `Put on the song ${t} by ${a}, please.`]) };
    },
    result: (a) => ({ content: JSON.stringify({ playing: a["title"] }), answer: [String(a["title"])], reply: `Now playing ${a["title"]} by ${a["artist"]}.` }),
  },
  {
    family: "stockcheck", split: "train", names: ["check_inventory", "inventoryLookup", "product_availability"], description: "Check whether a product is in stock and how many are left.",
    properties: { product: str("The product") }, required: ["product"],
    ask: (r) => {
      const p = pick(r, PRODUCTS);
      return { args: { product: p }, text: pick(r, [`Is ${p} in stock?`, `Check if you have ${p} available.`, `How many units of ${p} are left?`]) };
    },
    result: (a, r) => {
      const n = randInt(r, 0, 80);
      return { content: JSON.stringify({ product: a["product"], units: n }), answer: [String(n)], reply: `There are ${n} units of ${a["product"]} left.` };
    },
  },
  {
    family: "horoscope", split: "train", names: ["get_horoscope", "dailyHoroscope", "horoscope_today"], description: "Get today's horoscope for a zodiac sign.",
    properties: { sign: str("The zodiac sign", SIGNS) }, required: ["sign"],
    ask: (r) => {
      const s = pick(r, SIGNS);
      return { args: { sign: s }, text: pick(r, [`What's my horoscope today? I'm a ${s[0]!.toUpperCase()}${s.slice(1)}.`, `Read me today's horoscope for ${s}.`]) };
    },
    result: (a, r) => {
      const h = pick(r, ["a good day for new plans", "patience will pay off", "expect good news"]);
      return { content: JSON.stringify({ sign: a["sign"], horoscope: h }), answer: [h], reply: `Today for ${a["sign"]}: ${h}.` };
    },
  },
  {
    family: "random", split: "train", names: ["random_number", "randomInt", "pick_random_number"], description: "Pick a random integer between a minimum and a maximum.",
    properties: { min: int("Smallest value"), max: int("Largest value") }, required: ["min", "max"],
    ask: (r) => {
      const lo = randInt(r, 0, 50);
      const hi = lo + randInt(r, 5, 500);
      return { args: { min: lo, max: hi }, text: pick(r, [`Pick a random number between ${lo} and ${hi}.`, `Give me a random integer from ${lo} to ${hi}.`]) };
    },
    result: (a, r) => {
      const v = randInt(r, Number(a["min"]), Number(a["max"]));
      return { content: String(v), answer: [String(v)], reply: `Your random number is ${v}.` };
    },
  },
  // ---- dev
  {
    family: "power", split: "dev", names: ["power", "raise_to_power", "exponentTool"], description: "Raise a number to a power.",
    properties: { base: num("The base"), exponent: num("The exponent") }, required: ["base", "exponent"],
    ask: (r) => {
      const b = randInt(r, 2, 12);
      const e = randInt(r, 2, 5);
      return { args: { base: b, exponent: e }, text: pick(r, [`What is ${b} to the power of ${e}?`, `Compute ${b}^${e}.`, `Raise ${b} to the ${e}th power.`]) };
    },
    result: (a) => {
      const v = Number(a["base"]) ** Number(a["exponent"]);
      return { content: String(v), answer: [String(v)], reply: `${a["base"]} to the power of ${a["exponent"]} is ${v}.` };
    },
  },
  {
    family: "airquality", split: "dev", names: ["get_air_quality", "airQualityIndex", "aqi_lookup"], description: "Get the air quality index of a city.",
    properties: { city: str("The city name") }, required: ["city"],
    ask: (r) => {
      const c = pick(r, CITIES);
      return { args: { city: c }, text: pick(r, [`How is the air quality in ${c} today?`, `What's the AQI in ${c}?`]) };
    },
    result: (a, r) => {
      const v = randInt(r, 10, 240);
      return { content: JSON.stringify({ city: a["city"], aqi: v }), answer: [String(v)], reply: `The air quality index in ${a["city"]} is ${v}.` };
    },
  },
  {
    family: "synonym", split: "dev", names: ["find_synonyms", "thesaurus", "synonymLookup"], description: "Find synonyms of a word.",
    properties: { word: str("The word") }, required: ["word"],
    ask: (r) => {
      const w = pick(r, WORDS);
      return { args: { word: w }, text: pick(r, [`What's another word for ${w}?`, `Give me synonyms of "${w}".`]) };
    },
    result: (a, r) => {
      const s = pick(r, ["careful", "brief", "clear", "friendly", "tough"]);
      return { content: JSON.stringify({ word: a["word"], synonyms: [s] }), answer: [s], reply: `A synonym of ${a["word"]} is "${s}".` };
    },
  },
  // ---- test (weather and addition are what LangChain's standard tests bind)
  {
    family: "weather", split: "test", names: ["get_current_weather", "get_weather", "weatherTool"], description: "Get the current weather in a location.",
    properties: { location: str("The city, e.g. San Francisco, CA") }, required: ["location"],
    ask: (r) => {
      const c = pick(r, CITIES);
      return { args: { location: c }, text: pick(r, [`What's the weather like in ${c}?`, `Is it raining in ${c} right now?`, `How warm is it in ${c} today?`]) };
    },
    result: (a, r) => {
      const t = randInt(r, -5, 35);
      return { content: JSON.stringify({ location: a["location"], temperature_c: t, conditions: "sunny" }), answer: [String(t)], reply: `It is ${t} degrees and sunny in ${a["location"]}.` };
    },
  },
  {
    family: "addition", split: "test", names: ["add", "math_addition", "adderTool"], description: "Add two numbers.",
    properties: { a: num("The first number"), b: num("The second number") }, required: ["a", "b"],
    ask: (r) => {
      const a = randInt(r, 1, 999);
      const b = randInt(r, 1, 999);
      return { args: { a, b }, text: pick(r, [`What is ${a} plus ${b}?`, `Add ${a} and ${b}.`, `What is the sum of ${a} and ${b}?`]) };
    },
    result: (a) => {
      const v = Number(a["a"]) + Number(a["b"]);
      return { content: String(v), answer: [String(v)], reply: `${a["a"]} plus ${a["b"]} is ${v}.` };
    },
  },
  {
    family: "divide", split: "test", names: ["divide", "divide_numbers", "divisionTool"], description: "Divide the first number by the second.",
    properties: { dividend: num("The number to divide"), divisor: num("The number to divide by") }, required: ["dividend", "divisor"],
    ask: (r) => {
      const d = randInt(r, 2, 20);
      const x = d * randInt(r, 2, 60);
      return { args: { dividend: x, divisor: d }, text: pick(r, [`What is ${x} divided by ${d}?`, `Divide ${x} by ${d}.`]) };
    },
    result: (a) => {
      const v = Number(a["dividend"]) / Number(a["divisor"]);
      return { content: String(v), answer: [String(v)], reply: `${a["dividend"]} divided by ${a["divisor"]} is ${v}.` };
    },
  },
  {
    family: "elevation", split: "test", names: ["get_elevation", "elevationLookup", "altitude_of"], description: "Get the elevation of a place above sea level, in metres.",
    properties: { place: str("The place") }, required: ["place"],
    ask: (r) => {
      const p = pick(r, PLACES);
      return { args: { place: p }, text: pick(r, [`How high is ${p} above sea level?`, `What is the elevation of ${p}?`]) };
    },
    result: (a, r) => {
      const m = randInt(r, -80, 8848);
      return { content: JSON.stringify({ place: a["place"], elevation_m: m }), answer: [String(m)], reply: `${a["place"]} is ${m} m above sea level.` };
    },
  },
  {
    family: "pizza", split: "test", names: ["order_pizza", "pizzaOrder", "place_pizza_order"], description: "Order a pizza for delivery.",
    properties: { size: str("The size", ["small", "medium", "large"]), topping: str("The topping") }, required: ["size", "topping"],
    ask: (r) => {
      const s = pick(r, ["small", "medium", "large"]);
      const t = pick(r, ["mushroom", "pepperoni", "olive", "pineapple"]);
      return { args: { size: s, topping: t }, text: pick(r, [`Order me a ${s} ${t} pizza.`, `I'd like a ${s} pizza with ${t}, please order it.`]) };
    },
    result: (a, r) => {
      const m = randInt(r, 15, 55);
      return { content: JSON.stringify({ ordered: true, eta_minutes: m }), answer: [String(m)], reply: `Your ${a["size"]} ${a["topping"]} pizza arrives in ${m} minutes.` };
    },
  },
  {
    family: "sunrise", split: "test", names: ["get_sunrise_time", "sunriseTime", "sunrise_lookup"], description: "Get today's sunrise time in a city.",
    properties: { city: str("The city name") }, required: ["city"],
    ask: (r) => {
      const c = pick(r, CITIES);
      return { args: { city: c }, text: pick(r, [`When does the sun rise in ${c} today?`, `What time is sunrise in ${c}?`]) };
    },
    result: (a, r) => {
      const t = `${randInt(r, 5, 7)}:${String(randInt(r, 0, 59)).padStart(2, "0")} AM`;
      return { content: JSON.stringify({ city: a["city"], sunrise: t }), answer: [t], reply: `The sun rises at ${t} in ${a["city"]}.` };
    },
  },
];

/** Questions no bound tool answers (greetings, general knowledge, writing): the reply is text. */
const NO_TOOL_QUESTIONS: readonly string[] = [
  "Hi! How are you today?", "Tell me a joke about cats.", "Write a haiku about autumn.", "What is the meaning of the word 'gratitude'?",
  "Who wrote Romeo and Juliet?", "Why is the sky blue?", "Give me three tips for better sleep.", "What is photosynthesis?",
  "Can you explain what a noun is?", "Thanks for your help!", "What should I name my new puppy?", "Summarize the plot of Cinderella in one sentence.",
  "What is the difference between a virus and a bacterium?", "How do I make a paper airplane?", "What is your favorite color?", "Write a short poem about the sea.",
  "What are the primary colors?", "How many legs does a spider have?", "Explain gravity to a child.", "Hello there!",
  "What is the largest planet in the solar system?", "Give me a motivational quote.", "How do bees make honey?", "What does a chef do?",
];
/** Tool families that fit nearly any request (search, news): never bound to a no_call record. */
const GENERIC_FAMILIES = new Set(["search", "news", "define", "synonym"]);

function familiesOf(split: Split): Family[] {
  return FAMILIES.filter((f) => f.split === split);
}

function definitionOf(f: Family, name: string): ToolDefinitionRecord {
  const properties = Object.fromEntries(Object.entries(f.properties).map(([k, p]) => [k, { ...p, ...(p.enum ? { enum: [...p.enum] } : {}) }]));
  return { type: "function", function: { name, description: f.description, parameters: { type: "object", properties, required: [...f.required] } } };
}

export interface ToolCallGeneratorOptions {
  readonly seed: number;
  readonly split: Split;
  readonly count: number;
  /** Fractions of kinds call / no_call (the rest answer). Default 0.5 / 0.25. */
  readonly callFraction?: number;
  readonly noCallFraction?: number;
}

/** `count` records of `split`'s families: 1–4 tools bound (distractors from the same split), seeded. */
export function generateToolCallRecords(opts: ToolCallGeneratorOptions): ToolCallRecord[] {
  const rng = mulberry32(opts.seed);
  const families = familiesOf(opts.split);
  const pool = opts.split === "test" ? [...families, ...familiesOf("dev")] : families;
  const callFraction = opts.callFraction ?? 0.5;
  const noCallFraction = opts.noCallFraction ?? 0.25;
  const out: ToolCallRecord[] = [];
  for (let i = 0; i < opts.count; i++) {
    const u = rng();
    const kind: ToolCallRecord["kind"] = u < callFraction ? "call" : u < callFraction + noCallFraction ? "no_call" : "answer";
    const target = pick(rng, kind === "no_call" ? families.filter((f) => !GENERIC_FAMILIES.has(f.family)) : families);
    const distractors = shuffled(rng, pool.filter((f) => f !== target && (kind !== "no_call" || !GENERIC_FAMILIES.has(f.family)))).slice(0, randInt(rng, 0, 3));
    const bound = shuffled(rng, [target, ...distractors]);
    const names = new Map(bound.map((f) => [f, pick(rng, f.names)]));
    const tools = bound.map((f) => definitionOf(f, names.get(f)!));
    const system = rng() < 0.3 ? pick(rng, ["You are a helpful assistant.", "You are a concise assistant.", "Be brief."]) : undefined;
    const head: ToolMessageRecord[] = system === undefined ? [] : [{ role: "system", content: system }];
    const id = `tools-${opts.split}-${String(i).padStart(4, "0")}`;
    if (kind === "no_call") {
      out.push({ id, split: opts.split, kind, family: target.family, tools, messages: [...head, { role: "user", content: pick(rng, NO_TOOL_QUESTIONS) }] });
      continue;
    }
    const { args, text } = target.ask(rng);
    const name = names.get(target)!;
    if (kind === "call") {
      out.push({ id, split: opts.split, kind, family: target.family, tools, messages: [...head, { role: "user", content: text }], call: { name, args } });
      continue;
    }
    const callId = `call_${Math.floor(rng() * 2 ** 32).toString(36)}`;
    const res = target.result(args, rng);
    out.push({
      id, split: opts.split, kind, family: target.family, tools, answer: res.answer, reply: res.reply,
      messages: [
        ...head,
        { role: "user", content: text },
        { role: "assistant", content: "", toolCalls: [{ id: callId, name, args }] },
        { role: "tool", content: res.content, toolCallId: callId, name },
      ],
    });
  }
  return out;
}

/** Family names per split (for the README and tests: the splits share no family). */
export function toolFamiliesBySplit(): Record<Split, string[]> {
  return { train: familiesOf("train").map((f) => f.family), dev: familiesOf("dev").map((f) => f.family), test: familiesOf("test").map((f) => f.family) };
}

/** Every tool name a split's families can bind. */
export function toolNamesOfSplit(split: Split): Set<string> {
  return new Set(familiesOf(split).flatMap((f) => f.names));
}
