import { InvalidInputError } from "@kvlink/core";
import type { KvLinkEngineLike } from "./engine.js";

/** The engine a constructor was given, checked to have the methods the adapter calls. */
export function checkEngine(engine: unknown, where: string): KvLinkEngineLike {
  const methods = ["generate", "precompute", "documentKey"] as const;
  const missing =
    engine === null || typeof engine !== "object"
      ? [...methods]
      : methods.filter((name) => typeof (engine as Record<string, unknown>)[name] !== "function");
  if (missing.length > 0) {
    throw new InvalidInputError(
      `${where}: "engine" must be a created KvLinkEngine (await KvLinkEngine.create(...)); got ${engine === null ? "null" : typeof engine} without ${missing.join(", ")}`,
      { details: { missing } },
    );
  }
  return engine as KvLinkEngineLike;
}
