/**
 * Entry of a placement helper thread (PlacementPool): runs placeKeys on the key placements it is sent (documents'
 * keys rotated into a staging buffer; both are SharedArrayBuffer views shared with the inference worker) and
 * replies when they are written.
 */
import { parentPort } from "node:worker_threads";
import { placeKeys } from "./LayerPlacement.js";
import type { PlacementReply, PlacementRequest } from "./PlacementPool.js";

const port = parentPort;
if (port === null) throw new Error("placement.worker must run as a worker thread");

port.on("message", (request: PlacementRequest) => {
  let reply: PlacementReply;
  try {
    for (const keys of request.keys) placeKeys(keys);
    reply = { id: request.id };
  } catch (error) {
    reply = { id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
port.postMessage({ id: 0 } satisfies PlacementReply);
