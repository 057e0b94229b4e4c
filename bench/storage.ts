/**
 * Storage benchmark: the cost of logging one transcript activity with 100, 10,000 and 100,000
 * conversations already stored (goal: last/first < 1.5, the write cost must not grow with the store),
 * and LowdbStorage write/read latency. Setup writes the store's files directly to be fast.
 * Standalone: `npx tsx bench/storage.ts` prints the markdown.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ActivityTypes, type Activity } from 'botbuilder';
import { LowdbStorage, LowdbTranscriptStore } from '../src/storage/index.js';
import type { BenchSection } from './types.js';

const LEVELS = [100, 10_000, 100_000];
/** Active conversations per level that receive the measured replies. */
const WORKING_SET = 100;
const ROUNDS = 200;

function activity(channelId: string, conversationId: string, user: string, i: number, at = new Date()): Activity {
  return {
    type: ActivityTypes.Message,
    id: `${conversationId}-${i}`,
    channelId,
    serviceUrl: 'http://localhost:3978/',
    conversation: { id: conversationId } as Activity['conversation'],
    from: { id: user, name: 'Customer', role: 'user' },
    recipient: { id: 'bot', name: 'Switchboard', role: 'bot' },
    timestamp: at,
    locale: 'en-US',
    text: 'How can I pay my bill by card? I tried the app yesterday and it did not work.',
  } as Activity;
}

/** Stores `count` conversations in `channelId` by writing the store's files directly (one activity each, indexed). */
async function generate(store: LowdbTranscriptStore, channelId: string, count: number) {
  const created = new Date('2026-01-01T00:00:00Z');
  const c = path.join(store.channelDir(channelId), 'c');
  for (let s = 0; s < 256; s++) mkdirSync(path.join(c, s.toString(16).padStart(2, '0')), { recursive: true });
  let next = 0;
  // 32 writes in flight: file creation is metadata-bound, and libuv's pool overlaps it.
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) {
        const conv = `seed-${next++}`;
        await writeFile(store.conversationFile(channelId, conv), JSON.stringify(activity(channelId, conv, `seed-user-${conv}`, 0, created)) + '\n');
      }
    }),
  );
  const index = Array.from({ length: count }, (_, n) => JSON.stringify({ id: `seed-${n}`, created: created.toISOString() }));
  appendFileSync(store.channelIndexFile(channelId), index.join('\n') + '\n');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Collects durations and summarises them. */
class Samples {
  private readonly ms: number[] = [];
  async time(fn: () => Promise<unknown>): Promise<void> {
    const t = process.hrtime.bigint();
    await fn();
    this.ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  get p50() {
    return percentile([...this.ms].sort((a, b) => a - b), 50);
  }
  get p99() {
    return percentile([...this.ms].sort((a, b) => a - b), 99);
  }
}

interface Level {
  level: number;
  channelId: string;
  conversations: string[];
  durable: LowdbTranscriptStore;
  fast: LowdbTranscriptStore;
  firstTouch: Samples;
  existing: Samples;
  existingFast: Samples;
  fresh: Samples;
}

async function transcriptSeries() {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-bench-storage-'));
  try {
    // One channel per level, so every level lives in the same store on the same disk and the measured
    // writes can be interleaved (machine noise then hits every level alike).
    const t = Date.now();
    const levels: Level[] = [];
    for (const level of LEVELS) {
      const channelId = `bench${level}`;
      const layout = new LowdbTranscriptStore({ dir });
      await generate(layout, channelId, level);
      const conversations = Array.from({ length: WORKING_SET }, (_, i) => `seed-${Math.floor(((i + 0.5) * level) / WORKING_SET)}`);
      levels.push({
        level, channelId, conversations,
        durable: new LowdbTranscriptStore({ dir }),
        fast: new LowdbTranscriptStore({ dir, fsync: false }),
        firstTouch: new Samples(), existing: new Samples(), existingFast: new Samples(), fresh: new Samples(),
      });
    }
    const setupMs = Date.now() - t;
    // First touch after a (simulated) restart: the store checks the file and its tail once.
    for (let i = 0; i < WORKING_SET; i++) {
      for (const l of levels) {
        const conv = l.conversations[i];
        await l.firstTouch.time(() => l.durable.logActivity(activity(l.channelId, conv, `seed-user-${conv}`, 1)));
        await l.fast.logActivity(activity(l.channelId, conv, `seed-user-${conv}`, 2));
      }
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const l of levels) {
        const conv = l.conversations[r % WORKING_SET];
        await l.existing.time(() => l.durable.logActivity(activity(l.channelId, conv, `seed-user-${conv}`, 3 + r)));
        await l.existingFast.time(() => l.fast.logActivity(activity(l.channelId, conv, `seed-user-${conv}`, 3 + r)));
        if (r % 2 === 0) await l.fresh.time(() => l.durable.logActivity(activity(l.channelId, `new-${r}`, `new-user-${r}`, 0)));
      }
    }
    // Reads the agent console does: one channel's conversation list and one customer's conversations.
    const biggest = levels[levels.length - 1];
    const listFirst = new Samples();
    const list = new Samples();
    const ofUser = new Samples();
    await listFirst.time(() => new LowdbTranscriptStore({ dir }).listTranscripts(biggest.channelId));
    for (let i = 0; i < 5; i++) await list.time(() => biggest.durable.listTranscripts(biggest.channelId));
    for (let i = 0; i < 50; i++) await ofUser.time(() => biggest.durable.listTranscriptsOfUser(biggest.channelId, `new-user-${i * 2}`));
    return { levels, setupMs, listFirst, list, ofUser };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function stateSeries(fsync: boolean) {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-bench-state-'));
  try {
    const storage = new LowdbStorage({ dir, fsync });
    const item = (i: number) => ({ dialogState: { stack: [{ id: 'faq', state: { turn: i, options: ['a', 'b', 'c'] } }] }, pad: 'x'.repeat(800) });
    const setup = new LowdbStorage({ dir, fsync: false });
    await Promise.all(Array.from({ length: 1000 }, (_, i) => setup.write({ [`webchat/conversations/c${i}/`]: item(i) })));
    const write = new Samples();
    const read = new Samples();
    for (let i = 0; i < 300; i++) await write.time(() => storage.write({ [`webchat/conversations/c${(i * 7) % 1000}/`]: item(i) }));
    for (let i = 0; i < 300; i++) await read.time(() => storage.read([`webchat/conversations/c${(i * 13) % 1000}/`]));
    return { write, read };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const f = (ms: number) => ms.toFixed(2);

/** Runs the storage benchmark and returns its BENCHMARKS.md section. */
export async function run(): Promise<BenchSection> {
  const { levels, setupMs, listFirst, list, ofUser } = await transcriptSeries();
  const stateDurable = await stateSeries(true);
  const stateFast = await stateSeries(false);
  const first = levels[0];
  const last = levels[levels.length - 1];
  const ok = (x: number) => `${x.toFixed(2)} ${x < 1.5 ? '✅' : '❌'}`;

  const lines: string[] = [];
  lines.push('Time to log one transcript activity (`LowdbTranscriptStore.logActivity`: one JSON line appended to the');
  lines.push('conversation\'s own file) with N conversations already stored in the channel. Each level is its own channel in one');
  lines.push(`store; the writes to the three levels are interleaved. ${ROUNDS} replies per level spread over ${WORKING_SET} active`);
  lines.push('conversations; "new" is the first message of a new conversation (also appends to the channel and customer indexes);');
  lines.push('"first touch" is the first reply to a stored conversation after a restart (checks the file and its last byte).');
  lines.push('');
  lines.push('| conversations stored | reply p50 ms | reply p99 ms | reply, fsync off, p50 ms | new conversation p50 / p99 ms | first touch p50 / p99 ms |');
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const l of levels) {
    lines.push(`| ${l.level.toLocaleString('en')} | ${f(l.existing.p50)} | ${f(l.existing.p99)} | ${f(l.existingFast.p50)} | ${f(l.fresh.p50)} / ${f(l.fresh.p99)} | ${f(l.firstTouch.p50)} / ${f(l.firstTouch.p99)} |`);
  }
  lines.push('');
  lines.push('| ratio of p50 at 100,000 to p50 at 100 (goal < 1.5) | value |');
  lines.push('| --- | ---: |');
  lines.push(`| reply (fsync on, the default) | ${ok(last.existing.p50 / first.existing.p50)} |`);
  lines.push(`| reply (fsync off) | ${ok(last.existingFast.p50 / first.existingFast.p50)} |`);
  lines.push(`| new conversation | ${ok(last.fresh.p50 / first.fresh.p50)} |`);
  lines.push(`| first touch after restart | ${ok(last.firstTouch.p50 / first.firstTouch.p50)} |`);
  lines.push('');
  lines.push(`Reads at 100,000 conversations: \`listTranscripts\` (first page) ${f(listFirst.p50)} ms for the first call of a process (reads the channel index), then p50 ${f(list.p50)} ms (list kept in memory); \`listTranscriptsOfUser\` (one customer's index) p50 ${f(ofUser.p50)} ms.`);
  lines.push('');
  lines.push(`Setup: ${(setupMs / 1000).toFixed(1)} s to write ${LEVELS.reduce((a, b) => a + b, 0).toLocaleString('en')} conversations directly.`);
  lines.push('');
  lines.push('`LowdbStorage` (bot state: one ~1 kB item per key, 1,000 keys stored, 300 sequential operations each):');
  lines.push('');
  lines.push('| fsync | write p50 ms | write p99 ms | read p50 ms | read p99 ms |');
  lines.push('| --- | ---: | ---: | ---: | ---: |');
  lines.push(`| on (default) | ${f(stateDurable.write.p50)} | ${f(stateDurable.write.p99)} | ${f(stateDurable.read.p50)} | ${f(stateDurable.read.p99)} |`);
  lines.push(`| off | ${f(stateFast.write.p50)} | ${f(stateFast.write.p99)} | ${f(stateFast.read.p50)} | ${f(stateFast.read.p99)} |`);
  return { title: 'Storage (lowdb)', command: 'npm run bench -- storage', markdown: lines.join('\n') };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const section = await run();
  console.log(`## ${section.title}\n\n${section.markdown}`);
}
