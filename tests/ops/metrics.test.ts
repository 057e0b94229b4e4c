/**
 * `GET /metrics` on the ready server with all three channels: real turns over HTTP (Direct Line,
 * signed Meta webhooks against the fake Graph API) move the counters an operator watches — turns,
 * the bot's decisions, reply times, handoffs and the queue, Graph API retries, Direct Line streams —
 * on both backends; the text is Prometheus exposition; the route is closed to the public.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageFactory, type Activity } from 'botbuilder';
import { WebSocket } from 'ws';
import { buildApp, type App } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { createServer } from '../../src/server.js';
import { Metrics } from '../../src/ops/metrics.js';
import { contentHash, type TurnEngineAdapter } from '../../src/engine/turn-engine.js';
import { LimitTestChannel, MemoryInbox, gate, item } from '../engine/limits-helpers.js';
import { FakeGraph, type RecordedRequest } from '../fakes/graph.js';
import { listen } from '../helpers/http.js';
import { usePostgres } from '../helpers/postgres.js';
import { PHONE_NUMBER_ID, message, metaEnv, post } from '../faults/helpers.js';

const DIRECTLINE_SECRET = 'metrics-directline-secret-0123456789abcdef';
const METRICS_TOKEN = 'scrape-me-0123456789abcdef';
const ADA = { id: 'ada', name: 'Ada' };

type Labels = Record<string, string>;

/** The value of one sample in an exposition text; undefined when the series is absent. */
function sample(text: string, name: string, labels: Labels = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** Polls `read` until `ok` holds of its result (a turn is counted once it is recorded, after its reply went out). */
async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 200; i++) {
    last = await read();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`metrics: ${what} never held; last scrape:\n${String(last).split('\n').filter((l) => l.startsWith('switchboard_')).join('\n')}`);
}

for (const backend of ['files', 'postgresql'] as const) {
  describe(`GET /metrics on the ready server (${backend})`, function () {
    this.timeout(60_000);
    const pg = backend === 'postgresql' ? usePostgres() : undefined;
    // Nested, so the app closes (inner `after`) before its database is dropped (usePostgres's `after`).
    describe('with all three channels', function () {
      let app: App;
      let graph: FakeGraph;
      let url: string;
      let dataDir: string;

      before(async () => {
        graph = new FakeGraph({ phoneNumberId: PHONE_NUMBER_ID });
        dataDir = await mkdtemp(join(tmpdir(), 'switchboard-metrics-'));
        const env = { ...metaEnv(dataDir, await graph.start()), DIRECTLINE_SECRET, BUSINESS_HOURS: 'Mon-Sun 00:00-24:00' };
        const config = loadConfig(pg ? { ...env, DATABASE_URL: pg.url } : env);
        app = await buildApp({ config, logger: silentLogger, watchKnowledge: false, sleep: async () => {} });
        url = await app.listen(0, '127.0.0.1');
      });
      after(async () => {
        await app?.close();
        await graph?.close();
        if (dataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
      });

      const scrape = async (): Promise<string> => {
        const res = await fetch(`${url}/metrics`);
        expect(res.status, 'a scrape from this machine').to.equal(200);
        return res.text();
      };
      const idle = async () => {
        for (const adapter of Object.values(app.adapters)) await (adapter as unknown as TurnEngineAdapter).whenIdle();
        await app.hub.settled();
      };
      const delta = (before: string, after: string, name: string, labels: Labels) => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);

      async function webChatConversation() {
        const auth = { authorization: `Bearer ${DIRECTLINE_SECRET}`, 'content-type': 'application/json' };
        const started = await fetch(`${url}/v3/directline/conversations`, { method: 'POST', headers: auth });
        expect(started.status).to.equal(201);
        const body = (await started.json()) as { conversationId: string; streamUrl: string };
        const activities = `${url}/v3/directline/conversations/${body.conversationId}/activities`;
        const fromBot = async () => {
          const res = await fetch(`${activities}?watermark=0`, { headers: auth });
          return ((await res.json()) as { activities: Partial<Activity>[] }).activities.filter((a) => a.type === 'message' && a.from?.role !== 'user');
        };
        return {
          ...body,
          async says(text: string): Promise<void> {
            const seen = (await fromBot()).length;
            const res = await fetch(activities, { method: 'POST', headers: auth, body: JSON.stringify({ type: 'message', from: { id: 'dl_metrics' }, text }) });
            expect(res.status).to.equal(200);
            await until(fromBot, (all) => all.length > seen, 'the bot answered on web chat');
          },
        };
      }

      async function metaSays(channel: 'whatsapp' | 'messenger', from: string, text: string, reply: (r: RecordedRequest) => boolean): Promise<void> {
        expect(await post(url, message(channel, from, text))).to.equal(200);
        await graph.waitFor((r) => r.api === channel && r.isMessage && r.status === 200 && reply(r));
      }
      const textOf = (r: RecordedRequest): string => r.body?.text?.body ?? r.body?.interactive?.body?.text ?? r.body?.message?.text ?? '';

      it('counts a web chat question as one turn, one answer and one reply time, with no conversation id or text in any label', async () => {
        const customer = await webChatConversation();
        await idle(); // the welcome turn of the new conversation is not this question's
        const before = await scrape();
        await customer.says('How can I pay my bill by card?');
        await idle();
        const after = await until(scrape, (t) => delta(before, t, 'switchboard_turns_total', { channel: 'webchat', outcome: 'ok' }) >= 1, 'the web chat turn was counted');
        expect(delta(before, after, 'switchboard_turns_total', { channel: 'webchat', outcome: 'ok' })).to.equal(1);
        expect(delta(before, after, 'switchboard_turns_total', { channel: 'webchat', outcome: 'failed' })).to.equal(0);
        expect(delta(before, after, 'switchboard_turn_duration_seconds_count', { channel: 'webchat' })).to.equal(1);
        expect(delta(before, after, 'switchboard_bot_decisions_total', { channel: 'webchat', decision: 'answer' })).to.equal(1);
        expect(delta(before, after, 'switchboard_bot_decisions_total', { channel: 'webchat', decision: 'miss' })).to.equal(0);
        expect(delta(before, after, 'switchboard_reply_latency_seconds_count', { channel: 'webchat' })).to.equal(1);
        expect(sample(after, 'switchboard_reply_latency_seconds_bucket', { channel: 'webchat', le: '+Inf' })).to.be.at.least(1);
        expect(delta(before, after, 'switchboard_directline_activities_posted_total', { channel: 'webchat', type: 'message' })).to.equal(1);
        expect(after).not.to.include(customer.conversationId);
        expect(after).not.to.include('pay my bill');
      });

      it('counts a question the bot cannot answer as a miss on its channel', async () => {
        const before = await scrape();
        await metaSays('messenger', '7000000001', 'qwxz plmokn zzyzx', () => true);
        await idle();
        const after = await until(scrape, (t) => delta(before, t, 'switchboard_bot_decisions_total', { channel: 'messenger', decision: 'miss' }) >= 1, 'the miss was counted');
        expect(delta(before, after, 'switchboard_bot_decisions_total', { channel: 'messenger', decision: 'miss' })).to.equal(1);
        expect(delta(before, after, 'switchboard_bot_decisions_total', { channel: 'messenger', decision: 'answer' })).to.equal(0);
        expect(delta(before, after, 'switchboard_turns_total', { channel: 'messenger', outcome: 'ok' })).to.equal(1);
      });

      it('counts a WhatsApp handoff by reason, shows it in the queue gauge, then the claim and the resolve', async () => {
        const before = await scrape();
        await metaSays('whatsapp', '4915112345001', 'I want to talk to a human', (r) => textOf(r).includes('can see this whole conversation'));
        await idle();
        const queued = await until(scrape, (t) => sample(t, 'switchboard_queue_conversations', { channel: 'whatsapp', owner: 'queued' }) === 1, 'the queue gauge showed the conversation');
        expect(delta(before, queued, 'switchboard_handoffs_total', { channel: 'whatsapp', reason: 'customer-asked' })).to.equal(1);
        expect(delta(before, queued, 'switchboard_turns_total', { channel: 'whatsapp', outcome: 'ok' })).to.equal(1);
        expect(sample(queued, 'switchboard_queue_conversations', { channel: 'webchat', owner: 'queued' })).to.equal(0);
        expect(sample(queued, 'switchboard_queue_conversations', { channel: 'whatsapp', owner: 'assigned' })).to.equal(0);

        const [record] = (await app.hub.list({ owner: 'queued' })).filter((r) => r.channelId === 'whatsapp');
        await app.hub.claim(record!.id, ADA);
        const claimed = await scrape();
        expect(delta(queued, claimed, 'switchboard_claims_total', { channel: 'whatsapp' })).to.equal(1);
        expect(sample(claimed, 'switchboard_queue_conversations', { channel: 'whatsapp', owner: 'queued' })).to.equal(0);
        expect(sample(claimed, 'switchboard_queue_conversations', { channel: 'whatsapp', owner: 'assigned' })).to.equal(1);

        await app.hub.resolve(record!.id, ADA);
        const resolved = await scrape();
        expect(delta(claimed, resolved, 'switchboard_resolves_total', { channel: 'whatsapp' })).to.equal(1);
        expect(sample(resolved, 'switchboard_queue_conversations', { channel: 'whatsapp', owner: 'assigned' })).to.equal(0);
      });

      it('counts a Graph API 500 followed by success as one 5xx error and one retry, and the reply still goes', async () => {
        const before = await scrape();
        graph.failNext(1, { status: 500, message: 'An unexpected error has occurred. Please retry your request later.' });
        await metaSays('messenger', '7000000002', 'How can I pay my bill by card?', (r) => /card/i.test(textOf(r)));
        await idle();
        const after = await until(scrape, (t) => delta(before, t, 'switchboard_turns_total', { channel: 'messenger', outcome: 'ok' }) >= 1, 'the Messenger turn was counted');
        expect(delta(before, after, 'switchboard_graph_errors_total', { channel: 'messenger', class: '5xx' })).to.equal(1);
        expect(delta(before, after, 'switchboard_graph_retries_total', { channel: 'messenger' })).to.equal(1);
        expect(delta(before, after, 'switchboard_graph_requests_total', { channel: 'messenger' })).to.be.at.least(2);
        expect(delta(before, after, 'switchboard_graph_retries_total', { channel: 'whatsapp' })).to.equal(0);
      });

      it('counts a turn whose reply Meta refuses (400) as failed, with a 4xx error and no retry', async () => {
        const before = await scrape();
        graph.failNext(1, { status: 400, code: 100, message: '(#100) Invalid parameter' });
        await metaSays('whatsapp', '4915112345002', 'How can I pay my bill by card?', () => true); // the apology after the refused answer
        await idle();
        const after = await until(scrape, (t) => delta(before, t, 'switchboard_turns_total', { channel: 'whatsapp', outcome: 'failed' }) >= 1, 'the failed turn was counted');
        expect(delta(before, after, 'switchboard_turns_total', { channel: 'whatsapp', outcome: 'failed' })).to.equal(1);
        expect(delta(before, after, 'switchboard_turns_total', { channel: 'whatsapp', outcome: 'ok' })).to.equal(0);
        expect(delta(before, after, 'switchboard_graph_errors_total', { channel: 'whatsapp', class: '4xx' })).to.equal(1);
        expect(delta(before, after, 'switchboard_graph_retries_total', { channel: 'whatsapp' })).to.equal(0);
      });

      it('shows an open Direct Line WebSocket in the streams gauge until it closes', async () => {
        const customer = await webChatConversation();
        const ws = new WebSocket(customer.streamUrl);
        await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
        const open = await until(scrape, (t) => sample(t, 'switchboard_directline_streams_open', { channel: 'webchat' }) === 1, 'the stream was counted');
        expect(sample(open, 'switchboard_directline_streams_open', { channel: 'webchat' })).to.equal(1);
        ws.close();
        await until(scrape, (t) => sample(t, 'switchboard_directline_streams_open', { channel: 'webchat' }) === 0, 'the closed stream was no longer counted');
      });

      it('answers Prometheus text exposition: HELP and TYPE for every family, our types, the process metrics, and an inbox backlog per channel', async () => {
        await idle();
        const res = await fetch(`${url}/metrics`);
        expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
        const text = await res.text();
        const types = new Map<string, string>();
        for (const line of text.split('\n').filter(Boolean)) {
          if (line.startsWith('# HELP ')) continue;
          const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
          if (type) {
            types.set(type[1]!, type[2]!);
            continue;
          }
          const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_]\w*="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_]\w*="(?:[^"\\]|\\.)*")*\})? (-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|Nan|\+Inf|-Inf)$/.exec(line); // prom-client writes NaN as `Nan`, which Prometheus reads
          expect(m, `an exposition line: ${line}`).to.not.equal(null);
          const family = m![1]!.replace(/_(bucket|sum|count)$/, '');
          expect(types.has(m![1]!) || types.has(family), `a TYPE line before ${m![1]}`).to.equal(true);
        }
        expect(types.get('switchboard_turns_total')).to.equal('counter');
        expect(types.get('switchboard_turn_duration_seconds')).to.equal('histogram');
        expect(types.get('switchboard_reply_latency_seconds')).to.equal('histogram');
        expect(types.get('switchboard_queue_conversations')).to.equal('gauge');
        expect(types.get('switchboard_directline_streams_open')).to.equal('gauge');
        expect(types.get('switchboard_graph_retries_total')).to.equal('counter');
        expect(types.get('process_cpu_user_seconds_total')).to.equal('counter');
        for (const channel of ['webchat', 'messenger', 'whatsapp']) expect(sample(text, 'switchboard_inbox_backlog', { channel })).to.equal(0);
      });

      it('refuses a request relayed by a proxy on this machine when TRUST_PROXY is 0 (it may come from anywhere)', async () => {
        const res = await fetch(`${url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
        expect(res.status).to.equal(403);
        expect(((await res.json()) as { message: string }).message).to.include('METRICS_TOKEN');
      });
    });
  });
}

describe('turn metrics in the turn engine', () => {
  const engine = () => {
    const metrics = new Metrics();
    const inbox = new MemoryInbox();
    const channel = new LimitTestChannel(inbox, { metrics });
    metrics.watchBacklog(channel.channelId, () => channel.backlog);
    const read = async (name: string, labels: Labels = {}) => sample(await metrics.registry.metrics(), name, { channel: 'other', ...labels });
    return { metrics, inbox, channel, read };
  };

  it('counts a turn re-run after a crash as replayed, under `other` for a channel it does not know, without a second reply time', async () => {
    const { inbox, channel, read } = engine();
    // The earlier process accepted the message, sent the reply, and died before marking it done.
    await inbox.accept([item('q1', 'A', 'first')]);
    const reply = MessageFactory.text('You said: first');
    await inbox.recordSend('q1', { n: 0, h: contentHash(reply), ids: ['platform-1'], at: 2000, activity: { type: 'message', text: reply.text } });
    channel.mount(undefined as never, async (ctx) => void (await ctx.sendActivity(`You said: ${ctx.activity.text}`)));
    await channel.start();
    await channel.whenIdle();
    expect(channel.sent).to.deep.equal([]);
    expect(await read('switchboard_turns_total', { outcome: 'replayed' })).to.equal(1);
    expect(await read('switchboard_turns_total', { outcome: 'ok' })).to.equal(undefined);
    expect(await read('switchboard_reply_latency_seconds_count')).to.equal(undefined);
    await channel.close();
  });

  it('counts a turn that throws without an onTurnError as failed', async () => {
    const { channel, read } = engine();
    channel.mount(undefined as never, async () => {
      throw new Error('the bot broke');
    });
    await channel.post([item('q2', 'B')]);
    await channel.whenIdle();
    expect(await read('switchboard_turns_total', { outcome: 'failed' })).to.equal(1);
    await channel.close();
  });

  it('shows the messages waiting behind a slow turn as the inbox backlog, and 0 once they ran', async () => {
    const { channel, read } = engine();
    const slow = gate();
    channel.mount(undefined as never, async (ctx) => {
      await slow.opened;
      await ctx.sendActivity('ok');
    });
    await channel.post([item('c1', 'C'), item('c2', 'C'), item('c3', 'C')]);
    expect(await read('switchboard_inbox_backlog')).to.equal(3);
    slow.open();
    await channel.whenIdle();
    expect(await read('switchboard_inbox_backlog')).to.equal(0);
    expect(await read('switchboard_reply_latency_seconds_count')).to.equal(3);
    await channel.close();
  });
});

describe('GET /metrics access', function () {
  this.timeout(20_000);
  const servers: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });
  async function serve(options: { token?: string; trustProxy?: number }) {
    const metrics = new Metrics();
    const server = createServer({ logger: silentLogger, trustProxy: options.trustProxy, metrics: { metrics, token: options.token } });
    const http = await listen(server);
    servers.push(http);
    return http.url;
  }

  it('with METRICS_TOKEN, asks for the bearer token with a 401 in JSON and answers the right one', async () => {
    const url = await serve({ token: METRICS_TOKEN });
    const none = await fetch(`${url}/metrics`);
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.match(/^Bearer/);
    expect(((await none.json()) as { message: string }).message).to.include('METRICS_TOKEN');
    const wrong = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } });
    expect(wrong.status).to.equal(401);
    const right = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(right.status).to.equal(200);
    expect(await right.text()).to.include('# TYPE switchboard_turns_total counter');
  });

  it('behind a trusted proxy, refuses a public client and answers a local one', async () => {
    const url = await serve({ trustProxy: 1 });
    const publicClient = await fetch(`${url}/metrics`, { headers: { 'x-forwarded-for': '198.51.100.7' } });
    expect(publicClient.status).to.equal(403);
    const viaProxyFromHere = await fetch(`${url}/metrics`, { headers: { 'x-forwarded-for': '127.0.0.1' } });
    expect(viaProxyFromHere.status).to.equal(200);
    const direct = await fetch(`${url}/metrics`);
    expect(direct.status).to.equal(200);
  });

  it('gives every app its own registry: two in one process count apart', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.turnStarted('webchat')('ok');
    expect(sample(await a.registry.metrics(), 'switchboard_turns_total', { channel: 'webchat', outcome: 'ok' })).to.equal(1);
    expect(sample(await b.registry.metrics(), 'switchboard_turns_total', { channel: 'webchat', outcome: 'ok' })).to.equal(undefined);
  });

  it('refuses a METRICS_TOKEN too short to keep the route private, naming the variable', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).to.throw(ConfigError, /^METRICS_TOKEN: must be at least 16/);
    expect(loadConfig({ METRICS_TOKEN: METRICS_TOKEN }).metricsToken).to.equal(METRICS_TOKEN);
    expect(loadConfig({}).metricsToken).to.equal(undefined);
  });
});
