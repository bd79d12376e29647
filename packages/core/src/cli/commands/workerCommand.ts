import { Command } from "commander";
import { DEFAULT_QUEUE_NAME, PrecomputeQueue } from "../../queue/PrecomputeQueue.js";
import { PrecomputeWorker } from "../../queue/PrecomputeWorker.js";
import { addModelOptions, addStoreOptions, isVerbose, type ModelFlags, type StoreFlags } from "../commonOptions.js";
import { createCliLogger } from "../createCliLogger.js";
import { openEngine } from "../openEngine.js";
import { parseInteger } from "../parseOptions.js";
import { printJson } from "../printJson.js";
import { ProgressDisplay } from "../ProgressDisplay.js";

interface WorkerFlags extends ModelFlags, StoreFlags {
  queue: string;
  queueName: string;
  concurrency: number;
  lockMs: number;
  exitWhenEmpty?: boolean;
  json?: boolean;
}

/**
 * `kvlink worker --queue redis://… --store redis://…`: computes the documents `kvlink precompute --queue` enqueued,
 * into the store, until SIGTERM/SIGINT (graceful: the running job finishes first) or, with --exit-when-empty, until
 * the queue has nothing left to do. Run any number of them, on any machine.
 */
export function workerCommand(): Command {
  const command = new Command("worker")
    .description("compute documents from a BullMQ precompute queue into the store (any number of workers, any machine)")
    .requiredOption("--queue <url>", "the BullMQ queue: redis://host:port[/db]")
    .option("--queue-name <name>", "BullMQ queue name", DEFAULT_QUEUE_NAME)
    .option("--concurrency <n>", "jobs in flight in this worker", parseInteger, 1)
    .option("--lock-ms <ms>", "job lock duration: a job of a worker that died is retried elsewhere after this long", parseInteger, 30_000)
    .option("--exit-when-empty", "exit once no job is waiting, running or scheduled for retry")
    .option("--json", "on exit, print one JSON object {worker, jobs, computed, reused, failed, seconds}: jobs the queue recorded as done or failed; documents computed here (also those whose completion the queue missed, e.g. across a redis restart)");
  addModelOptions(command);
  addStoreOptions(command, false);
  return command.action(async (flags: WorkerFlags, cmd: Command) => {
    const logger = createCliLogger(isVerbose(cmd));
    const t0 = performance.now();
    const display = new ProgressDisplay();
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const onSignal = (): void => stop();
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
    try {
      await using engine = await openEngine(flags, { logger });
      await using queue = new PrecomputeQueue({ url: flags.queue, name: flags.queueName });
      const worker = new PrecomputeWorker({
        url: flags.queue, engine, name: flags.queueName, concurrency: flags.concurrency, lockMs: flags.lockMs, logger,
      });
      try {
        await Promise.race([worker.waitUntilReady(), stopped]);
        let idlePolls = 0;
        const poll = async (): Promise<boolean> => {
          const c = await queue.counts().catch(() => undefined);
          const s = worker.stats();
          const jobs = s.completed + s.failed;
          if (c === undefined) {
            display.update({ phase: "worker", done: jobs, total: jobs, detail: "queue unreachable, retrying" });
            return false;
          }
          const left = c.waiting + c.active + c.delayed;
          display.update({
            phase: "worker", done: jobs, total: jobs + left,
            detail: `here: ${s.computed} computed, ${s.reused} cached, ${s.failed} failed | queue: ${c.active} active, ${c.waiting} waiting, ${c.delayed} retrying`,
          });
          idlePolls = left === 0 ? idlePolls + 1 : 0;
          return flags.exitWhenEmpty === true && idlePolls >= 2;
        };
        for (;;) {
          const timedOut = await Promise.race([stopped.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 500))]);
          if (!timedOut || (await poll())) break;
        }
      } finally {
        display.stop();
        await worker.close(); // graceful: the running job finishes and is acknowledged first
      }
      const { computed, reused, completed, failed } = worker.stats();
      const summary = { worker: worker.workerName, jobs: completed + failed, computed, reused, failed, seconds: (performance.now() - t0) / 1000 };
      if (flags.json) printJson(summary);
      else process.stdout.write(`worker ${summary.worker}: ${summary.jobs} jobs (${computed} computed, ${reused} already cached, ${failed} failed) in ${summary.seconds.toFixed(1)} s\n`);
    } finally {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
  });
}
