import { Command } from "commander";
import { KvLinkError } from "../../errors/KvLinkError.js";
import { probeExecutionProvider, type ProbeResult } from "../../runtime/probeExecutionProvider.js";
import { inspectCudaSetup, type CudaDependency, type CudaSetupReport } from "../../setup/inspectCudaSetup.js";
import { CliExit } from "../CliExit.js";
import { printJson } from "../printJson.js";

interface DoctorFlags {
  probe: boolean;
  require?: string;
  json?: boolean;
}

const PROBED = ["cpu", "webgpu", "cuda"] as const;

/** `kvlink doctor`: which execution providers start here, and, for cuda, which libraries are found or missing. */
export function doctorCommand(): Command {
  return new Command("doctor")
    .description("report the execution providers that start here, the CUDA provider's libraries (found / missing, where to get them) and the GPU")
    .option("--no-probe", "only inspect files; start no provider (except the one --require names)")
    .option("--require <ep>", "exit 1 unless this provider starts (cpu | webgpu | cuda)")
    .option("--json", "print one JSON object {cuda, providers}")
    .action(async (flags: DoctorFlags) => {
      const cuda = inspectCudaSetup();
      const providers: Record<string, ProbeResult | undefined> = {};
      if (flags.probe) for (const ep of PROBED) providers[ep] = await probeExecutionProvider(ep);
      if (flags.require !== undefined && providers[flags.require] === undefined) providers[flags.require] = await probeExecutionProvider(flags.require);
      if (flags.json) {
        printJson({ cuda, providers: Object.fromEntries(Object.entries(providers).map(([ep, r]) => [ep, r === undefined ? null : probeJson(r)])) });
      } else {
        process.stdout.write(formatCudaReport(cuda));
        for (const [ep, r] of Object.entries(providers)) if (r !== undefined) process.stdout.write(`provider ${ep}: ${formatProbe(r)}\n`);
      }
      if (flags.require !== undefined && providers[flags.require]?.ok !== true) throw new CliExit(1, `${flags.require} does not start`);
    });
}

function probeJson(r: ProbeResult): Record<string, unknown> {
  if (r.ok) return { ok: true, ms: r.ms };
  return { ok: false, message: r.error.message, ...(r.error instanceof KvLinkError ? { code: r.error.code, ...r.error.details } : {}) };
}

function formatProbe(r: ProbeResult): string {
  if (r.ok) return `starts and computes (${r.ms.toFixed(0)} ms)`;
  return `does not start: ${r.error.message}`;
}

/** The human-readable report (one fact a line). */
export function formatCudaReport(report: CudaSetupReport): string {
  const lines = [`onnxruntime-node ${report.onnxRuntimeNode.version}, native folder ${report.onnxRuntimeNode.nativeDir}`, "cuda provider libraries:"];
  for (const lib of report.providerLibraries) {
    lines.push(`  ${lib.name}: ${lib.path !== undefined ? `installed (${formatBytes(lib.sizeBytes ?? 0)})` : "missing (kvlink setup --gpu cuda)"}`);
  }
  if (report.dependencies.length > 0) lines.push("libraries the cuda provider links:");
  for (const d of report.dependencies) lines.push(`  ${formatDependency(d)}`);
  for (const d of report.optional) lines.push(`  ${formatDependency(d)} (optional: only ops that use cuDNN)`);
  lines.push(`LD_LIBRARY_PATH: ${report.libraryPath.length > 0 ? report.libraryPath.join(":") : "(unset)"}`);
  if (report.suggestedLibraryPath !== undefined) lines.push(`to find the missing libraries in the installed nvidia-* wheels: export LD_LIBRARY_PATH=${report.suggestedLibraryPath}`);
  lines.push(`GPU: ${report.gpu.visible ? report.gpu.devices.join(", ") : "none visible (no /proc/driver/nvidia/gpus, no /dev/nvidia*)"}`);
  lines.push(`cuda ready: ${report.ready ? "yes" : "no"}`);
  return `${lines.join("\n")}\n`;
}

function formatDependency(d: CudaDependency): string {
  if (d.path !== undefined) return `${d.name}: ${d.path}`;
  const where = [d.foundIn !== undefined ? `present in ${d.foundIn}, not on the loader's path` : undefined, d.source].filter((x) => x !== undefined);
  return `${d.name}: MISSING${where.length > 0 ? ` (${where.join("; ")})` : ""}`;
}

function formatBytes(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}
