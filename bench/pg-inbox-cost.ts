/**
 * Write cost of the PostgreSQL inbox: accept + done of one inbound item (what every customer message
 * costs before and after its turn) with 100 vs 100,000 conversations already stored. Goal: ratio ≤ 1.2,
 * the write cost must not grow with the store.
 *
 * Each level gets its own fresh database, filled directly with SQL (every stored conversation has 3
 * done items, a reply window, 3 outbound messages and a profile name). Rounds alternate between the two
 * levels, so whatever else the machine is doing weighs on both alike.
 *
 * Standalone: `npx tsx bench/pg-inbox-cost.ts [postgres://server/db]` (default TEST_DATABASE_URL);
 * it creates and drops its own databases and prints the markdown.
 */
import { pathToFileURL } from 'node:url';
import { testSettings } from '../src/config.js';
import { Database } from '../src/storage/postgres/database.js';
import { createTestDatabase } from '../tests/helpers/postgres.js';
import { PgChannelJournal } from '../src/storage/postgres/channel-journal.js';
import type { BenchSection } from './types.js';

const LEVELS = [100, 100_000] as const;
/** Conversations receiving the measured messages (the active ones among the stored). */
const WORKING_SET = 100;
const WARMUP = 200;
const ROUNDS = 1000;
const CHANNEL = 'messenger';

/** A fresh migrated database holding `count` conversations' worth of inbox and delivery state. */
async function level(serverUrl: string, count: number) {
  const { url, drop } = await createTestDatabase(serverUrl, 'sb_bench');
  let db: Database | undefined;
  try {
    db = await Database.open(url, { max: 2 });
    await fill(db, count);
  } catch (err) {
    await db?.close();
    await drop();
    throw err;
  }
  const journal = new PgChannelJournal(db, { channelId: CHANNEL, instanceId: 'bench' });
  await journal.open();
  return {
    count,
    journal,
    times: [] as number[],
    async drop() {
      await db.close();
      await drop();
    },
  };
}

/** Stores `count` conversations directly with SQL. */
async function fill(db: Database, count: number) {
  const at = Date.now() - 24 * 3600 * 1000;
  await db.query(
    `INSERT INTO inbox_items (channel, id, conversation, at, activity_id, activity, opens_window, done_at)
     SELECT $1, 'stored-' || c || '-' || k, 'conv-' || c, $3::bigint + c, 'act-' || c || '-' || k,
            '{"type":"message","text":"How can I pay my bill by card? I tried the app yesterday and it did not work."}', true, now()
     FROM generate_series(1, $2::int) c, generate_series(1, 3) k`,
    [CHANNEL, count, at],
  );
  await db.query(`INSERT INTO delivery_windows (channel, conversation, at) SELECT $1, 'conv-' || c, $3::bigint + c FROM generate_series(1, $2::int) c`, [CHANNEL, count, at]);
  await db.query(
    `INSERT INTO delivery_outbound (channel, mid, conversation, at, status)
     SELECT $1, 'mid-' || c || '-' || k, 'conv-' || c, $3::bigint + c, 'read' FROM generate_series(1, $2::int) c, generate_series(1, 3) k`,
    [CHANNEL, count, at],
  );
  await db.query(`INSERT INTO delivery_profiles (channel, conversation, name) SELECT $1, 'conv-' || c, 'Customer ' || c FROM generate_series(1, $2::int) c`, [CHANNEL, count]);
  await db.query('VACUUM ANALYZE');
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const ms = (v: number) => v.toFixed(3);

/** Measures both levels on `serverUrl` (creating and dropping their databases); the ratio is of the means. */
export async function run(serverUrl = process.argv[2] ?? testSettings().testDatabaseUrl): Promise<BenchSection & { ratio: number }> {
  if (!serverUrl) throw new Error('bench/pg-inbox-cost: give a PostgreSQL server URL as the argument or set TEST_DATABASE_URL');
  const levels = [];
  try {
    for (const count of LEVELS) levels.push(await level(serverUrl, count));
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      for (const l of levels) {
        const id = `bench-${round}`;
        const conversationId = `conv-${(round % WORKING_SET) + 1}`;
        const started = performance.now();
        await l.journal.accept([{ id, conversationId, at: Date.now(), activity: { type: 'message', id: `act-${round}`, text: 'Where is my order?' }, opensWindow: true }]);
        await l.journal.done(id);
        if (round >= WARMUP) l.times.push(performance.now() - started);
      }
    }
    const rows = levels.map((l) => {
      const sorted = [...l.times].sort((a, b) => a - b);
      return { count: l.count, mean: l.times.reduce((a, b) => a + b, 0) / l.times.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
    });
    const [small, large] = rows as [(typeof rows)[0], (typeof rows)[0]];
    const ratio = large.mean / small.mean;
    const markdown = [
      `accept + done of one item (2 statements, ${ROUNDS} rounds per level after ${WARMUP} warm-up, levels interleaved), ms:`,
      '',
      '| stored conversations | mean | p50 | p99 |',
      '| ---: | ---: | ---: | ---: |',
      ...rows.map((r) => `| ${r.count.toLocaleString('en')} | ${ms(r.mean)} | ${ms(r.p50)} | ${ms(r.p99)} |`),
      '',
      `Ratio ${LEVELS[1].toLocaleString('en')} / ${LEVELS[0]} (mean): **${ratio.toFixed(2)}** (goal ≤ 1.2); p50 ratio ${(large.p50 / small.p50).toFixed(2)}.`,
    ].join('\n');
    return { title: 'PostgreSQL inbox write cost', command: 'npx tsx bench/pg-inbox-cost.ts', markdown, ratio };
  } finally {
    for (const l of levels) await l.drop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const section = await run();
  console.log(`## ${section.title}\n\n${section.markdown}`);
}
