/**
 * PostgreSQL write cost: one `PgStorage.write` (a conversation's state) plus one
 * `PgTranscriptStore.logActivity` (a message into an existing conversation), with 100 and with
 * 100,000 conversations stored. Goal: ratio (100,000 / 100) ≤ 1.2 — every write reaches rows by
 * primary key or per-conversation index only, so the store's size must not show.
 *
 * Each level gets its own fresh database on the server, seeded with one INSERT … SELECT
 * generate_series per table (state, conversations, 4 activities each, customer links), then ANALYZEd.
 * The two levels are measured in alternating rounds so that load from other work on the machine
 * falls on both alike. The databases are dropped at the end.
 *
 * Standalone (bench/scale.ts calls `run` too):
 *   npx tsx bench/pg-write-cost.ts --server postgres://postgres@127.0.0.1:5432/postgres [--rounds 40] [--per-round 25] [--active all]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ActivityTypes, type Activity } from 'botbuilder';
import { Database } from '../src/storage/postgres/database.js';
import { createTestDatabase } from '../tests/helpers/postgres.js';
import { PgStorage } from '../src/storage/postgres/storage.js';
import { PgTranscriptStore } from '../src/storage/postgres/transcript-store.js';
import type { BenchSection } from './types.js';

const LEVELS = [100, 100_000];
const ACTIVITIES_PER_CONVERSATION = 4;
/**
 * Conversations receiving the measured turns, spread over the whole key range (as bench/storage.ts
 * does for the file store): what grows is what is stored, not how many customers talk at once.
 * `--active all` picks every turn's conversation at random among all those stored instead.
 */
const WORKING_SET = 100;
const STATE_PAYLOAD = 'x'.repeat(600); // about the size of a conversation's dialog state

/** Creates, migrates and seeds a database holding `n` conversations. */
async function seeded(serverUrl: string, n: number): Promise<{ drop(): Promise<void>; db: Database }> {
  const { url, drop } = await createTestDatabase(serverUrl, `sb_bench_${n}`);
  const db = await Database.open(url);
  await db.query(
    `INSERT INTO bot_state (key, item, etag)
     SELECT convert_to('test/conversations/conv-' || i || '/', 'UTF8'), json_build_object('dialogState', $2::text, 'n', i), md5(i::text)
     FROM generate_series(1, $1::int) i`,
    [n, STATE_PAYLOAD],
  );
  await db.query(
    `INSERT INTO transcript_conversations (channel_id, conversation_id, created)
     SELECT 'test', 'conv-' || i, timestamptz '2026-01-01' + i * interval '1 second' FROM generate_series(1, $1::int) i`,
    [n],
  );
  await db.query(
    `INSERT INTO transcript_activities (channel_id, conversation_id, activity_type, activity_id, ts, writer, activity)
     SELECT 'test', 'conv-' || c, 'message', 'seed-' || g, timestamptz '2026-01-01' + g * interval '1 second', 'seed',
            json_build_object('type', 'message', 'id', 'seed-' || g, 'channelId', 'test', 'conversation', json_build_object('id', 'conv-' || c),
                              'from', json_build_object('id', 'user-' || c, 'role', 'user'), 'text', 'How can I pay my bill by card? I tried the app yesterday.')
     FROM generate_series(1, $1::int * $2::int) g, LATERAL (SELECT (g - 1) / $2::int + 1 AS c) conv`,
    [n, ACTIVITIES_PER_CONVERSATION],
  );
  await db.query(
    `INSERT INTO transcript_customers (channel_id, customer_id, conversation_id, created)
     SELECT 'test', 'user-' || i, 'conv-' || i, timestamptz '2026-01-01' + i * interval '1 second' FROM generate_series(1, $1::int) i`,
    [n],
  );
  await db.query('ANALYZE');
  return { drop, db };
}

function activity(conversationId: string, id: string): Activity {
  return {
    type: ActivityTypes.Message,
    id,
    channelId: 'test',
    serviceUrl: 'http://localhost:3978/',
    conversation: { id: conversationId } as Activity['conversation'],
    from: { id: `user-${conversationId.slice(5)}`, name: 'Customer', role: 'user' },
    recipient: { id: 'bot', name: 'Switchboard', role: 'bot' },
    timestamp: new Date(),
    text: 'How can I pay my bill by card? I tried the app yesterday and it did not work.',
  } as Activity;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const f = (ms: number) => ms.toFixed(2);

/** How many samples, and where the measured turns go. */
export interface WriteCostOptions {
  rounds: number;
  perRound: number;
  /** 'all': each turn on any stored conversation; 'working-set': on 100 of them spread over the keys. */
  active: 'working-set' | 'all';
}

/** Seeds both levels on `serverUrl`, measures them in alternating rounds and drops them; the section's markdown holds the table and ratio. */
export async function run(serverUrl: string, o: WriteCostOptions = { rounds: 40, perRound: 25, active: 'working-set' }): Promise<BenchSection & { ratio: number }> {
  const { rounds, perRound } = o;
  const levels = [];
  let seq = 0;
  try {
    for (const n of LEVELS) {
      const started = performance.now();
      const { drop, db } = await seeded(serverUrl, n);
      console.error(`bench/pg-write-cost: seeded ${n} conversations in ${Math.round(performance.now() - started)} ms`);
      const active = Array.from({ length: Math.min(WORKING_SET, n) }, (_, i) => 1 + Math.floor(((i + Math.random()) * n) / Math.min(WORKING_SET, n)));
      levels.push({ n, drop, db, active, storage: new PgStorage(db), transcripts: new PgTranscriptStore(db), write: [] as number[], log: [] as number[], both: [] as number[] });
    }
    for (let round = -1; round < rounds; round++) {
      for (const level of levels) {
        for (let i = 0; i < perRound; i++) {
          const conv = o.active === 'all' ? 1 + Math.floor(Math.random() * level.n) : level.active[Math.floor(Math.random() * level.active.length)]!;
          const t0 = performance.now();
          await level.storage.write({ [`test/conversations/conv-${conv}/`]: { dialogState: STATE_PAYLOAD, n: conv, turn: seq } });
          const t1 = performance.now();
          await level.transcripts.logActivity(activity(`conv-${conv}`, `bench-${++seq}`));
          const t2 = performance.now();
          if (round < 0) continue; // the first round warms the pool and caches
          level.write.push(t1 - t0);
          level.log.push(t2 - t1);
          level.both.push(t2 - t0);
        }
      }
    }
    const [small, large] = levels as [(typeof levels)[0], (typeof levels)[0]];
    const ratio = median(large.both) / median(small.both);
    const lines = [
      `PostgreSQL write cost (${rounds * perRound} samples per level, alternating rounds, turns on ${o.active === 'all' ? 'any stored conversation' : `${WORKING_SET} active conversations`}; ms):`,
      '',
      '| conversations stored | PgStorage.write p50 | logActivity p50 | write + log p50 | write + log mean | write + log p99 |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
      ...levels.map((l) => `| ${l.n.toLocaleString('en')} | ${f(median(l.write))} | ${f(median(l.log))} | ${f(median(l.both))} | ${f(mean(l.both))} | ${f(p99(l.both))} |`),
      '',
      `Ratio ${large.n.toLocaleString('en')} / ${small.n.toLocaleString('en')} (write + log p50): **${ratio.toFixed(2)}** (goal ≤ 1.2); mean: ${(mean(large.both) / mean(small.both)).toFixed(2)}.`,
    ];
    return { title: 'PostgreSQL write cost', command: `npx tsx bench/pg-write-cost.ts --server … --rounds ${rounds} --per-round ${perRound}${o.active === 'all' ? ' --active all' : ''}`, markdown: lines.join('\n'), ratio };
  } finally {
    for (const level of levels) {
      await level.db.close();
      await level.drop();
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { server: { type: 'string' }, rounds: { type: 'string' }, 'per-round': { type: 'string' }, active: { type: 'string' } } });
  if (!values.server) throw new Error('bench/pg-write-cost: --server postgres://… is required (a server where databases may be created)');
  const section = await run(values.server, { rounds: Number(values.rounds ?? 40), perRound: Number(values['per-round'] ?? 25), active: values.active === 'all' ? 'all' : 'working-set' });
  console.log(section.markdown);
}
