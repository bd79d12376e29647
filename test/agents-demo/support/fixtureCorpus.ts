import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A small TypeScript codebase with markdown, for the agents-demo tests (written to `dir`). */
export async function writeFixtureCorpus(dir: string): Promise<void> {
  await mkdir(join(dir, "src", "store"), { recursive: true });
  await mkdir(join(dir, "node_modules", "dep"), { recursive: true });
  await writeFile(
    join(dir, "src", "store", "LighthouseStore.ts"),
    [
      "/** Keeps lighthouse records; a corrupt record is deleted and rebuilt from the survey. */",
      "export class LighthouseStore {",
      "  /** Opens the store at a path. Creates the file when missing. */",
      "  static open(path: string): LighthouseStore {",
      "    return new LighthouseStore(path);",
      "  }",
      "  private constructor(readonly path: string) {}",
      "  /** The keeper of a lighthouse, or undefined when the record is corrupt. */",
      "  keeperOf(name: string): string | undefined {",
      "    return name.length > 3 ? 'Agnes Morrow' : undefined;",
      "  }",
      "  #secret(): void {}",
      "}",
      "",
      "/** How long the ferry to Vellan Island takes, in minutes. */",
      "export function ferryMinutes(weather: 'calm' | 'storm'): number {",
      "  if (weather === 'calm') {",
      "    return 50;",
      "  }",
      "  return 90;",
      "}",
      "",
      "/** The default survey interval in days. */",
      "export const SURVEY_INTERVAL_DAYS = 30;",
      "",
      "interface Hidden { x: number }",
    ].join("\n"),
  );
  await writeFile(join(dir, "src", "index.ts"), 'export { LighthouseStore, ferryMinutes } from "./store/LighthouseStore.js";\n/** Options of a survey. */\nexport interface SurveyOptions { readonly intervalDays: number; readonly keeper?: string }\n');
  await writeFile(join(dir, "src", "store", "LighthouseStore.test.ts"), "export const notInTheCorpus = 1;\n");
  await writeFile(join(dir, "node_modules", "dep", "index.ts"), "export const dependency = 1;\n");
  await writeFile(
    join(dir, "README.md"),
    [
      "# Harrow Point",
      "",
      "The Harrow Point lighthouse was built by Agnes Morrow. Its records live in the LighthouseStore.",
      "",
      "## Ferry",
      "",
      "The ferry to Vellan Island takes 50 minutes in calm weather and 90 minutes in a storm.",
      "",
      "## Corrupt records",
      "",
      "When a record is corrupt the store deletes it and rebuilds it from the next survey.",
    ].join("\n"),
  );
}
