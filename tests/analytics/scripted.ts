/**
 * A real server (buildApp) with the three channels and a scripted set of conversations whose true
 * figures are known: customers write over HTTP (Direct Line, signed Meta webhooks to a fake Graph
 * API), agents claim, transfer and resolve over the agent API while the server's clock moves on, and
 * the CSAT store gets one rating per resolution. `EXPECTED` is what analytics must say of it.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.js';
import { fixedClock, type Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { signBody } from '../../adapters/shared/verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import { FakeGraph } from '../fakes/graph.js';
import { M_SECRET, PHONE_NUMBER_ID as PHONE_ID, W_SECRET, metaEnv } from '../faults/helpers.js';

const SECRETS = { whatsapp: W_SECRET, messenger: M_SECRET } as const;
const DIRECTLINE_SECRET = 'analytics-test-directline-secret-0123456789';
export const PASSWORD = 'correct horse battery staple 42';
const MIN = 60_000;

/** The figures of the script, per channel (reply times vary with the machine: only their count is known). */
export const EXPECTED = {
  webchat: { conversations: 3, customers: 3, contained: 2, answers: 2, suggestions: 0, misses: 1, handoffs: { 'customer-asked': 1 }, transfers: 0, waitMs: 2 * MIN, handleMs: 5 * MIN, csat: 5, replies: 3 },
  messenger: { conversations: 2, customers: 2, contained: 1, answers: 1, suggestions: 0, misses: 2, handoffs: { 'two-misses': 1 }, transfers: 1, waitMs: 1 * MIN, handleMs: 3 * MIN, csat: 2, replies: 3 },
  whatsapp: { conversations: 2, customers: 2, contained: 1, answers: 2, suggestions: 0, misses: 0, handoffs: { 'entry-handoff': 1 }, transfers: 0, waitMs: 4 * MIN, handleMs: 10 * MIN, csat: 4, replies: 2 },
  totals: { conversations: 7, customers: 7, contained: 4, containment: 0.5714, handoffs: 3, waitP50: 2 * MIN, waitP90: 4 * MIN, handleP50: 5 * MIN, handleP90: 10 * MIN, csatAverage: 3.67, csatCount: 3 },
  csatByAgent: [
    { agent: 'Bob', count: 2, average: 3 },
    { agent: 'Ada', count: 1, average: 5 },
  ],
} as const;

export interface ScriptedServer {
  app: App;
  url: string;
  dataDir: string;
  databaseUrl?: string;
  clock: Clock;
  /** An agent's token. */
  token: string;
  call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** Starts the server (PostgreSQL with `databaseUrl`, else files) and plays the script. */
export async function scriptedServer(databaseUrl?: string): Promise<ScriptedServer> {
  // The server's time moves only when the script says (queue waits and handle times are exact).
  const clock = fixedClock(new Date());
  const advance = (ms: number) => clock.advance(ms);
  const graph = new FakeGraph({ phoneNumberId: PHONE_ID });
  const graphUrl = await graph.start();
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-analytics-'));
  const config = loadConfig({
    ...metaEnv(dataDir, graphUrl),
    DIRECTLINE_SECRET,
    BUSINESS_HOURS: 'Mon-Sun 00:00-24:00',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  const app = await buildApp({ config, clock, logger: silentLogger, watchKnowledge: false, sleep: async () => {} });
  const url = await app.listen(0, '127.0.0.1');
  for (const name of ['ada', 'bob']) await app.accounts.add(name, PASSWORD, { displayName: name === 'ada' ? 'Ada' : 'Bob', capacity: 5 });

  const call: ScriptedServer['call'] = async (method, path, body, token) => {
    const res = await fetch(url + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const login = async (username: string) => (await call('POST', '/api/agent/login', { username, password: PASSWORD })).body.token as string;
  const [ada, bob] = [await login('ada'), await login('bob')];
  const idle = async () => {
    for (const a of Object.values(app.adapters)) await (a as unknown as { whenIdle?: () => Promise<void> }).whenIdle?.();
    await app.hub.settled();
  };
  let seq = 0;

  async function webchat(userId: string) {
    const gen = await fetch(`${url}/v3/directline/tokens/generate`, { method: 'POST', headers: { authorization: `Bearer ${DIRECTLINE_SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ user: { id: userId } }) });
    const { token, conversationId } = (await gen.json()) as { token: string; conversationId: string };
    const started = await fetch(`${url}/v3/directline/conversations`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(started.status).to.be.oneOf([200, 201]);
    return {
      conversationId,
      async say(text: string) {
        const res = await fetch(`${url}/v3/directline/conversations/${conversationId}/activities`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'message', text, from: { id: userId } }),
        });
        expect(res.status, `web chat "${text}"`).to.equal(200);
        await idle();
      },
    };
  }

  function meta(channel: 'whatsapp' | 'messenger', id: string) {
    return {
      async say(text: string) {
        const timestamp = clock.now().getTime();
        const event = channel === 'whatsapp' ? whatsappTextWebhook({ waId: id, text, phoneNumberId: PHONE_ID, wamid: `wamid.analytics.${++seq}`, timestamp }) : messengerTextWebhook({ psid: id, text, mid: `m_analytics_${++seq}`, timestamp });
        const raw = serializeLikeMeta(event);
        const res = await fetch(`${url}/webhooks/${channel}`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(raw, SECRETS[channel]) }, body: raw });
        expect(res.status, `${channel} "${text}"`).to.equal(200);
        await idle();
      },
    };
  }

  /** The queued conversation of a channel (the script has one waiting at a time). */
  const queued = async (channelId: string): Promise<string> => {
    const list = (await call('GET', '/api/agent/conversations?status=queued', undefined, ada)).body.conversations as { id: string; channelId: string }[];
    const found = list.find((c) => c.channelId === channelId);
    expect(found, `a ${channelId} conversation in the queue`).to.exist;
    return found!.id;
  };
  const act = async (token: string, id: string, action: string, body?: unknown) => {
    const r = await call('POST', `/api/agent/conversations/${encodeURIComponent(id)}/${action}`, body ?? {}, token);
    expect(r.status, `${action} ${id}: ${JSON.stringify(r.body)}`).to.equal(200);
    await idle();
    return r.body.conversation as { id: string; channelId: string; resolvedAt?: string };
  };
  const ratings: { conversationId: string; channelId: string; agent: string; resolvedAt: string; rating: 1 | 2 | 3 | 4 | 5 }[] = [];
  const resolve = async (token: string, agent: string, id: string, rating: 1 | 2 | 3 | 4 | 5) => {
    await act(token, id, 'resolve');
    const record = await app.hub.get(id);
    ratings.push({ conversationId: id, channelId: record!.channelId, agent, resolvedAt: record!.resolvedAt!, rating });
  };

  // Web chat: an answer, a miss, and a customer asking for a person (2 min in the queue, 5 min with Ada).
  await (await webchat('web-1')).say('How can I pay my bill?');
  await (await webchat('web-2')).say('xyzzy plugh');
  await (await webchat('web-3')).say('I want to talk to a human');
  const w3 = await queued('webchat');
  advance(2 * MIN);
  await act(ada, w3, 'claim');
  advance(5 * MIN);
  await resolve(ada, 'Ada', w3, 5);

  // Messenger: an answer; two misses, then yes to a person (1 min waiting), Ada passes it to Bob after 1 min, Bob resolves 3 min later.
  await meta('messenger', 'psid-1').say('How can I pay my bill?');
  const m2 = meta('messenger', 'psid-2');
  await m2.say('xyzzy plugh');
  await m2.say('qwerty zxcv');
  await m2.say('yes');
  const mq = await queued('messenger');
  advance(1 * MIN);
  await act(ada, mq, 'claim');
  advance(1 * MIN);
  await act(ada, mq, 'transfer', { agentId: 'bob' });
  advance(3 * MIN);
  await resolve(bob, 'Bob', mq, 2);

  // WhatsApp: an entry that hands over (4 min waiting, 10 min with Bob), and an answer.
  await meta('whatsapp', '447700900001').say('I want to cancel my contract');
  const wq = await queued('whatsapp');
  advance(4 * MIN);
  await act(bob, wq, 'claim');
  advance(10 * MIN);
  await resolve(bob, 'Bob', wq, 4);
  await meta('whatsapp', '447700900002').say('How can I pay my bill?');

  for (const r of ratings) {
    const { rating, ...resolution } = r;
    await app.backend.csat.recordAsked(resolution, r.resolvedAt);
    await app.backend.csat.recordRating(r.conversationId, r.resolvedAt, rating, r.resolvedAt);
  }

  return {
    app,
    url,
    dataDir,
    databaseUrl,
    clock,
    token: ada,
    call,
    close: async () => {
      await app.close();
      await graph.close();
      await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}
