/**
 * Several instances on one PostgreSQL database: the event bus (LISTEN/NOTIFY) between them, and the
 * handoff hub on it — queue entries, claims and presence made on one instance seen on another.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TurnContext } from 'botbuilder';
import { fixedClock } from '../../src/clock.js';
import { PgQueueStore } from '../../src/handoff/pg-queue-store.js';
import { HandoffHub, type HubEvent } from '../../src/handoff/hub.js';
import { HandoffMiddleware } from '../../src/handoff/middleware.js';
import { HANDOFF_REQUESTER, type HandoffRequester } from '../../src/handoff/types.js';
import { Database } from '../../src/storage/postgres/database.js';
import { MAX_NOTIFY_BYTES, PgEventBus } from '../../src/storage/postgres/event-bus.js';
import { usePostgres } from '../helpers/postgres.js';
import { MONDAY_10, ProactiveTestAdapter } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Waits until `condition` holds (events cross instances asynchronously); fails after `ms` (10 s) with `what`. */
async function until(condition: () => boolean | Promise<boolean>, what: string | (() => string), ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One more instance's connection to the test database, closed after the suite. */
function instances(pg: { url: string }) {
  const opened: Array<{ close(): Promise<void> }> = [];
  return {
    async open(instanceId: string, options: { reconnectMinMs?: number } = {}) {
      const db = await Database.open(pg.url);
      const bus = await PgEventBus.open(db, { instanceId, reconnectMinMs: options.reconnectMinMs ?? 20 });
      opened.push(db);
      opened.unshift(bus); // buses close before their databases
      return { db, bus };
    },
    async closeAll() {
      for (const x of opened.splice(0)) await x.close();
    },
  };
}

describe('PgEventBus', function () {
  const pg = usePostgres();
  const pool = instances(pg);
  let a: PgEventBus;
  let b: PgEventBus;
  before(async () => {
    ({ bus: a } = await pool.open('instance-a'));
    ({ bus: b } = await pool.open('instance-b'));
  });
  after(() => pool.closeAll());

  it('delivers a publish to the subscribers of the sending instance at once and of the other instance, each once', async () => {
    const topic = 'web chat/conv 1: "anything" — not an identifier';
    const onA: unknown[] = [];
    const onB: unknown[] = [];
    const stopA = a.subscribe(topic, (p) => onA.push(p));
    const stopB = b.subscribe(topic, (p) => onB.push(p));
    const sent = a.publish(topic, { n: 1 });
    expect(onA).to.deep.equal([{ n: 1 }]); // before the NOTIFY even went out
    await sent;
    await a.publish(topic, { n: 2 });
    // Barriers: notifications arrive in commit order, so a duplicate would arrive before them.
    const doneOnB = new Promise((resolve) => b.subscribe('done', resolve));
    const ackOnA = new Promise((resolve) => a.subscribe('ack', resolve));
    await a.publish('done', {});
    await doneOnB;
    await b.publish('ack', {});
    await ackOnA;
    expect(onB).to.deep.equal([{ n: 1 }, { n: 2 }]);
    expect(onA).to.deep.equal([{ n: 1 }, { n: 2 }]);
    stopA();
    stopB();
  });

  it('carries a 50 KB payload (through the table) in order with the small ones around it', async () => {
    const big = { text: 'é'.repeat(25_000), n: 2 };
    expect(Buffer.byteLength(JSON.stringify(big))).to.be.greaterThan(MAX_NOTIFY_BYTES);
    const onB: Array<{ n: number; text?: string }> = [];
    const stop = b.subscribe('big', (p) => onB.push(p));
    await a.publish('big', { n: 1 });
    await a.publish('big', big);
    await a.publish('big', { n: 3 });
    await until(() => onB.length === 3, 'B has all three');
    expect(onB.map((p) => p.n)).to.deep.equal([1, 2, 3]);
    expect(onB[1]).to.deep.equal(big);
    stop();
  });

  it('reconnects after its listening connection is killed and delivers again', async () => {
    const onB: unknown[] = [];
    const stop = b.subscribe('after-restart', (p) => onB.push(p));
    const pid = b.backendPid;
    expect(pid).to.be.a('number');
    await pg.db.query('SELECT pg_terminate_backend($1)', [pid]);
    await until(() => b.connected && b.backendPid !== pid, 'B listens again on a new connection');
    await a.publish('after-restart', { hello: 'again' });
    await until(() => onB.length === 1, 'B hears A again');
    expect(onB).to.deep.equal([{ hello: 'again' }]);
    // and B can still reach A
    const onA: unknown[] = [];
    const stopA = a.subscribe('back', (p) => onA.push(p));
    await b.publish('back', { from: 'b' });
    await until(() => onA.length === 1, 'A hears B');
    stop();
    stopA();
  });

  it('still delivers locally while disconnected, and says so in its health check', async () => {
    const { bus: c } = await pool.open('instance-c', { reconnectMinMs: 60_000 });
    expect(await c.healthCheck().check()).to.include({ ok: true });
    await pg.db.query('SELECT pg_terminate_backend($1)', [c.backendPid]);
    await until(() => !c.connected, 'C notices the lost connection');
    const onC: unknown[] = [];
    c.subscribe('local', (p) => onC.push(p));
    await c.publish('local', { still: 'here' });
    expect(onC).to.deep.equal([{ still: 'here' }]);
    expect(await c.healthCheck().check()).to.include({ ok: false, missed: 1 });
  });
});

describe('HandoffHub on several instances', function () {
  const pg = usePostgres();
  const pool = instances(pg);
  const bob = { id: 'bob', name: 'Bob' };
  let busA: PgEventBus;
  let busB: PgEventBus;
  let dbA: Database;
  let dbB: Database;
  let hubs: HandoffHub[];
  let clockA: ReturnType<typeof fixedClock>;
  let clockB: ReturnType<typeof fixedClock>;

  before(async () => {
    ({ bus: busA, db: dbA } = await pool.open('hub-a'));
    ({ bus: busB, db: dbB } = await pool.open('hub-b'));
  });
  after(() => pool.closeAll());
  beforeEach(() => {
    hubs = [];
    clockA = fixedClock(MONDAY_10);
    clockB = fixedClock(MONDAY_10);
  });
  afterEach(async () => {
    for (const h of hubs) await h.close();
  });

  const hub = (bus: PgEventBus, db: Database, clock = clockA, presence = { heartbeatMs: 50 }) => {
    const h = new HandoffHub({ store: new PgQueueStore(db), bus, clock, presence });
    hubs.push(h);
    return h;
  };

  /** A customer writing to the instance `h` runs on; "agent please" asks for a person. */
  const customer = (h: HandoffHub, conversationId: string) => {
    const adapter = new ProactiveTestAdapter(
      async (context: TurnContext) => {
        if (context.activity.type !== 'message') return;
        const requester = context.turnState.get(HANDOFF_REQUESTER) as HandoffRequester;
        if (context.activity.text === 'agent please') await requester.requestHandoff(context, { reason: 'customer-asked' });
        else await context.sendActivity(`bot: ${context.activity.text}`);
      },
      { channelId: 'test', conversation: { id: conversationId } as any, from: { id: `customer-${conversationId}`, name: 'Ada Customer' } },
    );
    adapter.use(new HandoffMiddleware(h));
    return adapter;
  };

  const changes = (events: HubEvent[], id: string) => events.flatMap((e) => (e.type === 'conversation' && e.conversation.id === id ? [e.change] : []));

  it('shows a queue entry made on instance A to a console subscribed on instance B, once', async () => {
    const a = hub(busA, dbA);
    const b = hub(busB, dbB);
    const onA: HubEvent[] = [];
    const onB: HubEvent[] = [];
    a.subscribe((e) => onA.push(e));
    b.subscribe((e) => onB.push(e));
    await customer(a, 'conv-q').receiveActivity('agent please');
    await a.settled();
    await until(() => changes(onB, 'conv-q').includes('summarized'), 'B hears the summary');
    expect(changes(onB, 'conv-q')).to.deep.equal(['seen', 'queued', 'summarized']);
    expect(changes(onA, 'conv-q')).to.deep.equal(['seen', 'queued', 'summarized']);
    const queued = onB.find((e) => e.type === 'conversation' && e.change === 'queued');
    expect(queued).to.have.nested.property('conversation.owner', 'queued');
    expect((await b.list({ owner: 'queued' })).map((r) => r.id)).to.deep.equal(['conv-q']);
  });

  it('follows on A a claim and a resolve made on B: the send filter, the customer\'s messages and the wait estimate', async () => {
    const a = hub(busA, dbA);
    const b = hub(busB, dbB, clockB);
    const onB: HubEvent[] = [];
    b.subscribe((e) => onB.push(e));
    const chat = customer(a, 'conv-c');
    await chat.receiveActivity('agent please');
    expect(a.knownOwner('conv-c')).to.equal('queued');
    const releaseBob = b.agentConnected('bob');
    await until(() => a.onlineAgents().includes('bob'), 'A counts Bob');
    expect(await a.estimateWaitMs(1)).to.equal(undefined); // nobody handled a conversation yet

    await b.claim('conv-c', bob);
    await until(() => a.knownOwner('conv-c') === 'assigned', 'A knows Bob holds the conversation');
    chat.activeQueue.splice(0);
    await chat.receiveActivity('are you there?');
    expect(chat.activeQueue).to.deep.equal([]); // the bot stays silent on A
    await until(() => onB.some((e) => e.type === 'message' && e.activity.text === 'are you there?'), 'Bob sees the message on B');

    clockB.advance(4 * 60_000);
    await b.resolve('conv-c', bob);
    await until(() => a.knownOwner('conv-c') === 'bot', 'A knows the bot has the conversation again');
    expect(await a.estimateWaitMs(1)).to.equal(4 * 60_000);
    releaseBob();
  });

  it('counts an agent connected on B in A\'s online agents, until B closes', async () => {
    const a = hub(busA, dbA);
    const b = hub(busB, dbB);
    const presence: string[][] = [];
    a.subscribe((e) => e.type === 'presence' && presence.push(e.agentsOnline));
    const releaseAda = a.agentConnected('ada');
    b.agentConnected('bob');
    await until(() => a.onlineAgents().includes('bob'), 'A counts Bob');
    expect(a.onlineAgents()).to.deep.equal(['ada', 'bob']);
    await until(() => b.onlineAgents().length === 2, 'B counts Ada');
    expect(b.onlineAgents().sort()).to.deep.equal(['ada', 'bob']);
    await b.close();
    await until(() => !a.onlineAgents().includes('bob'), 'A stops counting Bob');
    expect(presence).to.deep.equal([['ada'], ['ada', 'bob'], ['ada']]);
    releaseAda();
  });

  it('counts at once, on an instance that starts later, the agents already online elsewhere', async () => {
    const b = hub(busB, dbB, clockB, { heartbeatMs: 3_600_000 }); // no heartbeat during the test: only the answer to the newcomer
    b.agentConnected('bob');
    const a = hub(busA, dbA);
    await until(() => a.onlineAgents().includes('bob'), 'the new instance counts Bob');
  });

  it('stops counting the agents of an instance killed with -9, once its heartbeats expire', async function () {
    this.timeout(60_000);
    const a = hub(busA, dbA);
    const presence: string[][] = [];
    a.subscribe((e) => e.type === 'presence' && presence.push(e.agentsOnline));
    const script = path.join(here, 'fixtures', 'presence-instance.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, pg.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    try {
      await until(() => a.onlineAgents().includes('kim'), () => `A counts Kim of the other instance (its stderr: ${stderr})`, 45_000);
    } finally {
      child.kill('SIGKILL'); // nothing says goodbye
    }
    expect(await exited).to.equal('SIGKILL');
    // A heartbeat sent just before the kill is delivered before anything sent after it: wait for such a message.
    const barrier = new Promise((resolve) => busA.subscribe('barrier', resolve));
    await busB.publish('barrier', {});
    await barrier;
    clockA.advance(20_000);
    expect(a.onlineAgents()).to.deep.equal(['kim']); // a missed heartbeat or two is not enough
    clockA.advance(11_000);
    expect(a.onlineAgents()).to.deep.equal([]);
    await until(() => presence.length === 2, 'A tells its consoles');
    expect(presence).to.deep.equal([['kim'], []]);
  });
});
