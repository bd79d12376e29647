import type { SetupProgress } from "../setup/ensureModel.js";
import type { ProgressUpdate } from "./ProgressDisplay.js";

const MIB = 2 ** 20;

/** What the CLI draws for a setup progress report: byte phases in MiB, with the part count of split GGUFs. */
export function setupProgressUpdate(p: SetupProgress): ProgressUpdate {
  const bytes = p.phase === "extract" || p.phase === "join" || p.numParts !== undefined;
  const parts = p.numParts !== undefined && p.phase === "download" ? `part ${p.part ?? 0}/${p.numParts}` : undefined;
  if (!bytes) return { phase: p.phase, done: p.done, total: p.total };
  return {
    phase: p.phase,
    done: Math.round(p.done / MIB),
    total: Math.round(p.total / MIB),
    detail: [parts, "MiB"].filter((s) => s !== undefined).join(" | "),
  };
}
