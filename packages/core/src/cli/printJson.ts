/** Prints one JSON object as one line on stdout (the --json contract: exactly one object, nothing else). */
export function printJson(value: Readonly<Record<string, unknown>>): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
