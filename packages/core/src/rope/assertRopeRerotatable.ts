import { RopeUnsupportedError } from "../errors/KvLinkError.js";
import type { RopeSpec } from "./RopeSpec.js";

/**
 * Checks at configuration time that `rope` is a RoPE whose rotation depends only on the position, so a key
 * rotated at p can be moved to q exactly by rotating it by q − p: plain RoPE, linear scaling or Llama-3 scaling,
 * with sane numbers. Anything else (dynamic NTK, YaRN, longrope, a malformed spec read from untyped JSON) is
 * refused with RopeUnsupportedError, never silently accepted.
 */
export function assertRopeRerotatable(rope: RopeSpec): void {
  const fail = (problem: string, details: Record<string, unknown>): never => {
    throw new RopeUnsupportedError(`RoPE spec cannot be re-rotated: ${problem}`, { details });
  };
  if (typeof rope !== "object" || rope === null) fail(`expected a RopeSpec object, got ${String(rope)}`, { rope });
  if (!(typeof rope.theta === "number" && Number.isFinite(rope.theta) && rope.theta > 0)) {
    fail(`theta must be a finite number > 0, got ${String(rope.theta)}`, { theta: rope.theta });
  }
  const { rotaryDim } = rope;
  if (!(Number.isInteger(rotaryDim) && rotaryDim > 0 && rotaryDim % 2 === 0)) {
    fail(`rotaryDim must be a positive even integer, got ${String(rotaryDim)}`, { rotaryDim });
  }
  const scaling: unknown = rope.scaling;
  if (scaling === undefined) return;
  if (typeof scaling !== "object" || scaling === null) fail(`scaling must be an object, got ${String(scaling)}`, { scaling });
  const s = scaling as Record<string, unknown>;
  const positive = (key: string): void => {
    const value = s[key];
    if (!(typeof value === "number" && Number.isFinite(value) && value > 0)) {
      fail(`scaling.${key} must be a finite number > 0, got ${String(value)}`, { scalingType: s["type"], key, value });
    }
  };
  if (s["type"] === "linear") {
    positive("factor");
    return;
  }
  if (s["type"] === "llama3") {
    for (const key of ["factor", "lowFreqFactor", "highFreqFactor", "originalMaxPositionEmbeddings"]) positive(key);
    if (!((s["highFreqFactor"] as number) > (s["lowFreqFactor"] as number))) {
      fail(`llama3 scaling needs highFreqFactor > lowFreqFactor, got ${String(s["highFreqFactor"])} ≤ ${String(s["lowFreqFactor"])}`, {
        lowFreqFactor: s["lowFreqFactor"],
        highFreqFactor: s["highFreqFactor"],
      });
    }
    return;
  }
  fail(`scaling type ${JSON.stringify(s["type"])} is not one of "linear", "llama3"`, { scalingType: s["type"] });
}
