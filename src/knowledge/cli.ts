/**
 * `npm run kb -- check [DIR]`, `npm run kb -- search "text" [--knowledge DIR] [--channel C] [--locale L]`,
 * `npm run kb -- gaps` (what customers asked that the knowledge did not cover) and `npm run kb -- diff`
 * (which saved customer questions an edit gives another reply): what a content editor runs before (or
 * instead of) starting the server. `check` prints every problem as `path:line: message` (paths relative
 * to DIR, as editors' tools expect), including `tests:` phrasings that do not reach their entry, and
 * exits 1 if there is any.
 * Exit codes: 0 fine, 1 problems found (diff: something changes, with --fail-on-change), 2 usage or folder error.
 */
import { realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fixedClock, systemClock, type Clock } from '../clock.js';
import { loadConfig, loadDotEnv } from '../config.js';
import { isCalendarDay } from './schema.js';
import { KnowledgeFolderError, loadKnowledge } from './loader.js';
import { KnowledgeIndex } from './search.js';
import { CHANNELS, formatProblem, type Decision, type SearchMatch } from './types.js';
import { Database, DatabaseUnavailableError, MigrationError } from '../storage/postgres/database.js';
import { PgQuestionsStore } from '../storage/postgres/questions-store.js';
import { FileQuestionsStore, type QuestionsStore } from './questions-store.js';
import { describeOutcome, diffKnowledge } from './diff.js';
import { knowledgeAtRevision, type GitVersion } from './git-version.js';
import { checkPhrasingTests } from './phrasing-tests.js';
import { DEFAULT_GAPS_DAYS, DEFAULT_GAPS_LIMIT, InsightsStore, MAX_GAPS_DAYS, knowledgeGaps } from '../bot/insights.js';

/** Where the CLI writes; tests pass arrays. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `Usage:
  npm run kb -- check [DIR]
      Validate a knowledge folder (default: KNOWLEDGE_DIR, ./knowledge). Prints every problem as
      path:line: message and exits 1 if there is any.
  npm run kb -- search "text" [--knowledge DIR] [--channel ${CHANNELS.join('|')}] [--locale en] [--date YYYY-MM-DD] [--limit 5]
      The ranked matches with their confidence, and what the bot would do.
  npm run kb -- gaps [--days 30] [--data DIR] [--limit 20]
      What customers asked that the knowledge did not answer (most asked first), and the entries
      customers said did not help — from the running bot's records in DATA_DIR.
  npm run kb -- diff [--before DIR|GIT-REV] [--after DIR] [--fail-on-change] [--json] [--data DIR]
      Replays the customer questions the bot saved against two versions of the knowledge and lists
      every question whose reply changes (another entry, an answer becoming a suggestion or a miss,
      or the reverse), the most asked first. --after: default KNOWLEDGE_DIR; --before: a folder or a
      git revision of the --after folder, default HEAD. Questions come from DATA_DIR, or PostgreSQL when
      DATABASE_URL is set (--data DIR: that folder instead). --fail-on-change: exit 1 if anything
      changes (for a knowledge repository's CI); --json: one JSON document.`;

/** A mistake in how the CLI was called; printed with the usage, exit 2. */
class UsageError extends Error {
  override name = 'UsageError';
}

function defaultDir(): string {
  loadDotEnv();
  return loadConfig().knowledgeDir;
}

function defaultDataDir(): string {
  loadDotEnv();
  return loadConfig().dataDir;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function check(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length > 1) throw new UsageError(`check takes one folder, got ${positionals.length}: ${positionals.join(' ')}`);
  const dir = positionals[0] ?? defaultDir();
  const loaded = await loadKnowledge(dir);
  if (loaded.entries.some((e) => e.tests?.length)) {
    const tests = checkPhrasingTests(loaded.entries, KnowledgeIndex.build(loaded.entries));
    loaded.problems = [...loaded.problems, ...tests].sort((a, b) => (a.path === b.path ? a.line - b.line : a.path < b.path ? -1 : 1));
  }
  for (const p of loaded.problems) io.out(formatProblem(p));
  if (loaded.problems.length > 0) {
    const badFiles = new Set(loaded.problems.map((p) => p.path)).size;
    io.out(`✗ ${dir}: ${plural(loaded.problems.length, 'problem')} in ${badFiles} of ${plural(loaded.files, 'file')}`);
    return 1;
  }
  if (loaded.files === 0) {
    io.out(`✗ ${dir}: no knowledge files (.md) found — is this the right folder?`);
    return 1;
  }
  const entries = `${loaded.entries.length} ${loaded.entries.length === 1 ? 'entry' : 'entries'}`;
  io.out(`✓ ${dir}: ${entries} in ${plural(loaded.files, 'file')}, no problems`);
  return 0;
}

function describeDecision(d: Decision): string {
  switch (d.kind) {
    case 'answer':
      return `answer with ${d.match.entry.id} (confidence ${d.match.confidence.toFixed(2)})${d.match.entry.handoff ? ', then hand over to a human' : ''}`;
    case 'suggest':
      return `suggest ${d.matches.map((m) => m.entry.id).join(', ')} (not sure enough to answer)`;
    case 'none':
      return 'none: nothing fits well enough (the bot offers a human)';
  }
}

function row(m: SearchMatch, i: number): string {
  const flags = [m.entry.handoff ? 'handoff' : '', m.entry.validUntil ? `until ${m.entry.validUntil}` : ''].filter(Boolean).join(', ');
  return `${String(i + 1).padStart(2)}. ${m.confidence.toFixed(2)}  ${m.entry.id.padEnd(36)} ${m.entry.question}${flags ? `  [${flags}]` : ''}`;
}

async function search(args: string[], io: CliIo): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      knowledge: { type: 'string' },
      channel: { type: 'string' },
      locale: { type: 'string' },
      date: { type: 'string' },
      limit: { type: 'string' },
    },
  });
  const query = positionals.join(' ').trim();
  if (!query) throw new UsageError('search needs the text to look for, e.g. npm run kb -- search "how do I pay my bill"');
  if (values.channel && !(CHANNELS as readonly string[]).includes(values.channel)) {
    throw new UsageError(`unknown channel "${values.channel}" (valid channels: ${CHANNELS.join(', ')})`);
  }
  if (values.date && !isCalendarDay(values.date)) throw new UsageError(`--date must be YYYY-MM-DD, got "${values.date}"`);
  const limit = values.limit === undefined ? 5 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number, got "${values.limit}"`);

  const dir = values.knowledge ?? defaultDir();
  const loaded = await loadKnowledge(dir);
  if (loaded.problems.length > 0) {
    for (const p of loaded.problems) io.err(formatProblem(p));
    io.err(`✗ ${dir} has ${plural(loaded.problems.length, 'problem')}; fix them first (npm run kb -- check ${dir})`);
    return 1;
  }
  const clock: Clock = values.date ? fixedClock(`${values.date}T12:00:00Z`) : systemClock;
  const index = KnowledgeIndex.build(loaded.entries, { clock });
  const context = { channel: values.channel, locale: values.locale };
  const matches = index.search(query, { ...context, limit });
  io.out(
    `"${query}" in ${dir} (${[`channel ${values.channel ?? 'any'}`, `locale ${values.locale ?? 'en'}`, clock.now().toISOString().slice(0, 10)].join(', ')})`,
  );
  if (matches.length === 0) io.out('  no matches');
  matches.forEach((m, i) => io.out(row(m, i)));
  io.out(`Decision: ${describeDecision(index.decide(query, context))}`);
  return 0;
}

async function gaps(args: string[], io: CliIo): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { days: { type: 'string' }, data: { type: 'string' }, limit: { type: 'string' } },
  });
  if (positionals.length) throw new UsageError(`gaps takes no text, got: ${positionals.join(' ')}`);
  const days = values.days === undefined ? DEFAULT_GAPS_DAYS : Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > MAX_GAPS_DAYS) throw new UsageError(`--days must be a positive whole number (at most ${MAX_GAPS_DAYS}), got "${values.days}"`);
  const limit = values.limit === undefined ? DEFAULT_GAPS_LIMIT : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number, got "${values.limit}"`);
  const dataDir = values.data ?? defaultDataDir();
  // Loaded here, not at the top: the storage brings in botbuilder, seconds of start-up the other commands do not need.
  const { LowdbStorage } = await import('../storage/index.js');
  const report = await knowledgeGaps(new InsightsStore(new LowdbStorage({ dir: dataDir })), { days, limit });
  io.out(`Unanswered questions in the last ${plural(days, 'day')} (${report.asked} in all, ${dataDir}):`);
  if (report.unanswered.length === 0) io.out('  none');
  for (const g of report.unanswered) io.out(`${String(g.count).padStart(5)}×  ${g.query}  [${g.channels.join(', ')}; last ${g.lastAt.slice(0, 16).replace('T', ' ')}]`);
  io.out('Answers customers said did not help:');
  if (report.unhelpful.length === 0) io.out('  none');
  for (const f of report.unhelpful) io.out(`${String(f.notHelpful).padStart(5)}×  ${f.entryId}  (${f.helpful} found it helpful)`);
  return 0;
}

/** A knowledge folder loaded for `diff`: its valid entries indexed; problems are warned about, their files left out. */
async function indexFor(dir: string, label: string, io: CliIo): Promise<KnowledgeIndex> {
  const loaded = await loadKnowledge(dir);
  if (loaded.problems.length) {
    io.err(`kb diff: ${label} has ${plural(loaded.problems.length, 'problem')}; the files with problems are left out (npm run kb -- check lists them)`);
  }
  return KnowledgeIndex.build(loaded.entries);
}

/** The saved questions store the server uses: `--data DIR`, else DATABASE_URL, else DATA_DIR. */
async function openQuestions(dataDir: string | undefined, env: Record<string, string | undefined> | undefined): Promise<{ store: QuestionsStore; source: string; db?: Database }> {
  if (dataDir) return { store: await FileQuestionsStore.open(dataDir, { readOnly: true }), source: dataDir };
  loadDotEnv();
  const config = loadConfig(env);
  if (!config.databaseUrl) return { store: await FileQuestionsStore.open(config.dataDir, { readOnly: true }), source: config.dataDir };
  const db = await Database.open(config.databaseUrl, { max: 2 });
  return { store: new PgQuestionsStore(db), source: 'PostgreSQL (DATABASE_URL)', db };
}

async function diff(args: string[], io: CliIo, env: Record<string, string | undefined> | undefined): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      before: { type: 'string' },
      after: { type: 'string' },
      'fail-on-change': { type: 'boolean' },
      json: { type: 'boolean' },
      data: { type: 'string' },
    },
  });
  if (positionals.length) throw new UsageError(`diff takes no text, got: ${positionals.join(' ')} (name the versions with --before and --after)`);
  const afterDir = values.after ?? defaultDir();
  let git: GitVersion | undefined;
  const beforeIsDir = values.before !== undefined && (await isFolder(values.before));
  if (!beforeIsDir) git = await knowledgeAtRevision(afterDir, values.before ?? 'HEAD');
  let opened: Awaited<ReturnType<typeof openQuestions>> | undefined;
  try {
    const beforeDir = git?.dir ?? values.before!;
    const beforeLabel = git?.label ?? beforeDir;
    const before = await indexFor(beforeDir, `before (${beforeLabel})`, io);
    const after = await indexFor(afterDir, `after (${afterDir})`, io);
    try {
      opened = await openQuestions(values.data, env);
    } catch (err) {
      if (err instanceof DatabaseUnavailableError || err instanceof MigrationError) {
        io.err(`kb diff: ${(err as Error).message}`);
        return 2;
      }
      throw err;
    }
    const questions = await opened.store.list();
    const { afterOutcomes: _outcomes, ...result } = await diffKnowledge(before, after, questions);
    const failed = values['fail-on-change'] && result.changed.length > 0;
    if (values.json) {
      io.out(
        JSON.stringify({
          before: { source: beforeLabel, entries: before.entries.length },
          after: { source: afterDir, entries: after.entries.length },
          questionsFrom: opened.source,
          ...result,
          ms: Math.round(result.ms),
        }),
      );
      return failed ? 1 : 0;
    }
    io.out(
      `${plural(result.questions, 'saved question')} (asked ${plural(result.asked, 'time')}, from ${opened.source}) replayed against ` +
        `before ${beforeLabel} (${before.entries.length} entries) and after ${afterDir} (${after.entries.length} entries):`,
    );
    if (result.questions === 0) io.out('  none saved yet: the bot saves each question customers ask');
    if (result.changed.length === 0) {
      io.out('✓ no question gets another reply');
      return 0;
    }
    io.out(`${failed ? '✗' : '!'} ${plural(result.changed.length, 'question')} (asked ${plural(result.changedAsked, 'time')}) would get another reply, the most asked first:`);
    for (const c of result.changed) {
      io.out(`${String(c.count).padStart(6)}×  ${c.question}  [${c.channels.join(', ')}]`);
      io.out(`         ${describeOutcome(c.before)} → ${describeOutcome(c.after)}`);
    }
    return failed ? 1 : 0;
  } finally {
    await opened?.store.close();
    await opened?.db?.close();
    await git?.cleanup();
  }
}

async function isFolder(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Runs the CLI with `args` (without node and script); returns the exit code. `env` is where `diff`
 * finds DATABASE_URL and DATA_DIR (default the process environment; tests pass their own).
 */
export async function runCli(args: string[], io: CliIo, env?: Record<string, string | undefined>): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === 'check') return await check(rest, io);
    if (command === 'search') return await search(rest, io);
    if (command === 'gaps') return await gaps(rest, io);
    if (command === 'diff') return await diff(rest, io, env);
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      io.out(USAGE);
      return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command "${command}" (use check, search, gaps or diff)`);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (err instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`kb: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof KnowledgeFolderError || e.name === 'ConfigError') {
      io.err(`kb: ${e.message}`);
      return 2;
    }
    throw err;
  }
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  const io: CliIo = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };
  process.exitCode = await runCli(process.argv.slice(2), io);
}
