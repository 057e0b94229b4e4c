/**
 * What a knowledge change breaks (issue 16's goal: `kb diff` over 10,000 saved questions in < 5 s).
 * 10,000 distinct customer questions — the sample knowledge's phrasings and evaluation queries with the
 * openings and endings customers add — are saved through the bot's recorder (files: DATA_DIR/questions;
 * PostgreSQL: `kb_questions`, when a server is given), then:
 * - `npm run kb -- diff --before … --after … --json` runs as a user runs it (a new Node process: loading
 *   both folders, building both indexes, reading the questions, replaying), timed from spawn to exit;
 * - the running server's after-reload diff (ReloadDiffs on a KnowledgeBase) replays them after an
 *   editor's save, and again when the edit is undone, while the event loop's delay is sampled (`monitorEventLoopDelay`) from the
 *   reload's swap to the end of the replay — the delay a customer's reply could see meanwhile.
 * The edit is the one of tests/knowledge/diff.test.ts: a card-payment entry is added, the lost-or-stolen
 * entry is taken off web chat.
 *
 * Standalone: `npx tsx bench/kb-diff.ts [postgres://server/db]` (default TEST_DATABASE_URL).
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { testSettings } from '../src/config.js';
import { KnowledgeBase } from '../src/knowledge/knowledge-base.js';
import { loadKnowledge } from '../src/knowledge/loader.js';
import { FileQuestionsStore, QuestionRecorder, questionKey, type QuestionsStore } from '../src/knowledge/questions-store.js';
import { ReloadDiffs } from '../src/knowledge/reload-diff.js';
import { REPLAY_SLICE_MS } from '../src/knowledge/diff.js';
import { Database } from '../src/storage/postgres/database.js';
import { PgQuestionsStore } from '../src/storage/postgres/questions-store.js';
import { createTestDatabase } from '../tests/helpers/postgres.js';
import { editKnowledge } from '../tests/knowledge/diff-fixtures.js';
import type { BenchSection } from './types.js';

const exec = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const QUESTIONS = 10_000;
const GOAL_MS = 5_000;
/** `kb diff` runs per backend (the median and the slowest are reported). */
const RUNS = 3;
/** Askings saved at once while seeding (PostgreSQL: about the pool's size). */
const SEED_CONCURRENCY = 16;

const OPENINGS = ['', 'hi ', 'hello, ', 'hey ', 'quick question: ', 'please tell me ', 'um ', 'so ', 'excuse me, ', 'good morning, ', 'sorry but ', 'can you tell me '];
const ENDINGS = ['', ' please', ' thanks', ' asap', ' today', ' for my son', ' on my account', ' again', ' now', ' this month', ' from abroad', ' with nimbus'];

/** `QUESTIONS` distinct questions (by `questionKey`), each with how often it was asked (a long tail). */
async function questions(): Promise<{ text: string; times: number }[]> {
  const loaded = await loadKnowledge(path.join(root, 'knowledge'));
  const cases = (await readFile(path.join(root, 'knowledge', 'eval', 'cases.jsonl'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { query: string }).query);
  const bases = [...loaded.entries.flatMap((e) => [e.question, ...e.alternates]), ...cases];
  const seen = new Set<string>();
  const out: { text: string; times: number }[] = [];
  for (let round = 0; out.length < QUESTIONS; round++) {
    for (let i = 0; i < bases.length && out.length < QUESTIONS; i++) {
      const text = `${OPENINGS[(i + round) % OPENINGS.length]}${bases[i]}${ENDINGS[Math.floor(round / OPENINGS.length + i) % ENDINGS.length]}`;
      const key = questionKey(text);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ text, times: 1 + (out.length % 97 === 0 ? 40 : out.length % 7 === 0 ? 3 : 0) });
    }
  }
  return out;
}

async function seed(store: QuestionsStore, knowledgeDir: string): Promise<{ askings: number; ms: number }> {
  const kb = await KnowledgeBase.open(knowledgeDir, { watch: false });
  const recorder = new QuestionRecorder(store);
  const all = await questions();
  const started = performance.now();
  let askings = 0;
  for (let i = 0; i < all.length; i += SEED_CONCURRENCY) {
    for (const q of all.slice(i, i + SEED_CONCURRENCY)) {
      const decision = kb.decide(q.text, { channel: 'webchat' });
      for (let t = 0; t < q.times; t++, askings++) recorder.record(q.text, decision, { channel: 'webchat' });
    }
    await recorder.flush();
  }
  await kb.close();
  return { askings, ms: performance.now() - started };
}

interface CliRun {
  wallMs: number[];
  replayMs: number;
  changed: number;
  questions: number;
}

async function timeCli(before: string, after: string, env: Record<string, string>): Promise<CliRun> {
  const wallMs: number[] = [];
  let last: { ms: number; changed: unknown[]; questions: number } | undefined;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'knowledge', 'cli.ts'), 'diff', '--before', before, '--after', after, '--json'], {
      cwd: root,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    wallMs.push(performance.now() - started);
    last = JSON.parse(stdout);
  }
  return { wallMs: wallMs.sort((a, b) => a - b), replayMs: last!.ms, changed: last!.changed.length, questions: last!.questions };
}

interface ReplayFigures {
  ms: number;
  maxDelayMs: number;
  p99DelayMs: number;
  changed: number;
}

/**
 * The server's side: a watched copy of `before`, edited, then the edit undone; for each, the replay's
 * time and the event loop's delay from the swap to the end of the replay. The second replay knows what
 * the index before it gives each question (the first one's results), so it searches each question once.
 */
async function afterReload(before: string, store: QuestionsStore): Promise<{ first: ReplayFigures; second: ReplayFigures; idle: ReplayFigures }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-kb-diff-watched-'));
  await cp(before, dir, { recursive: true });
  // Reloaded by hand, so each measured replay is of one whole edit (a watcher may catch a copy half-done).
  const kb = await KnowledgeBase.open(dir, { watch: false });
  const diffs = new ReloadDiffs(kb, store);
  const measure = async (edit: () => Promise<void>): Promise<ReplayFigures> => {
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    kb.once('reloaded', () => histogram.enable()); // after ReloadDiffs' own listener: the replay has just begun
    const computed = new Promise<void>((resolve) => diffs.once('computed', () => resolve()));
    await edit();
    await kb.reload();
    await computed;
    histogram.disable();
    const result = diffs.latest()!;
    return { ms: result.ms, maxDelayMs: histogram.max / 1e6, p99DelayMs: histogram.percentile(99) / 1e6, changed: result.changedCount };
  };
  const first = await measure(() => editKnowledge(dir));
  // The same process doing nothing for as long: what the loaded machine alone costs the event loop.
  const quiet = monitorEventLoopDelay({ resolution: 1 });
  quiet.enable();
  await new Promise((resolve) => setTimeout(resolve, first.ms));
  quiet.disable();
  const idle = { ms: first.ms, maxDelayMs: quiet.max / 1e6, p99DelayMs: quiet.percentile(99) / 1e6, changed: 0 };
  const second = await measure(async () => {
    await rm(path.join(dir, 'billing', 'pay-by-card.md'));
    await cp(path.join(before, 'sim', 'lost-stolen.md'), path.join(dir, 'sim', 'lost-stolen.md'));
  });
  diffs.close();
  await kb.close();
  await rm(dir, { recursive: true, force: true });
  return { first, second, idle };
}

export async function run(databaseServer = testSettings().testDatabaseUrl): Promise<BenchSection> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'bench-kb-diff-'));
  const before = path.join(tmp, 'before');
  const after = path.join(tmp, 'after');
  await cp(path.join(root, 'knowledge'), before, { recursive: true });
  await cp(path.join(root, 'knowledge'), after, { recursive: true });
  await editKnowledge(after);
  const rows: string[] = [];
  const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
  const verdict = (ms: number) => (ms < GOAL_MS ? '✅' : '❌');
  let reload: Awaited<ReturnType<typeof afterReload>> | undefined;
  try {
    const dataDir = path.join(tmp, 'data');
    const files = await FileQuestionsStore.open(dataDir);
    const seeded = await seed(files, before);
    const cli = await timeCli(before, after, { DATA_DIR: dataDir, DATABASE_URL: '' });
    rows.push(
      `| files (DATA_DIR) | ${cli.questions.toLocaleString('en')} (${seeded.askings.toLocaleString('en')} askings) | ${cli.changed} | ${fmt(cli.replayMs)} | ${fmt(cli.wallMs[Math.floor(RUNS / 2)]!)} / ${fmt(cli.wallMs.at(-1)!)} | < 5 s | ${verdict(cli.wallMs.at(-1)!)} |`,
    );
    reload = await afterReload(before, files);
    await files.close();

    if (databaseServer) {
      const created = await createTestDatabase(databaseServer, 'sb_bench_kbdiff');
      const db = await Database.open(created.url);
      try {
        const seededPg = await seed(new PgQuestionsStore(db), before);
        const pg = await timeCli(before, after, { DATABASE_URL: created.url });
        rows.push(
          `| PostgreSQL (DATABASE_URL) | ${pg.questions.toLocaleString('en')} (${seededPg.askings.toLocaleString('en')} askings) | ${pg.changed} | ${fmt(pg.replayMs)} | ${fmt(pg.wallMs[Math.floor(RUNS / 2)]!)} / ${fmt(pg.wallMs.at(-1)!)} | < 5 s | ${verdict(pg.wallMs.at(-1)!)} |`,
        );
      } finally {
        await db.close();
        await created.drop();
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return {
    title: 'kb diff: replaying saved customer questions against a knowledge edit',
    command: 'npm run bench -- kb-diff',
    markdown: [
      `${QUESTIONS.toLocaleString('en')} distinct saved questions (the sample knowledge's phrasings and evaluation queries with customers' openings and endings), the edit of tests/knowledge/diff.test.ts (a card-payment entry added, the lost-or-stolen entry taken off web chat), against the sample knowledge. "kb diff" is a new process per run (\`node --import tsx src/knowledge/cli.ts diff --before … --after … --json\`: start-up, loading and indexing both folders, reading the questions, replaying), ${RUNS} runs. Measured while other work shared the machine's cores, so figures are upper bounds.`,
      '',
      '| backend | questions | changed | replay (2 decisions each) | kb diff, spawn to exit, median / slowest | goal | |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
      `After a reload in the running server (ReloadDiffs over the file store; the replay yields to the event loop every ${REPLAY_SLICE_MS} ms of work):`,
      '',
      '| edit | replay | changed | worst event-loop delay during the replay | p99 delay |',
      '| --- | --- | --- | --- | --- |',
      `| first edit after start (both versions searched) | ${fmt(reload!.first.ms)} | ${reload!.first.changed} | ${reload!.first.maxDelayMs.toFixed(1)} ms | ${reload!.first.p99DelayMs.toFixed(1)} ms |`,
      `| next edit (the previous replay's results reused for "before") | ${fmt(reload!.second.ms)} | ${reload!.second.changed} | ${reload!.second.maxDelayMs.toFixed(1)} ms | ${reload!.second.p99DelayMs.toFixed(1)} ms |`,
      `| no replay: the same process idle for as long as the first (the shared machine's own noise) | — | — | ${reload!.idle.maxDelayMs.toFixed(1)} ms | ${reload!.idle.p99DelayMs.toFixed(1)} ms |`,
      '',
      `One unbroken replay would have held the event loop for the whole replay time instead.`,
    ].join('\n'),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const section = await run(process.argv[2] ?? testSettings().testDatabaseUrl);
  console.log(section.markdown);
}
