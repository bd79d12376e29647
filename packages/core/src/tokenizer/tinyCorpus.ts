/**
 * The small English corpus the tiny test tokenizer learns its merges from. Plain prose with some numbers and
 * punctuation, so common words and word pieces get their own tokens. Changing it changes every tiny
 * tokenizer (and so every tiny-model cache key): edit on purpose only.
 */
export const TINY_CORPUS = `The library keeps a small shelf of documents that many agents read again and again.
When an agent asks a question, the system finds the documents that matter and places them in front of the
question. Reading the same document twice is a waste of time, so the model stores what it computed for each
document and links those pieces together when a new question arrives. The question is short, the documents
are long, and the answer should come quickly.

A river runs through the old town. In the morning the water is cold and clear, and the people who live on
its banks walk to the market before the sun is high. They buy bread, apples, fish and cheese, and they talk
about the weather, the harvest and the news from the city. In the evening the lights come on one by one and
the town becomes quiet again.

The capital of France is Paris. The capital of Italy is Rome, and the capital of Spain is Madrid. Paris is
known for its museums, its cafes and the long river that crosses the city from east to west. Many people
visit the city in the spring, when the weather is warm and the trees along the streets are green.

In 2024 the team measured 128 requests per second on 2 cores, then 512 requests per second on 16 cores.
The first test took 3.5 seconds; the second took 0.75 seconds. Numbers such as 1, 10, 100 and 1000 are
split into single digits before the merges are applied, so 2025 becomes 2, 0, 2 and 5.

Good software is tested, simple and honest about what it does. Each function should do one thing and say
so in its name. When something goes wrong, the error should tell you what was expected, what was found,
and where it happened. A test that cannot fail is not a test at all, and a cache that cannot be checked
is not a cache that anyone should trust.

"Where are you going?" she asked. "To the station," he said, "and then home." It's late, isn't it? We'll
see. They've been waiting for hours, and I'm sure you'd rather be somewhere warm. Questions, answers,
lists: first, second, third; and (sometimes) notes in brackets [like this] or braces {like that}.

Winter arrived early that year. Snow covered the hills, the roads were closed for three days, and the
children built a castle of ice behind the school. Their teacher measured the temperature every morning and
wrote it on the board: minus seven, minus nine, minus twelve. Nobody complained, because the library stayed
open, the kitchen was warm, and there were enough books for everyone.

Computers follow instructions exactly. A program describes a sequence of steps, a memory holds numbers and
letters, and a processor moves them from place to place very quickly. Engineers measure performance,
compare results, remove mistakes, and write documentation so that other engineers can understand their
choices. Language models predict the next word from the previous words; attention lets every position look
back at earlier positions, and a cache remembers keys and values so that nothing is computed twice.

Gardeners know patience. Seeds planted in April become flowers in June, tomatoes in August and pumpkins in
October. Birds visit the garden looking for insects, bees travel between blossoms, and the neighbours share
vegetables, recipes, stories and advice across the fence.
`;
