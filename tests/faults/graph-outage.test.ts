/**
 * Fault: the Graph API is down for a stretch — 500s, then requests that hang until the client's
 * timeout, then 429 with Retry-After — while customers keep writing. Replies must arrive after it
 * recovers, in order per conversation, none twice, none lost.
 *
 * Time is compressed 20×, nothing else changes: the production retry policy (GraphClient defaults:
 * 12 attempts, 0.5 s doubling to 30 s, equal jitter, Retry-After as a floor) runs with every backoff
 * wait divided by 20 (the injected `sleep`) and the per-attempt timeout at 10 s / 20 = 500 ms. So the
 * real 3 s outage below stands for a 60 s outage in production. In production the same waits add up to
 * at least 90 s (at most 181 s) before a send is given up, so a one-minute outage is ridden out; the
 * inbound message stays pending in the channel journal meanwhile, so a restart re-runs its turn.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { FakeGraph, type RecordedRequest } from '../fakes/graph.js';
import { GraphGate, delay, message, metaEnv, post, reportCounts, until, type Msg } from './helpers.js';

const TIME_SCALE = 20;
const QUESTIONS = ['How can I pay my bill by card?', 'What are your store opening hours?', 'Where is my order?'];
const textOf = (r: RecordedRequest): string => r.body.text?.body ?? r.body.interactive?.body?.text ?? r.body.message?.text ?? '';
const toOf = (r: RecordedRequest): string => r.body.to ?? r.body.recipient?.id;

describe('faults: Graph API outage', function () {
  this.timeout(60_000);
  let graph: FakeGraph;
  let gate: GraphGate;
  let dataDir: string;
  let app: App;
  let url: string;

  before(async () => {
    graph = new FakeGraph();
    gate = new GraphGate(await graph.start());
    await gate.start();
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-fault-graph-'));
    app = await buildApp({
      config: loadConfig(metaEnv(dataDir, gate.url)),
      logger: silentLogger,
      watchKnowledge: false,
      sleep: (ms) => delay(ms / TIME_SCALE),
      retry: { timeoutMs: 10_000 / TIME_SCALE },
    });
    url = await app.listen(0, '127.0.0.1');
  });
  after(async () => {
    await app.close();
    await gate.close();
    await graph.close();
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('delivers every reply after a 500 / timeout / 429 outage, in order per conversation, none twice', async () => {
    // Baseline with the API up: what one conversation's replies look like, per channel.
    const expected: Record<string, string[]> = {};
    for (const channel of ['whatsapp', 'messenger'] as const) {
      const from = channel === 'whatsapp' ? '4915199999999' : '7999999999';
      for (const q of QUESTIONS) expect(await post(url, message(channel, from, q))).to.equal(200);
      await until(() => graph.sent().filter((r) => toOf(r) === from).length >= 7, 10_000, `${channel} baseline replies`);
      await delay(200);
      expected[channel] = graph.sent().filter((r) => toOf(r) === from).map(textOf);
    }

    // The outage: 1 s of 500s, 1 s of hanging requests, 1 s of 429 Retry-After: 2 (= 60 s in production).
    const msgs: Msg[] = [];
    const conversations: { channel: 'whatsapp' | 'messenger'; from: string }[] = [];
    for (let c = 0; c < 6; c++) {
      conversations.push({ channel: 'whatsapp', from: `491520000${c}` }, { channel: 'messenger', from: `7100000${c}` });
    }
    gate.mode = { kind: 'status', status: 500 };
    const started = Date.now();
    const sender = (async () => {
      for (const q of QUESTIONS) {
        for (const conv of conversations) msgs.push(message(conv.channel, conv.from, q));
      }
      // Customers keep writing through the outage; every webhook is still acknowledged (stored first).
      const statuses: number[] = [];
      for (let i = 0; i < msgs.length; i++) {
        statuses.push(await post(url, msgs[i]!));
        await delay(2_500 / msgs.length);
      }
      return statuses;
    })();
    await delay(1_000);
    gate.mode = { kind: 'hang' };
    await delay(1_000);
    gate.mode = { kind: 'status', status: 429, retryAfterSeconds: 2 };
    await delay(1_000);
    const outageMs = Date.now() - started;
    const deliveredDuringOutage = graph.sent().filter((r) => conversations.some((c) => c.from === toOf(r))).length;
    await gate.open();
    const statuses = await sender;

    const expectedSends = conversations.reduce((n, c) => n + expected[c.channel]!.length, 0);
    const ours = () => graph.sent().filter((r) => conversations.some((c) => c.from === toOf(r)));
    await until(() => ours().length >= expectedSends, 15_000, `${expectedSends} replies after the outage`);
    await delay(300); // anything extra (a duplicate) would arrive now
    for (const a of Object.values(app.adapters)) await (a as { whenIdle?: () => Promise<void> }).whenIdle?.();

    const failures = (
      await Promise.all(conversations.map((c) => (app.adapters[c.channel] as unknown as { sendFailures(id: string): Promise<unknown[]> }).sendFailures(c.from)))
    ).flat();
    const storedIds = new Set<string>();
    for (const c of conversations)
      for (const a of await app.transcripts.readTranscript(c.channel, c.from)) if (a.from?.role === 'user' && a.id) storedIds.add(a.id);
    reportCounts('graph-outage', {
      sent: msgs.length,
      acknowledged: statuses.filter((s) => s === 200).length,
      stored: msgs.filter((m) => storedIds.has(m.id)).length,
      replied: ours().length,
      expectedReplies: expectedSends,
      deliveredDuringOutage,
      refusedByOutage: Object.values(gate.refused).reduce((a, b) => a + b, 0),
      outageMs,
      productionEquivalentOutageMs: outageMs * TIME_SCALE,
      sendFailures: failures.length,
    });

    expect(statuses.every((s) => s === 200), 'every webhook acknowledged during the outage').to.equal(true);
    expect(deliveredDuringOutage).to.equal(0);
    expect(msgs.filter((m) => !storedIds.has(m.id)).map((m) => m.id), 'messages missing from the transcript').to.deep.equal([]);
    expect(failures).to.deep.equal([]);
    for (const c of conversations) {
      const got = ours().filter((r) => toOf(r) === c.from).map(textOf);
      expect(got, `${c.channel} ${c.from}: replies in order, each once`).to.deep.equal(expected[c.channel]);
    }
    expect(ours().length).to.equal(expectedSends);
  });
});
