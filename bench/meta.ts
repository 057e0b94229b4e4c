/**
 * Messenger and WhatsApp: webhook POST → Send API call at the fake Graph server, end to end through
 * the real server (signature check, durable inbox with fdatasync, bot turn, rendering, Graph client).
 * p50/p99 with 1 and with 200 concurrent customers per channel, and messages per second at saturation.
 * Everything (load generator, server, fake Graph) shares this process, so the figures are a floor.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageFactory } from 'botbuilder';
import type { BenchSection } from './types.js';
import { createServer } from '../src/server.js';
import { silentLogger } from '../src/log.js';
import { listen } from '../tests/helpers/http.js';
import { FakeGraph } from '../tests/fakes/graph.js';
import { MessengerAdapter } from '../adapters/messenger/index.js';
import { WhatsAppAdapter } from '../adapters/whatsapp/index.js';
import { signBody } from '../adapters/shared/verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from '../adapters/shared/sample-events.js';

const SECRET = 'bench-secret';
const PHONE = '106540352242922';

interface Figures {
  p50: number;
  p99: number;
  /** Without each customer's first message (200 new customers arriving in one burst). */
  steadyP50: number;
  steadyP99: number;
  count: number;
  perSecond: number;
}

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(channel: 'messenger' | 'whatsapp', customers: number, perCustomer: number): Promise<Figures> {
  const graph = new FakeGraph({ phoneNumberId: PHONE, record: false });
  const graphUrl = await graph.start();
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-bench-meta-'));
  const common = { graphApiUrl: graphUrl, dataDir, logger: silentLogger };
  const adapter =
    channel === 'messenger'
      ? new MessengerAdapter({ ...common, messenger: { appSecret: SECRET, verifyToken: 'v', pageAccessToken: 'page-token' } })
      : new WhatsAppAdapter({ ...common, whatsapp: { appSecret: SECRET, verifyToken: 'v', accessToken: 'wa-token', phoneNumberId: PHONE, templateLanguage: 'en' } });
  const server = createServer({ logger: silentLogger });
  adapter.mount(server, async (ctx) => void (await ctx.sendActivity(MessageFactory.text(`You asked: ${ctx.activity.text}`))));
  await adapter.start();
  const http = await listen(server);

  // The reply for customer X resolves the waiter registered for X (one message in flight per customer).
  const waiting = new Map<string, () => void>();
  graph.onRequest((rec, body) => {
    if (!rec.isMessage || rec.status !== 200) return;
    const to = channel === 'messenger' ? body.recipient.id : body.to;
    waiting.get(to)?.();
  });

  const latencies: number[] = [];
  const steady: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: customers }, async (_, c) => {
      const id = channel === 'messenger' ? `90000000${String(c).padStart(6, '0')}` : `4915${String(c).padStart(8, '0')}`;
      for (let i = 0; i < perCustomer; i++) {
        const text = `How do I pay my bill by card? (${i})`;
        const body = channel === 'messenger' ? messengerTextWebhook({ psid: id, text }) : whatsappTextWebhook({ waId: id, text, phoneNumberId: PHONE });
        const raw = serializeLikeMeta(body);
        const replied = new Promise<void>((resolve) => waiting.set(id, resolve));
        const t0 = performance.now();
        const res = await fetch(`${http.url}/webhooks/${channel}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(raw, SECRET) }, body: raw });
        await res.text();
        if (res.status !== 200) throw new Error(`bench/meta: webhook answered ${res.status}`);
        await replied;
        latencies.push(performance.now() - t0);
        if (i > 0) steady.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await adapter.close();
  await http.close();
  await graph.close();
  await rm(dataDir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  steady.sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    steadyP50: percentile(steady, 50),
    steadyP99: percentile(steady, 99),
    count: latencies.length,
    perSecond: latencies.length / elapsed,
  };
}

/** The BenchSection for BENCHMARKS.md. */
export async function run(): Promise<BenchSection> {
  const rows: string[] = [];
  for (const channel of ['messenger', 'whatsapp'] as const) {
    await measure(channel, 10, 3); // warm-up (JIT, connection pools)
    const one = await measure(channel, 1, 100);
    const many = await measure(channel, 200, 3);
    rows.push(`| ${channel} | 1 | ${one.count} | ${one.p50.toFixed(1)} | ${one.p99.toFixed(1)} | ${one.steadyP50.toFixed(1)} / ${one.steadyP99.toFixed(1)} | ${one.perSecond.toFixed(0)} |`);
    rows.push(`| ${channel} | 200 | ${many.count} | ${many.p50.toFixed(0)} | ${many.p99.toFixed(0)} | ${many.steadyP50.toFixed(0)} / ${many.steadyP99.toFixed(0)} | ${many.perSecond.toFixed(0)} (saturation) |`);
  }
  return {
    title: 'Messenger and WhatsApp webhooks',
    command: 'npx tsx bench/meta.ts',
    markdown: [
      'Signed webhook POST → durable inbox (fdatasync) → 200 → bot turn → Send API / messages API call arriving at the local fake Graph server.',
      'Each customer sends its next message when the previous reply has arrived. Load generator, server and fake Graph share one Node process on the 2-core machine; read receipts / typing calls are included in the load.',
      '',
      'The "later messages" column leaves out each customer\'s first message: with 200 customers, those 200 arrive in one burst at the start and make up the p99 tail.',
      '',
      '| channel | concurrent customers | messages | p50 ms | p99 ms | later messages p50 / p99 ms | messages/s |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
    ].join('\n'),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then((s) => console.log(`## ${s.title}\n\n${s.markdown}\n`)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
