// The error classes the adapter throws: it imports them from @kvlink/core's public entry (its built dist/), so
// tests compare against the same classes. (Errors thrown by the engine run from source are core's source classes.)
export { InvalidInputError, UnsupportedModelError } from "@kvlink/core";
