/**
 * Web chat: Direct Line round trip (POST an activity → the bot's reply arrives on the conversation's
 * WebSocket stream) at 1 and 100 concurrent conversations, and messages per second at saturation.
 * The server (WebChatAdapter with its file-backed history, echo bot) and the clients share this process.
 *
 *   npx tsx bench/webchat.ts      (or: npm run bench -- webchat)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ActivityTypes } from 'botbuilder';
import { WebSocket } from 'ws';
import { WebChatAdapter } from '../adapters/webchat/index.js';
import { silentLogger } from '../src/log.js';
import { createServer } from '../src/server.js';
import type { BenchSection } from './types.js';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopq';

/** A lean keep-alive HTTP client: fetch (undici) cost more CPU than the server in this single-process bench. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
function request(url: string, method: string, headers: Record<string, string>, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: body ? { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } : headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (res.statusCode! < 300 ? resolve(text) : reject(new Error(`${method} ${url}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Conversation {
  post(text: string): Promise<number>;
  close(): void;
}

async function openConversation(domain: string, adapter: WebChatAdapter): Promise<Conversation> {
  const { token } = adapter.generateToken();
  const started = JSON.parse(await request(`${domain}/conversations`, 'POST', { Authorization: `Bearer ${token}` })) as { conversationId: string; streamUrl: string };
  const ws = new WebSocket(started.streamUrl);
  const waiting = new Map<string, () => void>();
  ws.on('message', (data) => {
    const text = data.toString();
    if (!text) return;
    for (const a of JSON.parse(text).activities as { text?: string; from: { role: string } }[]) {
      if (a.from.role === 'bot' && a.text) waiting.get(a.text)?.();
    }
  });
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  let n = 0;
  return {
    async post(text: string) {
      const tag = `${text} #${n++}`;
      const t0 = performance.now();
      const replied = new Promise<void>((resolve) => waiting.set(`echo: ${tag}`, resolve));
      await request(
        `${domain}/conversations/${started.conversationId}/activities`,
        'POST',
        { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        JSON.stringify({ type: 'message', text: tag, channelData: { clientActivityID: tag } }),
      );
      await replied;
      waiting.delete(`echo: ${tag}`);
      return performance.now() - t0;
    },
    close: () => ws.close(),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function roundTrips(conversations: Conversation[], perConversation: number) {
  const all: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    conversations.map(async (c) => {
      for (let i = 0; i < perConversation; i++) all.push(await c.post('how do I pay my bill'));
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  all.sort((a, b) => a - b);
  return { n: all.length, p50: percentile(all, 50), p99: percentile(all, 99), perSecond: all.length / seconds };
}

/** Closed loop: every conversation posts again as soon as its reply arrives, for `ms`. */
async function saturate(conversations: Conversation[], ms: number) {
  let done = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    conversations.map(async (c) => {
      while (performance.now() < end) {
        await c.post('saturate');
        done++;
      }
    }),
  );
  return done / ((performance.now() - t0) / 1000);
}

export async function run(): Promise<BenchSection> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bench-webchat-'));
  const server = createServer({ logger: silentLogger });
  const adapter = new WebChatAdapter({ secret: SECRET, dataDir, activityRateLimit: false });
  adapter.mount(server, async (context) => {
    if (context.activity.type === ActivityTypes.Message) await context.sendActivity(`echo: ${context.activity.text}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const domain = `${server.url.replace('[::]', '127.0.0.1')}/v3/directline`;
  const open = (n: number) => Promise.all(Array.from({ length: n }, () => openConversation(domain, adapter)));
  try {
    const one = await open(1);
    await roundTrips(one, 30); // warm-up
    const single = await roundTrips(one, 200);
    const hundred = await open(100);
    await roundTrips(hundred, 2); // warm-up
    const concurrent = await roundTrips(hundred, 10);
    const twoHundred = [...hundred, ...(await open(100))];
    const sat100 = await saturate(hundred, 4000);
    const sat200 = await saturate(twoHundred, 4000);
    for (const c of [...one, ...twoHundred]) c.close();
    const ms = (v: number) => `${v.toFixed(1)} ms`;
    const markdown = [
      'Round trip = `POST /v3/directline/conversations/{id}/activities` → the echo bot\'s reply received on that conversation\'s WebSocket stream. Server (WebChatAdapter, file-backed history in a temp DATA_DIR, echo bot) and clients in one process.',
      '',
      '| measure | p50 | p99 | round trips | goal |',
      '| --- | --- | --- | --- | --- |',
      `| 1 conversation, sequential | ${ms(single.p50)} | ${ms(single.p99)} | ${single.n} | fast enough to feel instant (< 100 ms) |`,
      `| 100 concurrent conversations | ${ms(concurrent.p50)} | ${ms(concurrent.p99)} | ${concurrent.n} | — |`,
      '',
      '| saturation (closed loop, 4 s) | messages / s |',
      '| --- | --- |',
      `| 100 conversations | ${sat100.toFixed(0)} |`,
      `| 200 conversations | ${sat200.toFixed(0)} |`,
      `| **peak** | **${Math.max(sat100, sat200).toFixed(0)}** |`,
      '',
      'Each message is two appended history lines (the user echo and the reply) and two stream frames.',
      `Load average when the run ended: ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs (a shared machine: figures fall as the load rises).`,
    ].join('\n');
    return { title: 'Web chat (Direct Line) round trip', command: 'npm run bench -- webchat', markdown };
  } finally {
    agent.destroy();
    await adapter.close();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const section = await run();
  console.log(`## ${section.title}\n\n${section.markdown}`);
  process.exit(0);
}
