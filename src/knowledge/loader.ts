/**
 * Reads a knowledge folder (DESIGN.md, "Knowledge folder") into validated entries, and reports every
 * problem at once as `path:line: message` — paths relative to the folder, as an editor would type them,
 * lines pointing at the offending key or value — so one `kb check` run lists everything to fix.
 *
 * Every `.md` file below the folder is an entry, except `README.md` files (at any level: they document
 * the folder for editors) and hidden files or folders (editor swap files, `.git`).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { core as zcore } from 'zod';
import { closestField, closestMatch, FIELD_DESCRIPTIONS, FRONT_MATTER_FIELDS, frontMatterSchema, type FrontMatter } from './schema.js';
import { CHANNELS, type KnowledgeEntry, type KnowledgeProblem } from './types.js';

/** The folder itself cannot be read (missing, not a folder, no permission). */
export class KnowledgeFolderError extends Error {
  override name = 'KnowledgeFolderError';
}

/** The result of reading one file: the entry when it is valid, its own problems, and where things are. */
export interface ParsedKnowledgeFile {
  path: string;
  /** The id the file would have without an `id:` field (path without `.md`). */
  defaultId: string;
  entry?: KnowledgeEntry;
  /** The id and `follow_ups` as written, even when the entry is invalid, so cross-file checks still run. */
  id?: string;
  followUps: string[];
  problems: KnowledgeProblem[];
  /** Lines of the `id` value and of each `follow_ups` item, for the cross-file checks. */
  lines: { id: number; followUps: number[] };
}

/** What `loadKnowledge` found: valid entries, every problem, and how many files it read. */
export interface LoadedKnowledge {
  entries: KnowledgeEntry[];
  problems: KnowledgeProblem[];
  files: number;
}

const FENCE = /^---\s*$/;
const CLOSING_FENCE = /^(---|\.\.\.)\s*$/;

/** `billing\pay.md` → `billing/pay`: ids are the same on every OS. */
export function defaultIdFor(relPath: string): string {
  return relPath.replace(/\\/g, '/').replace(/\.md$/i, '');
}

function describe(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return `the date ${value.toISOString().slice(0, 10)}`;
  if (typeof value === 'object') return 'a group of fields';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

function fieldName(issuePath: PropertyKey[]): string {
  const [field, index] = issuePath;
  return typeof index === 'number' ? `"${String(field)}" item ${index + 1}` : `"${String(field)}"`;
}

/** Turns one zod issue into words an editor can act on. */
function messageFor(issue: zcore.$ZodIssue): string[] {
  const field = issue.path[0] as keyof FrontMatter | undefined;
  const where = fieldName(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const guess = closestField(key);
        return guess
          ? `unknown field "${key}" (did you mean "${guess}"?)`
          : `unknown field "${key}" (known fields: ${FRONT_MATTER_FIELDS.join(', ')})`;
      });
    case 'invalid_type': {
      const input = (issue as { input?: unknown }).input;
      if (issue.path.length === 1 && input === undefined) {
        return field === 'question' ? ['missing "question": every entry needs the question customers ask'] : [`missing ${where}`];
      }
      const expected =
        issue.path.length > 1 ? (field === 'channels' ? 'a channel name' : 'text') : field ? FIELD_DESCRIPTIONS[field] : issue.expected;
      return [`${where} must be ${expected}, got ${describe(input)}`];
    }
    case 'invalid_value':
      if (field === 'channels') {
        return [`unknown channel ${describe((issue as { input?: unknown }).input)} (valid channels: ${CHANNELS.join(', ')})`];
      }
      return [`${where} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`];
    case 'too_small':
      if (issue.origin === 'array') return [`${where} is an empty list: leave the field out instead`];
      return [`${where} is empty`];
    case 'invalid_format':
      if (field === 'id') return [`${where} must not contain spaces, got ${describe((issue as { input?: unknown }).input)}`];
      if (field === 'locale') return [`${where} must be ${FIELD_DESCRIPTIONS.locale}, got ${describe((issue as { input?: unknown }).input)}`];
      return [`${where}: ${issue.message}`];
    case 'custom':
      if (field === 'valid_from' || field === 'valid_until') {
        const input = (issue as { input?: unknown }).input;
          if (issue.message === 'not a calendar day') return [`${where} is not a date: got ${describe(input)} (write YYYY-MM-DD)`];
        if (issue.message === 'valid_until is before valid_from') return ['valid_until is before valid_from: the entry would never be shown'];
      }
      return [issue.message];
    default:
      return [`${where}: ${issue.message}`];
  }
}

/**
 * Parses and validates one knowledge file on its own (no cross-file checks); pure, for tests and for
 * editors' tooling. `relPath` is the path below the knowledge folder, used in problems and for the default id.
 */
export function parseKnowledgeFile(relPath: string, text: string): ParsedKnowledgeFile {
  const filePath = relPath.replace(/\\/g, '/');
  const defaultId = defaultIdFor(filePath);
  const problems: KnowledgeProblem[] = [];
  const result: ParsedKnowledgeFile = { path: filePath, defaultId, followUps: [], problems, lines: { id: 1, followUps: [] } };
  const problem = (line: number, message: string) => problems.push({ path: filePath, line, message });

  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (!FENCE.test(lines[0] ?? '')) {
    problem(1, 'missing front matter: start the file with a line "---", then "question: ..." and the other fields, then "---" and the answer');
    return result;
  }
  const close = lines.findIndex((l, i) => i > 0 && CLOSING_FENCE.test(l));
  if (close < 0) {
    problem(1, 'front matter is not closed: add a line "---" after the fields, then the answer');
    return result;
  }

  // YAML starts on file line 2, so a YAML line n is file line n + 1.
  const lineCounter = new LineCounter();
  const doc = parseDocument(lines.slice(1, close).join('\n'), { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number) => lineCounter.linePos(offset).line + 1;
  if (doc.errors.length > 0) {
    for (const p of explainYamlErrors(lines.slice(1, close), doc, lineAt)) problem(p.line, p.message);
    return result;
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    problem(lineAt(doc.contents.range?.[0] ?? 0), 'front matter must be fields written as "name: value", one per line');
    return result;
  }

  const bodyLines = lines.slice(close + 1);
  const answer = bodyLines.join('\n').trim();
  if (!answer) problem(close + 1, 'missing answer: write the answer below the closing "---"');

  const data = (doc.toJS() ?? {}) as Record<string, unknown>;
  const parsed = frontMatterSchema.safeParse(data, { reportInput: true });
  const nodeLine = (p: PropertyKey[]) => lineOf(doc, p, lineAt);
  // Cross-file checks use what is written even if the entry is invalid, so their problems show now, not after the next fix.
  const rawId = typeof data.id === 'string' && data.id.trim() ? data.id.trim() : undefined;
  result.id = rawId ?? defaultId;
  result.lines.id = rawId ? nodeLine(['id']) : 1;
  if (Array.isArray(data.follow_ups)) {
    data.follow_ups.forEach((v, i) => {
      if (typeof v === 'string' && v.trim()) {
        result.followUps.push(v.trim());
        result.lines.followUps.push(nodeLine(['follow_ups', i]));
      }
    });
  }
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        const messages = messageFor(issue);
        issue.keys.forEach((key, i) => problem(keyLine(doc, key, lineAt), messages[i]!));
      } else {
        for (const m of messageFor(issue)) problem(nodeLine(issue.path), m);
      }
    }
  }
  if (!parsed.success || !answer) {
    problems.sort((a, b) => a.line - b.line);
    return result;
  }

  const fm = parsed.data;
  result.entry = {
    id: fm.id ?? defaultId,
    question: fm.question,
    alternates: fm.alternates,
    answer,
    tags: fm.tags,
    locale: fm.locale,
    channels: fm.channels,
    handoff: fm.handoff,
    validFrom: fm.valid_from,
    validUntil: fm.valid_until,
    followUps: fm.follow_ups,
    ...(fm.asks_for ? { asksFor: fm.asks_for } : {}),
    ...(fm.tests.length ? { tests: fm.tests.map((text, i) => ({ text, line: nodeLine(['tests', i]) })) } : {}),
    source: { path: filePath, line: 1 },
  };
  return result;
}

/**
 * Where to point for a YAML error: the parser notices an unclosed `[` or quote only where the next
 * field starts, but the editor has to fix the line where it was opened.
 */
function openedAt(doc: Document, offset: number): number {
  if (!isMap(doc.contents)) return offset;
  for (const pair of doc.contents.items) {
    const value = pair.value as YamlNode | null;
    if (!value?.range || value.range[0] > offset || value.range[2] < offset) continue;
    const unclosed =
      ((isSeq(value) || isMap(value)) && value.flow) || (isScalar(value) && (value.type === 'QUOTE_DOUBLE' || value.type === 'QUOTE_SINGLE'));
    if (unclosed) return value.range[0];
  }
  return offset;
}

/**
 * The YAML parser's errors in an editor's words, at the line to fix. The parser reports where it gave
 * up — often the line after the mistake — and one mistake as several errors, so the common mistakes
 * (a tab, a missing ":", a field or list item indented wrongly, an unclosed quote or "[", a ": " inside
 * text, a field written twice) are recognised on the front matter's own lines first; only an error none
 * of them explains is reported in the parser's words. `fm` holds the front matter lines: fm[i] is file line i + 2.
 */
function explainYamlErrors(fm: string[], doc: Document, lineAt: (offset: number) => number): { line: number; message: string }[] {
  const found = new Map<number, string>();
  const at = (i: number, message: string) => {
    if (!found.has(i + 2)) found.set(i + 2, message);
  };
  const codes = new Set(doc.errors.map((e) => e.code));
  const quoteError = doc.errors.find((e) => e.code === 'MISSING_CHAR' && /quote/i.test(e.message));
  const unclosedQuoteIn = (value: string): string | undefined => {
    const q = value[0];
    if (q !== '"' && q !== "'") return undefined;
    for (let j = 1; j < value.length; j++) {
      if (q === '"' && value[j] === '\\') j++;
      else if (value[j] === q) {
        if (q === "'" && value[j + 1] === "'") j++;
        else return undefined;
      }
    }
    return q;
  };
  let listIndent: { indent: number; line: number } | undefined;
  fm.forEach((raw, i) => {
    const line = raw.replace(/\s+#.*$/, '');
    if (!line.trim() || /^\s*#/.test(line)) return;
    if (/^ *\t/.test(raw)) return at(i, 'a tab is used to indent this line: YAML needs spaces (two spaces per level)');
    const item = /^( *)- +(.*)$/.exec(line);
    const field = /^( *)([A-Za-z_][\w-]*)\s*:(?:\s+(.*))?$/.exec(line);
    if (item) {
      const indent = item[1]!.length;
      if (listIndent && indent !== listIndent.indent) {
        const spaces = `${indent} space${indent === 1 ? '' : 's'}`;
        at(i, `this list item is indented by ${spaces}, the one on line ${listIndent.line} by ${listIndent.indent}: put the "-" of every item under the same column`);
      }
      listIndent ??= { indent, line: i + 2 };
      const value = item[2]!.trim();
      if (quoteError && unclosedQuoteIn(value)) return at(i, `the quote is not closed: add ${unclosedQuoteIn(value)} at the end of the text`);
      if (!/^["'[{]/.test(value) && /:(\s|$)/.test(value) && !/^[\w-]+:\s*$/.test(value)) {
        return at(i, `text with ": " in it must be in double quotes: - "${value.replace(/"/g, '\\"')}"`);
      }
      return;
    }
    if (field) {
      const [, spaces, name, rest = ''] = field;
      if (spaces!.length > 0) {
        if (FRONT_MATTER_FIELDS.includes(name as keyof FrontMatter) || closestField(name!)) {
          return at(i, `"${name}" is indented: every field starts at the beginning of its line (remove the spaces before "${name}:")`);
        }
        return;
      }
      listIndent = undefined;
      const value = rest.trim();
      const seen = fm.slice(0, i).findIndex((l) => new RegExp(`^${name}\\s*:`).test(l));
      if (codes.has('DUPLICATE_KEY') && seen >= 0) return at(i, `"${name}" is written twice (also on line ${seen + 2}): keep one of them`);
      if (quoteError && unclosedQuoteIn(value)) return at(i, `the quote is not closed: add ${unclosedQuoteIn(value)} at the end of the text`);
      if (value.startsWith('[') && !value.includes(']')) return at(i, 'the list is not closed: add "]" at its end, e.g. [billing, payments]');
      if (!/^["'[{|>]/.test(value) && /:(\s|$)/.test(value)) {
        return at(i, `text with ": " in it must be in double quotes: ${name}: "${value.replace(/"/g, '\\"')}"`);
      }
      return;
    }
    if (!/^ /.test(line)) {
      const word = /^[A-Za-z_][\w-]*/.exec(line)?.[0];
      const known = word && (FRONT_MATTER_FIELDS.includes(word as keyof FrontMatter) ? word : closestField(word));
      if (known) return at(i, `missing ":" after "${word}": write ${known}: ${line.slice(word.length).trim() || '...'}`);
      return at(i, 'this line is not a field: write fields as "name: value", one per line');
    }
  });
  if (found.size > 0) return [...found].map(([line, message]) => ({ line, message }));
  // Nothing recognised: the parser's first error, at the line where an unclosed value was opened.
  const err = doc.errors[0]!;
  const words = err.message.split('\n')[0];
  return [{ line: lineAt(openedAt(doc, err.pos[0])), message: `the fields cannot be read here (${words}): check the indentation and the ":" after each field name` }];
}

/** Line of the value at `p` (or of its nearest existing parent); line 1 (the opening fence) if none. */
function lineOf(doc: Document, p: PropertyKey[], lineAt: (offset: number) => number): number {
  for (let n = p.length; n > 0; n--) {
    const node = doc.getIn(p.slice(0, n) as (string | number)[], true) as YamlNode | undefined;
    if (node && typeof node === 'object' && node.range) return lineAt(node.range[0]);
    // A key with no value (`alternates:`) has no value node; point at the key instead.
    if (n === 1) return keyLine(doc, String(p[0]), lineAt);
  }
  return 1;
}

/** Line of a top-level key in the front matter (unknown fields, empty values). */
function keyLine(doc: Document, key: string, lineAt: (offset: number) => number): number {
  if (!isMap(doc.contents)) return 1;
  for (const pair of doc.contents.items) {
    if (isPair(pair) && isScalar(pair.key) && String(pair.key.value) === key && pair.key.range) return lineAt(pair.key.range[0]);
  }
  return 1;
}

/** One broken cross-file rule: a duplicate id (with the file that has it first), or a follow-up naming no entry or itself. */
export type CrossFileConflict =
  | { kind: 'duplicate-id'; file: ParsedKnowledgeFile; id: string; first: ParsedKnowledgeFile }
  | { kind: 'unknown-follow-up'; file: ParsedKnowledgeFile; target: string; line: number; guess?: string }
  | { kind: 'self-follow-up'; file: ParsedKnowledgeFile; target: string; line: number };

/**
 * The cross-file rules as data, so the knowledge base can tell which of the files involved changed.
 * `alsoKnown` are ids that count as existing (files that did not parse, so one broken file does not
 * cause a cascade of "unknown follow-up" problems elsewhere).
 */
export function findConflicts(files: ParsedKnowledgeFile[], alsoKnown: Iterable<string> = []): CrossFileConflict[] {
  const conflicts: CrossFileConflict[] = [];
  const firstById = new Map<string, ParsedKnowledgeFile>();
  for (const f of files) {
    if (!f.id) continue; // the YAML did not parse: its id is unknown
    const first = firstById.get(f.id);
    if (first) conflicts.push({ kind: 'duplicate-id', file: f, id: f.id, first });
    else firstById.set(f.id, f);
  }
  const known = new Set([...firstById.keys(), ...alsoKnown]);
  for (const f of files) {
    f.followUps.forEach((target, i) => {
      const line = f.lines.followUps[i] ?? 1;
      if (target === f.id) conflicts.push({ kind: 'self-follow-up', file: f, target, line });
      else if (!known.has(target)) conflicts.push({ kind: 'unknown-follow-up', file: f, target, line, guess: closestMatch(target, known) });
    });
  }
  return conflicts;
}

/** A cross-file conflict as a problem of the file it is in, naming the other file where there is one. */
export function conflictProblem(c: CrossFileConflict): KnowledgeProblem {
  switch (c.kind) {
    case 'duplicate-id':
      return {
        path: c.file.path,
        line: c.file.lines.id,
        message: `duplicate id "${c.id}": already used by ${c.first.path}:${c.first.lines.id} (give one of them another id)`,
      };
    case 'self-follow-up':
      return { path: c.file.path, line: c.line, message: `follow_ups names the entry itself ("${c.target}")` };
    case 'unknown-follow-up':
      return { path: c.file.path, line: c.line, message: `follow_ups names unknown id "${c.target}"${c.guess ? ` (did you mean "${c.guess}"?)` : ''}` };
  }
}

/**
 * The checks that need the whole folder: duplicate ids (naming both files) and `follow_ups` that name
 * no entry. Ids of files that failed to parse still count as known, so one broken file does not cause
 * a cascade of "unknown follow-up" problems elsewhere.
 */
export function checkAcrossFiles(files: ParsedKnowledgeFile[]): KnowledgeProblem[] {
  return findConflicts(files, files.filter((f) => !f.id).map((f) => f.defaultId)).map(conflictProblem);
}

/** Whether a path below the folder is a knowledge file (not a README, not hidden). */
export function isKnowledgeFile(relPath: string): boolean {
  const parts = relPath.split(/[\\/]/);
  const base = parts[parts.length - 1] ?? '';
  if (parts.some((p) => p.startsWith('.') || p === 'node_modules')) return false;
  return /\.md$/i.test(base) && base.toLowerCase() !== 'readme.md';
}

/**
 * Parsed files by path, with the text they were parsed from. Pass the same cache to every
 * `loadKnowledge` call of a folder, so a reload after one edit parses only the changed file.
 */
export type ParseCache = Map<string, { text: string; parsed: ParsedKnowledgeFile }>;

/** Parses a set of files already read (path below the folder → text): per-file and cross-file problems. */
export function parseKnowledgeFiles(files: { path: string; text: string }[], cache?: ParseCache): LoadedKnowledge {
  const parsed = files
    .map((f) => parseCached(f, cache))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (cache) {
    const present = new Set(files.map((f) => f.path));
    for (const key of [...cache.keys()]) if (!present.has(key)) cache.delete(key);
  }
  const problems = [...parsed.flatMap((p) => p.problems), ...checkAcrossFiles(parsed)].sort((a, b) =>
    a.path === b.path ? a.line - b.line : a.path < b.path ? -1 : 1,
  );
  return { entries: parsed.flatMap((p) => (p.entry ? [p.entry] : [])), problems, files: parsed.length };
}

/**
 * Reads the text of every knowledge file below `dir` (recursively), paths relative to it with forward
 * slashes. Throws `KnowledgeFolderError` only when the folder itself cannot be read.
 */
export async function readKnowledgeFolder(dir: string): Promise<{ path: string; text: string }[]> {
  let names: string[];
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new KnowledgeFolderError(`knowledge folder ${dir} is not a folder (set KNOWLEDGE_DIR to the folder of .md files)`);
    names = await readdir(dir, { recursive: true });
  } catch (err) {
    if (err instanceof KnowledgeFolderError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new KnowledgeFolderError(
      code === 'ENOENT'
        ? `knowledge folder ${dir} does not exist (create it, or set KNOWLEDGE_DIR to the folder of .md files)`
        : `knowledge folder ${dir} cannot be read: ${(err as Error).message}`,
    );
  }
  const relPaths = names.filter(isKnowledgeFile).map((n) => n.split(path.sep).join('/'));
  const files = await Promise.all(
    relPaths.map(async (p) => {
      try {
        return { path: p, text: await readFile(path.join(dir, p), 'utf8') };
      } catch (err) {
        // Deleted between listing and reading (an editor's rename-save): skip it; the watcher reloads again.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
        throw err;
      }
    }),
  );
  return files.filter((f): f is { path: string; text: string } => f !== undefined);
}

/**
 * Reads every knowledge file below `dir` (recursively) and validates it. Never throws for bad content —
 * that comes back in `problems`, all of them at once; throws `KnowledgeFolderError` only when the folder
 * itself cannot be read. `cache` (optional) skips parsing files whose text has not changed.
 */
export async function loadKnowledge(dir: string, options: { cache?: ParseCache } = {}): Promise<LoadedKnowledge> {
  return parseKnowledgeFiles(await readKnowledgeFolder(dir), options.cache);
}

/** Parses one file through the cache: the same text is parsed once. */
export function parseCached(file: { path: string; text: string }, cache?: ParseCache): ParsedKnowledgeFile {
  const hit = cache?.get(file.path);
  if (hit && hit.text === file.text) return hit.parsed;
  const parsed = parseKnowledgeFile(file.path, file.text);
  cache?.set(file.path, { text: file.text, parsed });
  return parsed;
}
