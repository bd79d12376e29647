/**
 * Thrown by a command that has already printed its outcome but must end with a non-zero exit code (e.g. `cache
 * verify` finding bad entries): runCli returns `exitCode` and prints nothing more.
 */
export class CliExit extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, reason: string) {
    super(reason);
    this.name = "CliExit";
    this.exitCode = exitCode;
  }
}
