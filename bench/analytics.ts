/**
 * Analytics over 30 days × 100 000 conversations (issue 16's goal: the API answers in < 500 ms on
 * both backends). The facts of 100 000 conversations spread over 30 days and three channels are
 * recorded through each store's own `record` (files: DATA_DIR/analytics JSONL; PostgreSQL: migration
 * 0015's tables), then the report the route answers with is built and serialised, as
 * `GET /api/agent/analytics?days=30` does, for all channels and for one.
 *
 * Standalone: `npx tsx bench/analytics.ts [postgres://server/db]` (default TEST_DATABASE_URL; without
 * one, only the files backend is measured).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { testSettings } from '../src/config.js';
import { fixedClock } from '../src/clock.js';
import { Database } from '../src/storage/postgres/database.js';
import { FileAnalyticsStore } from '../src/analytics/file-store.js';
import { PgAnalyticsStore } from '../src/analytics/pg-store.js';
import { buildReport } from '../src/analytics/report.js';
import { ANALYTICS_CHANNELS, type AnalyticsFact, type AnalyticsStore } from '../src/analytics/facts.js';
import { createTestDatabase } from '../tests/helpers/postgres.js';
import type { BenchSection } from './types.js';

const CONVERSATIONS = 100_000;
const DAYS = 30;
const GOAL_MS = 500;
/** Timed report builds per backend and query (the median and the slowest are reported). */
const RUNS = 7;
/** Facts recorded at once while seeding (PostgreSQL: about the pool's size). */
const SEED_CONCURRENCY = 16;
const NOW = new Date('2026-12-01T18:00:00Z');
const ENTRIES = Array.from({ length: 60 }, (_, i) => `topic-${i % 12}/entry-${i}`);
const REASONS = ['customer-asked', 'two-misses', 'not-helpful', 'entry-handoff'] as const;

/** A deterministic pseudo-random sequence, so both backends get the same facts. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1_664_525 + 1_013_904_223) >>> 0) / 2 ** 32);
}

/** The facts of conversation `i`: one to three bot turns; a quarter handed off, claimed and resolved. */
function factsOf(i: number, rnd: () => number): AnalyticsFact[] {
  const channelId = ANALYTICS_CHANNELS[i % 3]!;
  const day = Math.floor(rnd() * DAYS);
  const start = NOW.getTime() - (DAYS - 1 - day) * 86_400_000 - 17 * 3_600_000 + Math.floor(rnd() * 16 * 3_600_000);
  const conversationId = `${channelId}-conv-${i}`;
  const customerId = `${channelId}-cust-${i % 80_000}`;
  const base = { channelId, conversationId };
  const facts: AnalyticsFact[] = [];
  const turns = 1 + Math.floor(rnd() * 3);
  for (let t = 0; t < turns; t++) {
    const r = rnd();
    const decision = r < 0.7 ? 'answer' : r < 0.85 ? 'suggest' : 'miss';
    facts.push({ ...base, kind: 'turn', id: `turn:${conversationId}:${t}`, at: new Date(start + t * 30_000).toISOString(), customerId, decision, ...(decision === 'answer' ? { entryId: ENTRIES[Math.floor(rnd() * ENTRIES.length)]! } : {}), replyMs: 40 + Math.floor(rnd() * 900) });
  }
  if (rnd() < 0.25) {
    const at = start + turns * 30_000;
    const waitMs = Math.floor(rnd() * 900_000);
    const handleMs = 60_000 + Math.floor(rnd() * 1_200_000);
    facts.push({ ...base, kind: 'handoff', id: `handoff:${conversationId}:1`, at: new Date(at).toISOString(), customerId, reason: REASONS[Math.floor(rnd() * REASONS.length)]! });
    facts.push({ ...base, kind: 'claim', id: `claim:${conversationId}:1`, at: new Date(at + waitMs).toISOString(), agent: `Agent ${i % 7}`, waitMs });
    facts.push({ ...base, kind: 'resolve', id: `resolve:${conversationId}:1`, at: new Date(at + waitMs + handleMs).toISOString(), agent: `Agent ${i % 7}`, handleMs });
  }
  return facts;
}

async function seed(store: AnalyticsStore): Promise<{ facts: number; ms: number }> {
  const rnd = random(16);
  const started = performance.now();
  let facts = 0;
  let inFlight: Promise<void>[] = [];
  for (let i = 0; i < CONVERSATIONS; i++) {
    for (const f of factsOf(i, rnd)) {
      facts++;
      inFlight.push(store.record(f));
      if (inFlight.length >= SEED_CONCURRENCY) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
  }
  await Promise.all(inFlight);
  return { facts, ms: performance.now() - started };
}

/** Median and slowest time of building and serialising the report, as the route does. */
async function timeReport(store: AnalyticsStore, channel?: string): Promise<{ median: number; max: number; conversations: number }> {
  const clock = fixedClock(NOW);
  const times: number[] = [];
  let conversations = 0;
  for (let i = 0; i < RUNS + 1; i++) {
    const t = performance.now();
    const report = await buildReport({ store, clock }, { days: DAYS, channel });
    JSON.stringify(report);
    if (i > 0) times.push(performance.now() - t); // the first run warms caches and JIT
    conversations = report.totals.conversations;
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, max: times.at(-1)!, conversations };
}

interface Row {
  backend: string;
  seed: string;
  start?: string;
  all: Awaited<ReturnType<typeof timeReport>>;
  one: Awaited<ReturnType<typeof timeReport>>;
}

export async function run(serverUrl = process.argv[2]?.startsWith('postgres') ? process.argv[2] : testSettings().testDatabaseUrl): Promise<BenchSection> {
  const rows: Row[] = [];

  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-analytics-'));
  try {
    const store = await FileAnalyticsStore.open(dir, { now: NOW });
    const seeded = await seed(store);
    await store.close();
    const t = performance.now();
    const reopened = await FileAnalyticsStore.open(dir, { now: NOW }); // what a restart costs: the aggregates rebuilt from the files
    const start = performance.now() - t;
    rows.push({ backend: 'files', seed: `${seeded.facts} facts in ${(seeded.ms / 1000).toFixed(1)} s`, start: `${(start / 1000).toFixed(1)} s`, all: await timeReport(reopened), one: await timeReport(reopened, 'whatsapp') });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  if (serverUrl) {
    const { url, drop } = await createTestDatabase(serverUrl, 'sb_bench_analytics');
    const db = await Database.open(url, { max: SEED_CONCURRENCY });
    try {
      const store = new PgAnalyticsStore(db);
      const seeded = await seed(store);
      await db.query('ANALYZE');
      rows.push({ backend: 'PostgreSQL', seed: `${seeded.facts} facts in ${(seeded.ms / 1000).toFixed(1)} s`, all: await timeReport(store), one: await timeReport(store, 'whatsapp') });
    } finally {
      await db.close();
      await drop();
    }
  }

  const verdict = (ms: number) => (ms < GOAL_MS ? 'meets' : '**misses**');
  const markdown = [
    `${CONVERSATIONS.toLocaleString('en')} conversations over ${DAYS} days on three channels (a quarter handed off, claimed and resolved), recorded through each store's \`record\`; then the report of \`GET /api/agent/analytics?days=${DAYS}\` built and serialised ${RUNS} times (after one warm-up). Goal: < ${GOAL_MS} ms on both backends. The machine was shared with other work while this ran, so the times are upper bounds.`,
    '',
    '| backend | seeded | start-up (rebuild from files) | all channels: median / slowest | one channel: median / slowest | goal |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.backend} | ${r.seed} | ${r.start ?? '–'} | ${r.all.median.toFixed(0)} / ${r.all.max.toFixed(0)} ms (${r.all.conversations} conversations) | ${r.one.median.toFixed(0)} / ${r.one.max.toFixed(0)} ms | ${verdict(Math.max(r.all.max, r.one.max))} |`),
    ...(serverUrl ? [] : ['', 'PostgreSQL not measured: set TEST_DATABASE_URL (or pass a server URL).']),
  ].join('\n');
  return { title: 'Analytics: 30 days × 100 000 conversations', command: 'npm run bench -- analytics', markdown };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log((await run()).markdown);
