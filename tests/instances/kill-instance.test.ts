/**
 * Fault: three `npm start` instances on one PostgreSQL database behind a round-robin balancer, with
 * customers on WhatsApp, Messenger and web chat at once; one instance is killed with SIGKILL in the
 * middle of the burst. Requests that failed on the dead instance were not acknowledged and are sent
 * again to a survivor (Meta's retry, the Web Chat client's retry); some acknowledged ones are repeated
 * too, as Meta does. Every acknowledged message must be stored once and answered once, the dead
 * instance's conversations by a survivor once their leases run out (TURN_LEASE_SECONDS, shortened here).
 *
 * The one window no server can close — Meta accepted a send and its answer had not reached us — is
 * kept out as in tests/faults/sigkill.test.ts: each instance sends through its own `GraphGate`; just
 * before the kill the victim's gate parks new sends, the sends it already forwarded get their answer,
 * and the test waits until the database knows of every send Meta accepted. Sends parked at the kill
 * never reached "Meta" and must be made by a survivor. Webhooks, web chat appends, turns and
 * transcript writes are all in flight when the kill lands.
 */
import { expect } from 'chai';
import { FakeGraph } from '../fakes/graph.js';
import { createTestDatabase, requirePostgres } from '../helpers/postgres.js';
import { GraphGate, delay, message, reportCounts, until, type Msg } from '../faults/helpers.js';
import { Database } from '../../src/storage/postgres/database.js';
import { t } from '../../src/bot/strings.js';
import {
  RoundRobin,
  answeredIds,
  channelsEnv,
  liveLeasesOf,
  pendingInboxItems,
  postWebChatMessage,
  postWebhook,
  readStored,
  recordedSendIds,
  startConversation,
  startInstance,
  webChatOutcome,
  type Answer,
  type Instance,
  type WebChatCustomer,
} from './helpers.js';

const QUESTIONS = ['How can I pay my bill by card?', 'What are your store opening hours?', 'Where is my order?'];
const CUSTOMERS_PER_CHANNEL = 10;
const MESSAGES_PER_CUSTOMER = 6;
const LEASE_SECONDS = 8;
/** Tries of one request before the test gives up on it (each on the next instance). */
const MAX_TRIES = 30;
/** The platform id of a send Meta accepted. */
const sentId = (r: { response: any }): string => r.response.message_id ?? r.response.messages?.[0]?.id;

describe('instances: kill -9 of one of three instances in the middle of a burst on all three channels', function () {
  this.timeout(240_000);
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let db: Database | undefined;
  let graph: FakeGraph;
  const gates: GraphGate[] = [];
  const instances: Instance[] = [];

  before(async function () {
    const serverUrl = requirePostgres(this);
    database = await createTestDatabase(serverUrl);
    graph = new FakeGraph();
    await graph.start();
    for (let i = 0; i < 3; i++) {
      const gate = new GraphGate(graph.url);
      await gate.start();
      gates.push(gate);
    }
    // One at a time the first time (migrations), then the other two together.
    instances.push(await startInstance('kill-a', channelsEnv(database.url, gates[0]!.url, { TURN_LEASE_SECONDS: String(LEASE_SECONDS) })));
    instances.push(...(await Promise.all([1, 2].map((i) => startInstance(`kill-${'abc'[i]}`, channelsEnv(database!.url, gates[i]!.url, { TURN_LEASE_SECONDS: String(LEASE_SECONDS) }))))));
    db = await Database.open(database.url, { migrate: false, max: 2 });
  });

  after(async () => {
    await Promise.all(instances.map((i) => i.kill().then(() => i.stop())));
    await db?.close();
    for (const g of gates) await g.close();
    await graph?.close();
    await database?.drop();
  });

  it('stores and answers every acknowledged message once, the dead instance\'s by a survivor, with no Graph send made twice', async () => {
    const [, victim] = instances as [Instance, Instance, Instance];
    const victimGate = gates[1]!;
    const balancer = new RoundRobin(instances);
    let resent = 0;
    let connectionErrors = 0;
    const unexpected: string[] = [];

    /** Sends one request through the balancer until an instance acknowledges it (a dead one's failures go to the next). */
    const deliver = async (what: string, send: (base: string) => Promise<Answer>, ok: (a: Answer) => boolean): Promise<Answer> => {
      for (let attempt = 1; ; attempt++) {
        const a = await send(balancer.next().url);
        if (ok(a)) return a;
        if (a.status === 0) connectionErrors++;
        else unexpected.push(`${what}: ${a.status} ${JSON.stringify(a.body)}`);
        if (attempt >= MAX_TRIES) throw new Error(`${what} was never acknowledged (${MAX_TRIES} tries; last ${a.status})`);
        resent++;
        await delay(100);
      }
    };

    // Web chat customers start their conversations on whichever instance the balancer picks.
    const webCustomers: WebChatCustomer[] = [];
    for (let c = 0; c < CUSTOMERS_PER_CHANNEL; c++) webCustomers.push(await startConversation(balancer.next().url));

    const meta: Msg[][] = [];
    for (let c = 0; c < CUSTOMERS_PER_CHANNEL; c++) {
      for (const channel of ['whatsapp', 'messenger'] as const) {
        const from = channel === 'whatsapp' ? `4915200${String(c).padStart(5, '0')}` : `7100000${String(c).padStart(5, '0')}`;
        meta.push(Array.from({ length: MESSAGES_PER_CUSTOMER }, (_, k) => message(channel, from, QUESTIONS[k % QUESTIONS.length]!)));
      }
    }
    const metaAcked = new Set<string>();
    /** Web chat: clientActivityID → the id the first 200 answered. */
    const webAcked = new Map<string, string>();
    const textOf = (k: number) => `${QUESTIONS[k % QUESTIONS.length]} (${k})`;
    const clientIdOf = (c: number, k: number) => `kill-c${c}-m${k}`;
    const total = meta.length * MESSAGES_PER_CUSTOMER + webCustomers.length * MESSAGES_PER_CUSTOMER;

    // Every customer at once, each sending its next message once the last one is acknowledged.
    const burst = Promise.all([
      ...meta.map(async (list) => {
        for (const m of list) {
          await deliver(`${m.channel} ${m.id}`, (base) => postWebhook(base, m), (a) => a.status === 200);
          metaAcked.add(m.id);
        }
      }),
      ...webCustomers.map(async (conv, c) => {
        for (let k = 0; k < MESSAGES_PER_CUSTOMER; k++) {
          const a = await deliver(`web chat ${clientIdOf(c, k)}`, (base) => postWebChatMessage(base, conv, textOf(k), clientIdOf(c, k)), (x) => x.status === 200 && typeof x.body?.id === 'string');
          if (!webAcked.has(clientIdOf(c, k))) webAcked.set(clientIdOf(c, k), a.body.id);
        }
      }),
    ]);

    await until(() => metaAcked.size + webAcked.size >= total * 0.25, 90_000, 'a quarter of the burst acknowledged');
    // The kill window (see the file comment): the victim's new sends are parked, what it forwarded is answered and known.
    victimGate.mode = { kind: 'hold' };
    await until(() => victimGate.forwarding === 0, 20_000, "the victim's forwarded sends to be answered");
    const accepted = graph.sent().map(sentId);
    await until(async () => {
      const known = await recordedSendIds(db!);
      return accepted.every((id) => known.has(id));
    }, 20_000, 'the database to know every send Meta accepted');
    const victimPids = victim.pids();
    await victim.kill();
    balancer.remove(victim); // the balancer's health check notices; until then requests to it fail and are sent again
    victimGate.drop();
    const acknowledgedBeforeKill = metaAcked.size + webAcked.size;
    const pendingAtKill = await pendingInboxItems(db!);
    /** Conversations the survivors can take over only once these run out. */
    const victimLeasesAtKill = await liveLeasesOf(db!, victimPids);
    await burst;

    // Meta repeats some deliveries it already had answered 200; a Web Chat client resends a few too.
    let repeats = 0;
    const repeatMismatches: string[] = [];
    for (const [i, list] of meta.entries()) {
      const m = list[i % MESSAGES_PER_CUSTOMER]!;
      await deliver(`repeat ${m.id}`, (base) => postWebhook(base, m), (a) => a.status === 200);
      repeats++;
    }
    for (const [c, conv] of webCustomers.entries()) {
      const k = c % MESSAGES_PER_CUSTOMER;
      const a = await deliver(`repeat ${clientIdOf(c, k)}`, (base) => postWebChatMessage(base, conv, textOf(k), clientIdOf(c, k)), (x) => x.status === 200);
      repeats++;
      if (a.body?.id !== webAcked.get(clientIdOf(c, k))) repeatMismatches.push(`${clientIdOf(c, k)}: ${a.body?.id} vs ${webAcked.get(clientIdOf(c, k))}`);
    }
    expect(metaAcked.size + webAcked.size).to.equal(total);

    // The survivors take over the victim's conversations once its leases run out, then run everything left.
    const ackedIds = () => [...metaAcked, ...webAcked.values()];
    await until(async () => {
      const answered = await answeredIds(db!);
      return ackedIds().every((id) => answered.has(id)) && (await pendingInboxItems(db!)) === 0;
    }, LEASE_SECONDS * 1000 + 120_000, 'every acknowledged message to be answered and no inbox item left');
    const survivors = instances.filter((i) => i !== victim);
    await Promise.all(survivors.map((i) => i.stop())); // finish whatever is still running, then exit

    const stored = await readStored(
      database!.url,
      webCustomers.map((w) => w.conversationId),
    );
    const sent = graph.sent();
    const sentIds = sent.map(sentId);
    let answered = 0;
    let answeredTwice = 0;
    /** Messages whose replies include the turn-error apology (a turn that failed and ran again). */
    let apologized = 0;
    const apology = t('en', 'turnError');
    for (const m of meta.flat()) {
      const replies = stored.metaReplies.get(m.id) ?? [];
      if (replies.length) answered++;
      if (new Set(replies.map((a) => a.text)).size !== replies.length) answeredTwice++;
      if (replies.some((a) => a.text === apology)) apologized++;
    }
    const webOutcomes = webCustomers.flatMap((conv, c) =>
      Array.from({ length: MESSAGES_PER_CUSTOMER }, (_, k) => ({ key: clientIdOf(c, k), ...webChatOutcome(stored.webLogs.get(conv.conversationId)!, clientIdOf(c, k), webAcked.get(clientIdOf(c, k))!) })),
    );
    for (const o of webOutcomes) {
      if (o.replies.length) answered++;
      if (o.repeated) answeredTwice++;
      if (o.replies.some((a) => a.text === apology)) apologized++;
    }
    reportCounts('instances-kill', {
      instances: 3,
      sent: total,
      acknowledged: metaAcked.size + webAcked.size,
      acknowledgedBeforeKill,
      pendingAtKill,
      victimLeasesAtKill,
      answered,
      answeredTwice,
      apologized,
      resent,
      connectionErrors,
      repeats,
      graphSends: sent.length,
      graphSendsDistinct: new Set(sentIds).size,
    });

    expect(unexpected, 'answers other than 200 or a connection error').to.deep.equal([]);
    expect(connectionErrors, 'requests that hit the dead instance (the kill landed in the burst)').to.be.greaterThan(0);
    for (const m of meta.flat()) {
      expect(stored.metaInbound.get(m.id), `${m.channel} ${m.id} in the transcript`).to.equal(1);
      const replies = stored.metaReplies.get(m.id) ?? [];
      expect(replies.length, `replies to ${m.channel} ${m.id}`).to.be.greaterThan(0);
      expect(new Set(replies.map((a) => a.text)).size, `a reply to ${m.id} repeated`).to.equal(replies.length);
    }
    // Every send Meta accepted is in the transcript exactly once, and nothing else is: no reply went twice.
    const notLogged = graph.sent().filter((r) => stored.metaBotIds.get(sentId(r)) !== 1);
    expect(notLogged.map((r) => `${sentId(r)} at ${new Date(r.at).toISOString()}: ${JSON.stringify(r.body).slice(0, 200)}`), 'Graph sends not in the transcript exactly once').to.deep.equal([]);
    expect(stored.metaBotIds.size, 'bot messages in the Meta transcripts vs distinct Graph sends').to.equal(new Set(sentIds).size);
    expect(sentIds.length, 'Graph sends vs distinct ids').to.equal(new Set(sentIds).size);
    for (const [c, conv] of webCustomers.entries()) {
      const log = stored.webLogs.get(conv.conversationId)!;
      const welcome = log.filter((a) => !a.replyToId && a.from?.role !== 'user' && a.type === 'message');
      expect(welcome.length, `welcome of web chat customer ${c}`).to.be.greaterThan(0);
      expect(new Set(welcome.map((a) => a.text)).size, `welcome of web chat customer ${c} repeated`).to.equal(welcome.length);
    }
    for (const o of webOutcomes) {
      const ackedId = webAcked.get(o.key)!;
      expect(o.echoes.map((e) => e.id), `the acknowledged id of ${o.key} is in the log`).to.include(ackedId);
      expect(stored.webInbound.get(ackedId), `${o.key} in the transcript`).to.equal(1);
      expect(o.replies.length, `replies to ${o.key}`).to.be.greaterThan(0);
      expect(o.answeredEchoes.length, `${o.key} answered once`).to.equal(1);
      const shown = o.replies.map((a) => `${a.id} ${String(a.timestamp)} ${JSON.stringify(a.text?.slice(0, 30))} ${JSON.stringify(a.suggestedActions?.actions?.map((x) => x.title))}`);
      expect(new Set(o.replies.map((a) => a.text)).size, `a reply to ${o.key} repeated: ${shown.join(' / ')}`).to.equal(o.replies.length);
    }
    expect(repeatMismatches, 'a repeated web chat POST answers the first id').to.deep.equal([]);
  });
});
