/**
 * Entry of the inference worker thread: loads one decoder session from `workerData` (a WorkerInit), then
 * answers RuntimeRequests one at a time. Results carrying large arrays go back in transfer lists.
 */
import { parentPort, workerData } from "node:worker_threads";
import { toWireError } from "../errors/wire.js";
import { DecoderSession } from "./DecoderSession.js";
import { kvBlockBuffers, type RuntimeRequest, type RuntimeResponse, type WorkerInit } from "./protocol.js";
import type { ForwardResult } from "./Runtime.js";

const port = parentPort;
if (port === null) throw new Error("runtime.worker must run as a worker thread");

function forwardBuffers(result: ForwardResult): ArrayBuffer[] {
  const buffers = result.newKv ? kvBlockBuffers(result.newKv) : [];
  if (result.logits.buffer instanceof ArrayBuffer && !buffers.includes(result.logits.buffer)) buffers.push(result.logits.buffer);
  return buffers;
}

async function handle(session: DecoderSession, request: RuntimeRequest): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  switch (request.op) {
    case "createSequence":
      return { result: await session.createSequence(request.args), transfer: [] };
    case "forward": {
      const result = await session.forward(request.args.sequenceId, request.args.forward);
      return { result, transfer: forwardBuffers(result) };
    }
    case "appendKv":
      return { result: await session.appendKv(request.args.sequenceId, request.args.block), transfer: [] };
    case "putDocument":
      await session.putDocument(request.args.key, request.args.block);
      return { result: null, transfer: [] };
    case "hasDocuments":
      return { result: await session.hasDocuments(request.args.keys), transfer: [] };
    case "readDocument": {
      const block = await session.readDocument(request.args.key);
      return block === undefined ? { result: null, transfer: [] } : { result: block, transfer: kvBlockBuffers(block) };
    }
    case "appendDocument":
      return { result: await session.appendDocument(request.args.sequenceId, request.args.key, request.args.append), transfer: [] };
    case "readKv": {
      const block = await session.readKv(request.args.sequenceId, request.args.start, request.args.end);
      return { result: block, transfer: kvBlockBuffers(block) };
    }
    case "truncate":
      return { result: await session.truncate(request.args.sequenceId, request.args.length), transfer: [] };
    case "disposeSequence":
      await session.disposeSequence(request.args.sequenceId);
      return { result: null, transfer: [] };
    case "release":
      await session.release();
      return { result: null, transfer: [] };
  }
}

const post = (message: RuntimeResponse, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

try {
  const session = await DecoderSession.create(workerData as WorkerInit);
  port.on("message", (request: RuntimeRequest) => {
    handle(session, request).then(
      ({ result, transfer }) => post({ kind: "ok", id: request.id, result }, transfer),
      (error: unknown) => post({ kind: "error", id: request.id, error: toWireError(error) }),
    );
  });
  post({ kind: "ready", info: session.info });
} catch (error) {
  // The client terminates the worker when it reads this.
  post({ kind: "loadFailed", error: toWireError(error) });
}
