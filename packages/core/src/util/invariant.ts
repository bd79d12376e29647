import { InvariantError } from "../errors/KvLinkError.js";

/** Throws InvariantError (never a bare assert) when `condition` is false. */
export function invariant(condition: unknown, message: string, details?: Record<string, unknown>): asserts condition {
  if (!condition) throw new InvariantError(message, { details });
}
