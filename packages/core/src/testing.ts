/**
 * `@kvlink/core/testing`: fixtures for tests of code built on kvlink-ts, kept out of the main entry. Tiny random
 * models (spec, weights, tokenizer, a whole folder) and the single-pass block mask over a flattened KVLink layout,
 * which is what linked logits are proven against.
 */
export { tinySpec } from "./model/tinySpec.js";
export { createRandomWeights, type RandomWeightsOptions } from "./model/createRandomWeights.js";
export { createTinyTokenizer, type TinyTokenizer, type TinyTokenizerOptions } from "./tokenizer/createTinyTokenizer.js";
export { writeTinyModel, type TinyModel, type TinyModelOptions } from "./graph/writeTinyModel.js";
export { flattenLayout } from "./link/LinkPlan.js";
export { buildBlockMask } from "./link/buildAttentionMask.js";
