import { ModelFormatError, RopeUnsupportedError } from "../errors/KvLinkError.js";
import type { RopeSpec } from "./RopeSpec.js";
import { assertRopeRerotatable } from "./assertRopeRerotatable.js";

/** HF rope types whose rotation depends on the sequence length (or that we cannot re-rotate exactly). */
const LENGTH_DEPENDENT = new Set(["dynamic", "yarn", "longrope", "su", "ntk"]);

/**
 * Maps HF config.json's `rope_scaling` onto a RopeSpec: null/undefined/"default"/{rope_type: "default"} give
 * plain RoPE; {rope_type|type: "llama3", factor, low_freq_factor, high_freq_factor,
 * original_max_position_embeddings} and {rope_type|type: "linear", factor} map to the typed scalings.
 * Types whose rotation depends on sequence length ("dynamic", "yarn", "longrope", "su", ...) and unknown
 * types throw RopeUnsupportedError; a supported type with missing or non-numeric fields throws ModelFormatError.
 */
export function parseRopeScaling(hfConfigRopeScaling: unknown, theta: number, rotaryDim: number): RopeSpec {
  const where = "config.json rope_scaling";
  const finish = (spec: RopeSpec): RopeSpec => {
    assertRopeRerotatable(spec);
    return spec;
  };
  const raw = hfConfigRopeScaling;
  if (raw === null || raw === undefined || raw === "default") return finish({ theta, rotaryDim });
  if (typeof raw === "string") {
    throw new RopeUnsupportedError(`${where}: rope type ${JSON.stringify(raw)} is not supported (expected "default", "linear" or "llama3")`, {
      details: { ropeType: raw },
    });
  }
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ModelFormatError(`${where}: expected null or an object, got ${JSON.stringify(raw)}`, { details: { ropeScaling: raw } });
  }
  const obj = raw as Record<string, unknown>;
  const type = obj["rope_type"] ?? obj["type"];
  if (typeof type !== "string") {
    throw new ModelFormatError(`${where}: "rope_type" (or "type") must be a string, got ${JSON.stringify(type)}`, {
      details: { ropeScaling: raw },
    });
  }
  const num = (key: string): number => {
    const value = obj[key];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new ModelFormatError(`${where}: ${type} scaling needs a numeric "${key}", got ${JSON.stringify(value)}`, {
        details: { ropeType: type, key, value },
      });
    }
    return value;
  };
  switch (type) {
    case "default":
      return finish({ theta, rotaryDim });
    case "linear":
      return finish({ theta, rotaryDim, scaling: { type: "linear", factor: num("factor") } });
    case "llama3":
      return finish({
        theta,
        rotaryDim,
        scaling: {
          type: "llama3",
          factor: num("factor"),
          lowFreqFactor: num("low_freq_factor"),
          highFreqFactor: num("high_freq_factor"),
          originalMaxPositionEmbeddings: num("original_max_position_embeddings"),
        },
      });
    default: {
      const why = LENGTH_DEPENDENT.has(type)
        ? "its rotation depends on the sequence length, so cached keys cannot be re-rotated exactly"
        : "it is not a known position-only RoPE";
      throw new RopeUnsupportedError(`${where}: rope type "${type}" is not supported: ${why} (supported: default, linear, llama3)`, {
        details: { ropeType: type },
      });
    }
  }
}
