import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import { chunkDocument, InvalidInputError } from "@kvlink/core";
import { Node, Project, type ExportedDeclarations, type SourceFile } from "ts-morph";

/** One retrievable, cacheable piece of a codebase. */
export interface CorpusDocument {
  /** Stable id: `path#Name` for a declaration, `path#chunk` for markdown. */
  readonly id: string;
  /** Path relative to the corpus root (forward slashes). */
  readonly path: string;
  readonly kind: "declaration" | "markdown";
  /** The declaration's name, or the markdown file's first heading. */
  readonly title: string;
  readonly text: string;
  readonly numTokens: number;
}

export interface BuildCorpusOptions {
  /** Token budget of one document: long declarations lose their tail lines, markdown is cut at headings. */
  readonly maxDocTokens: number;
  /** Tokens of a text as the engine counts them for a document. */
  readonly countTokens: (text: string) => number;
  /** Folders (relative to the root, forward slashes) left out besides the usual ones (node_modules, dist, tests, ...). */
  readonly exclude?: readonly string[];
  /** Called per file read (for a progress bar). */
  readonly onFile?: (p: { readonly done: number; readonly total: number; readonly path: string }) => void;
}

/** Folders never read: dependencies, build output, VCS and test trees (tests are not documentation). */
const SKIPPED_DIRS = new Set(["node_modules", "dist", "build", "coverage", ".git", ".turbo", "test", "tests", "__tests__", "fixtures", ".cache"]);
const MAX_FILE_BYTES = 512 * 1024;

/**
 * Turns a TypeScript codebase into documents: one per exported declaration of each `.ts`/`.tsx` file (its JSDoc
 * and signature; a class or interface with its members' signatures, bodies left out), plus the codebase's
 * markdown cut into sections. Everything is cut to `maxDocTokens`. Files are visited in sorted order, so the
 * corpus (and every document's cache key) is the same on every machine.
 */
export async function buildCorpus(root: string, options: BuildCorpusOptions): Promise<CorpusDocument[]> {
  if (!Number.isInteger(options.maxDocTokens) || options.maxDocTokens < 16) {
    throw new InvalidInputError(`maxDocTokens must be an integer of at least 16, got ${options.maxDocTokens}`);
  }
  const rootStat = await stat(root).catch(() => undefined);
  if (rootStat === undefined || !rootStat.isDirectory()) throw new InvalidInputError(`the corpus must be a folder, got ${root}`, { details: { root } });
  const excluded = new Set((options.exclude ?? []).map((p) => p.replace(/\/+$/, "")));
  const files = await listFiles(root, root, excluded);
  const project = new Project({ skipAddingFilesFromTsConfig: true, skipFileDependencyResolution: true, compilerOptions: { allowJs: false, noLib: true } });
  // Every file is added before any is asked for its exports: the type checker is then built once, not per file.
  const fileToText = new Map<string, string>();
  for (const file of files) {
    const text = await readFile(file, "utf8");
    fileToText.set(file, text);
    if (extname(file) !== ".md") project.createSourceFile(file, text, { overwrite: true });
  }
  const documents: CorpusDocument[] = [];
  for (const [i, file] of files.entries()) {
    const path = relative(root, file).split(sep).join("/");
    if (extname(file) === ".md") documents.push(...markdownDocuments(path, fileToText.get(file)!, options));
    else documents.push(...declarationDocuments(project.getSourceFileOrThrow(file), path, options));
    options.onFile?.({ done: i + 1, total: files.length, path });
  }
  return documents;
}

async function listFiles(root: string, dir: string, excluded: ReadonlySet<string>): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      const rel = relative(root, full).split(sep).join("/");
      if (!SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith(".") && !excluded.has(rel)) out.push(...(await listFiles(root, full, excluded)));
    } else if (entry.isFile() && isCorpusFile(entry.name) && (await stat(full)).size <= MAX_FILE_BYTES) {
      out.push(full);
    }
  }
  return out;
}

function isCorpusFile(name: string): boolean {
  if (name.endsWith(".d.ts") || /\.(test|spec|bench)\.tsx?$/.test(name)) return false;
  return name.endsWith(".ts") || name.endsWith(".tsx") || name.endsWith(".md");
}

function markdownDocuments(path: string, text: string, options: BuildCorpusOptions): CorpusDocument[] {
  const title = /^#+\s+(.+)$/m.exec(text)?.[1]?.trim() ?? path;
  return chunkDocument(text, { maxTokens: options.maxDocTokens, countTokens: options.countTokens })
    .filter((chunk) => chunk.text.trim().length > 0)
    .map((chunk, i) => {
      const body = `${path} (${title})\n\n${chunk.text}`;
      const cut = cutToBudget(body, options);
      return { id: `${path}#${i}`, path, kind: "markdown" as const, title, text: cut.text, numTokens: cut.numTokens };
    });
}

function declarationDocuments(sourceFile: SourceFile, path: string, options: BuildCorpusOptions): CorpusDocument[] {
  const found: { name: string; declaration: ExportedDeclarations }[] = [];
  const seen = new Set<Node>();
  for (const [name, declarations] of sourceFile.getExportedDeclarations()) {
    for (const declaration of declarations) {
      // Re-exports resolve to their own file, which contributes them itself.
      if (declaration.getSourceFile() !== sourceFile || seen.has(declaration)) continue;
      seen.add(declaration);
      found.push({ name, declaration });
    }
  }
  // Source order (the checker's export map is not), so the corpus is the same on every machine.
  return found
    .sort((a, b) => a.declaration.getStart() - b.declaration.getStart())
    .map(({ name, declaration }) => {
      const cut = cutToBudget(`// ${path}\n${describe(declaration)}`, options);
      return { id: `${path}#${name}`, path, kind: "declaration" as const, title: name, text: cut.text, numTokens: cut.numTokens };
    });
}

/** JSDoc + signature of a declaration; members' signatures for classes, the full text for types and interfaces. */
function describe(node: ExportedDeclarations): string {
  const docs = jsDocOf(node);
  if (Node.isClassDeclaration(node)) {
    const header = node.getText().slice(0, node.getText().indexOf("{") + 1).replace(/\s+$/, "");
    const members = node.getMembers().flatMap((member) => {
      if (Node.isMethodDeclaration(member) || Node.isConstructorDeclaration(member) || Node.isGetAccessorDeclaration(member) || Node.isSetAccessorDeclaration(member)) {
        if (!Node.isConstructorDeclaration(member) && member.getName().startsWith("#")) return [];
        if (Node.isScoped(member) && member.getScope() === "private") return [];
        return [`${memberDocOf(member)}  ${signatureText(member.getText())};`];
      }
      if (Node.isPropertyDeclaration(member)) {
        if (member.getName().startsWith("#") || member.getScope() === "private") return [];
        return [`${memberDocOf(member)}  ${member.getText().replace(/\s*=[\s\S]*$/, ";").replace(/;;$/, ";")}`];
      }
      return [];
    });
    return `${docs}${header}\n${members.join("\n")}\n}`;
  }
  if (Node.isFunctionDeclaration(node)) return `${docs}${signatureText(node.getText())};`;
  if (Node.isVariableDeclaration(node)) {
    const statement = node.getVariableStatement();
    return `${statement === undefined ? "" : jsDocOf(statement)}export const ${node.getText()}`;
  }
  return `${docs}${node.getText()}`;
}

/** The text of a function-like node up to its body. */
function signatureText(text: string): string {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(" || c === "<" || c === "[") depth++;
    else if (c === ")" || c === ">" || c === "]") depth = Math.max(0, depth - 1);
    else if (c === "{" && depth === 0) {
      const before = text.slice(0, i).replace(/\s+$/, "");
      // `{` right after `:` opens a return type literal, not the body.
      if (!before.endsWith(":") && !before.endsWith("=>")) return before;
    }
  }
  return text;
}

/** A member's JSDoc as one line: its first sentence (members are many; the budget goes to their signatures). */
function memberDocOf(node: Node): string {
  if (!Node.isJSDocable(node)) return "";
  const description = node.getJsDocs().map((d) => d.getDescription()).join(" ").replace(/\s+/g, " ").trim();
  if (description === "") return "";
  const first = /^.*?[.!?](?=\s|$)/.exec(description)?.[0] ?? description;
  return `  /** ${first.slice(0, 160)} */\n`;
}

function jsDocOf(node: Node): string {
  if (!Node.isJSDocable(node)) return "";
  const docs = node.getJsDocs().map((d) => d.getText());
  return docs.length === 0 ? "" : `${docs.join("\n")}\n`;
}

/** Drops trailing lines until the text fits the budget (a line is cut by characters as a last resort). */
function cutToBudget(text: string, options: BuildCorpusOptions): { text: string; numTokens: number } {
  let numTokens = options.countTokens(text);
  if (numTokens <= options.maxDocTokens) return { text, numTokens };
  let lines = text.split("\n");
  while (lines.length > 1 && numTokens > options.maxDocTokens) {
    lines = lines.slice(0, Math.max(1, Math.floor(lines.length * Math.min(0.9, options.maxDocTokens / numTokens))));
    numTokens = options.countTokens(`${lines.join("\n")}\n…`);
  }
  let cut = `${lines.join("\n")}\n…`;
  while (numTokens > options.maxDocTokens && cut.length > 1) {
    cut = `${cut.slice(0, Math.floor(cut.length * 0.8))}…`;
    numTokens = options.countTokens(cut);
  }
  return { text: cut, numTokens };
}
