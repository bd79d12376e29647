import { InferenceSession, Tensor } from "onnxruntime-node";
import { OnnxGraphBuilder } from "../graph/OnnxGraphBuilder.js";
import { executionProviderError, ortExecutionProvider, type ExecutionProviderSettings } from "./executionProvider.js";
import type { ExecutionProvider } from "./Runtime.js";

/** The outcome of starting a provider on a one-node model and running it once. */
export type ProbeResult = { readonly ok: true; readonly ms: number } | { readonly ok: false; readonly error: Error };

/**
 * Starts `ep` on a one-node model (y = x·x, a 2×2 MatMul: cuBLAS on cuda), runs it and checks the answer: whether the provider
 * loads, finds a device and computes. A failure to start comes back as an ExecutionProviderError (reason, hint),
 * never thrown.
 */
export async function probeExecutionProvider(ep: ExecutionProvider, settings: ExecutionProviderSettings = {}): Promise<ProbeResult> {
  const g = new OnnxGraphBuilder({ name: "kvlink-probe" });
  const x = g.addInput("x", "float32", [2, 2]);
  g.addNode("MatMul", [x, x], ["y"]);
  g.addOutput("y", "float32", [2, 2]);
  const started = performance.now();
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(g.encode().model, { executionProviders: [ortExecutionProvider(ep, settings)], logSeverityLevel: 3 });
  } catch (cause) {
    return { ok: false, error: executionProviderError(ep, "a one-node probe model", cause) };
  }
  try {
    const out = await session.run({ x: new Tensor("float32", Float32Array.of(1, 2, 3, 4), [2, 2]) });
    const data = out["y"]?.data as Float32Array | undefined;
    const expected = [7, 10, 15, 22];
    if (data === undefined || data.length !== 4 || data.some((v, i) => v !== expected[i])) {
      return { ok: false, error: new Error(`${ep}: the probe computed [${data ? Array.from(data).join(", ") : "nothing"}], expected [${expected.join(", ")}]`) };
    }
    return { ok: true, ms: performance.now() - started };
  } catch (cause) {
    return { ok: false, error: executionProviderError(ep, "a one-node probe model", cause) };
  } finally {
    await session.release();
  }
}
