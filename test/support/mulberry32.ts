/** The one seeded PRNG of tests and fixtures: the generators' mulberry32 (uniform in [0, 1)). */
export { mulberry32 } from "../../eval/generators/random.js";
