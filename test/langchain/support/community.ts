// @langchain/community is installed only under packages/langchain-adapter/node_modules (not hoisted), so tests,
// which resolve from the repository root, import it by path. Its own imports of @langchain/core resolve to the
// root copy, the same one the adapter uses.
export { BM25Retriever } from "../../../packages/langchain-adapter/node_modules/@langchain/community/dist/retrievers/bm25.js";
