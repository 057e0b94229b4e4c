/**
 * Handoff latency: from a customer's handoff request (the turn starts) to the queue entry arriving on
 * every connected agent console (server-sent events over real HTTP), with 50 consoles connected and
 * 500 conversations already queued. Stores are the embedded defaults on a temp folder
 * (FileQueueStore, LowdbTranscriptStore); the consoles are fetch() streams in the same process, so
 * their parsing shares the server's CPU (a pessimistic setup).
 *
 * Run: `npx tsx bench/handoff.ts`
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { TestAdapter, TranscriptLoggerMiddleware, TurnContext } from 'botbuilder';
import { AgentAccounts } from '../src/agent/accounts.js';
import { AgentSessions } from '../src/agent/sessions.js';
import { mountAgentApi } from '../src/agent/api.js';
import { FileQueueStore } from '../src/handoff/file-queue-store.js';
import { HandoffHub } from '../src/handoff/hub.js';
import { HandoffMiddleware } from '../src/handoff/middleware.js';
import type { ConversationRecord } from '../src/handoff/queue-store.js';
import { HANDOFF_REQUESTER, type HandoffRequester } from '../src/handoff/types.js';
import { silentLogger } from '../src/log.js';
import { createServer } from '../src/server.js';
import { LowdbTranscriptStore } from '../src/storage/index.js';
import type { BenchSection } from './types.js';

const AGENTS = 50;
const QUEUED = 500;
const REQUESTS = 100;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function run(): Promise<BenchSection> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-handoff-'));
  const store = await FileQueueStore.open(dir);
  const transcripts = new LowdbTranscriptStore({ dir });
  const hub = new HandoffHub({ store, transcripts, logger: silentLogger });
  const middleware = new HandoffMiddleware(hub);

  // 500 conversations already waiting.
  const now = Date.now();
  for (let i = 0; i < QUEUED; i++) {
    const at = new Date(now - (QUEUED - i) * 1000).toISOString();
    const record: ConversationRecord = {
      id: `seed-${i}`,
      channelId: 'webchat',
      reference: { channelId: 'webchat', conversation: { id: `seed-${i}` } as any, user: { id: `u-${i}`, name: `Customer ${i}` } },
      customer: { id: `u-${i}`, name: `Customer ${i}` },
      owner: 'queued',
      priority: i % 3,
      queuedAt: at,
      reason: 'customer-asked',
      rejectedEntryIds: [],
      notes: [],
      createdAt: at,
      updatedAt: at,
      handoffs: 1,
      version: 0,
    };
    await store.save(record);
  }

  // 50 signed-in consoles listening to the event stream.
  const accounts = await AgentAccounts.open(dir);
  const sessions = new AgentSessions();
  const server = createServer({ logger: silentLogger });
  mountAgentApi(server, { hub, accounts, sessions, logger: silentLogger });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  const arrivals = new Map<string, number[]>();
  const controllers: AbortController[] = [];
  const ready: Promise<void>[] = [];
  for (let a = 0; a < AGENTS; a++) {
    const { token } = await sessions.create({ id: `agent-${a}`, name: `Agent ${a}`, teams: [], capacity: 3, createdAt: new Date().toISOString() });
    const controller = new AbortController();
    controllers.push(controller);
    ready.push(
      new Promise<void>((resolve, reject) => {
        fetch(`${url}/api/agent/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal })
          .then(async (res) => {
            const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
            let buffer = '';
            for (;;) {
              const { value, done } = await reader.read();
              if (done) return;
              buffer += value;
              let i;
              while ((i = buffer.indexOf('\n\n')) >= 0) {
                const block = buffer.slice(0, i);
                buffer = buffer.slice(i + 2);
                if (block.includes('event: hello')) resolve();
                if (block.startsWith('event: conversation') && block.includes('"change":"queued"')) {
                  const id = JSON.parse(block.slice(block.indexOf('data: ') + 6)).conversation.id as string;
                  arrivals.get(id)?.push(performance.now());
                }
              }
            }
          })
          .catch((err) => (controller.signal.aborted ? undefined : reject(err)));
      }),
    );
  }
  await Promise.all(ready);

  // Customers asking for a person, one after another; each asks a question first.
  const logic = async (context: TurnContext) => {
    if (context.activity.text === 'agent please') {
      await (context.turnState.get(HANDOFF_REQUESTER) as HandoffRequester).requestHandoff(context, { reason: 'customer-asked', question: 'where is my order 55512?' });
    } else await context.sendActivity(`answer to ${context.activity.text}`);
  };
  const perConsole: number[] = [];
  const lastConsole: number[] = [];
  const turn: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const id = `bench-${i}`;
    const adapter = new TestAdapter(logic, { channelId: 'webchat', conversation: { id } as any, from: { id: `bench-user-${i}`, name: `Bench ${i}`, role: 'user' } });
    adapter.use(new TranscriptLoggerMiddleware(transcripts));
    adapter.use(middleware);
    await adapter.receiveActivity('my order 55512 is late');
    arrivals.set(id, []);
    const t0 = performance.now();
    await adapter.receiveActivity('agent please');
    turn.push(performance.now() - t0);
    const deadline = Date.now() + 10_000;
    while (arrivals.get(id)!.length < AGENTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    const times = arrivals.get(id)!;
    if (times.length < AGENTS) throw new Error(`bench handoff: only ${times.length} of ${AGENTS} consoles got ${id}`);
    for (const t of times) perConsole.push(t - t0);
    lastConsole.push(Math.max(...times) - t0);
    await hub.settled(); // the summary work of this handoff should not be billed to the next one
  }

  for (const c of controllers) c.abort();
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });

  const fmt = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `${percentile(s, 50).toFixed(1)} ms | ${percentile(s, 99).toFixed(1)} ms`;
  };
  const markdown = [
    `${AGENTS} agent consoles connected over SSE, ${QUEUED} conversations already queued, ${REQUESTS} handoff requests one after another`,
    `(FileQueueStore + LowdbTranscriptStore on a temp folder; consoles are fetch() streams in the same process).`,
    '',
    '| measure | p50 | p99 | goal |',
    '| --- | --- | --- | --- |',
    `| handoff request → queue entry on a console (every console) | ${fmt(perConsole)} | shown live (well under 1 s) |`,
    `| handoff request → queue entry on the last of ${AGENTS} consoles | ${fmt(lastConsole)} | shown live (well under 1 s) |`,
    `| the customer's handoff turn (queue, position, reply; summary follows in the background) | ${fmt(turn)} | — |`,
  ].join('\n');
  return { title: 'Human handoff', command: 'npx tsx bench/handoff.ts', markdown };
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  const section = await run();
  console.log(`## ${section.title}\n\n${section.markdown}\n`);
  process.exit(0);
}
