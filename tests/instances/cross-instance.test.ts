/**
 * Three `npm start` instances on one PostgreSQL database, each with its own empty DATA_DIR, as behind
 * a load balancer that sends any request to any instance: a customer's WebSocket on one, the agent's
 * console on another, the agent's reply posted on a third.
 */
import { expect } from 'chai';
import pg from 'pg';
import { readdir } from 'node:fs/promises';
import { FakeGraph } from '../fakes/graph.js';
import { createTestDatabase, requirePostgres } from '../helpers/postgres.js';
import { openEventStream } from '../agent/helpers.js';
import { connect } from '../webchat/client.js';
import { MIGRATIONS_DIR } from '../../src/storage/postgres/database.js';
import { KNOWLEDGE_DIR } from '../faults/helpers.js';
import { agentsCli, startInstance, type Instance } from './helpers.js';

const PASSWORD = 'a long passphrase';

async function login(base: string, username: string): Promise<string> {
  const r = await fetch(`${base}/api/agent/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }) });
  expect(r.status, `login ${username} on ${base}`).to.equal(200);
  return ((await r.json()) as { token: string }).token;
}

async function agentPost(base: string, token: string, path: string, body: unknown = {}): Promise<Response> {
  return fetch(`${base}/api/agent${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
}

async function webChatToken(base: string): Promise<{ conversationId: string; token: string }> {
  const r = await fetch(`${base}/api/webchat/token`, { method: 'POST' });
  expect(r.status).to.equal(200);
  return (await r.json()) as { conversationId: string; token: string };
}

describe('several instances on one PostgreSQL database', function () {
  this.timeout(240_000);
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let graph: FakeGraph;
  let env: Record<string, string>;
  const instances: Instance[] = [];
  let [a, b, c] = [] as unknown as [Instance, Instance, Instance];

  before(async function () {
    const serverUrl = requirePostgres(this);
    database = await createTestDatabase(serverUrl);
    graph = new FakeGraph();
    await graph.start();
    env = {
      DATABASE_URL: database.url,
      KNOWLEDGE_DIR,
      GRAPH_API_URL: graph.url,
      BUSINESS_HOURS: 'Mon-Sun 00:00-24:00',
      BUSINESS_TIMEZONE: 'UTC',
    };
    // All three start at once on an empty database: the migrations race.
    instances.push(...(await Promise.all(['a', 'b', 'c'].map((n) => startInstance(n, env)))));
    [a, b, c] = instances as [Instance, Instance, Instance];
    await agentsCli(['add', 'alice', '--password', PASSWORD], env);
    await agentsCli(['add', 'bob', '--password', PASSWORD], env);
  });

  after(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await graph?.close();
    await database?.drop();
  });

  it('applies each migration once when three instances start at the same moment', async () => {
    const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql'));
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.name)).to.deep.equal(files.sort());
    } finally {
      await client.end();
    }
  });

  it('accepts on one instance a web chat token minted by another (one Direct Line secret, kept in the database)', async () => {
    const { token } = await webChatToken(a.url);
    const r = await fetch(`${b.url}/v3/directline/conversations`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(r.status).to.equal(201);
  });

  it('shows a queue entry made on A at once to an agent on B, and delivers the reply posted on B to the customer socket held by A', async () => {
    const alice = await login(b.url, 'alice');
    const events = await openEventStream(b.url, alice);
    const { conversationId, token } = await webChatToken(a.url);
    const customer = connect({ domain: `${a.url}/v3/directline`, token, webSocket: true });
    try {
      await customer.post({ text: 'I want to talk to a person' });
      await events.until(`"id":"${conversationId}"`);
      await events.until('"change":"queued"');
      // Alice, signed in on B, claims and answers through C: the customer's socket is on A.
      const aliceOnC = await login(c.url, 'alice');
      expect((await agentPost(c.url, aliceOnC, `/conversations/${conversationId}/claim`)).status).to.equal(200);
      expect((await agentPost(c.url, aliceOnC, `/conversations/${conversationId}/messages`, { text: "Hello, this is Alice from instance C" })).status).to.be.oneOf([200, 201]);
      const reply = await customer.waitFor((x) => (x as { text?: string }).text === 'Hello, this is Alice from instance C', 'the agent reply on the socket', 15_000);
      expect(reply.from.role ?? 'bot').to.not.equal('user');
    } finally {
      customer.close();
      events.close();
    }
  });

  it('lets exactly one of two agents claiming at once on two instances win; the other gets 409 naming the holder', async () => {
    const { conversationId, token } = await webChatToken(b.url);
    const customer = connect({ domain: `${b.url}/v3/directline`, token, webSocket: true });
    try {
      await customer.post({ text: 'I want to talk to a person' });
      const alice = await login(a.url, 'alice');
      const bob = await login(c.url, 'bob');
      const queued = async () => {
        const r = await fetch(`${a.url}/api/agent/conversations?status=queued`, { headers: { authorization: `Bearer ${alice}` } });
        const body = (await r.json()) as { conversations: { id: string }[] };
        return body.conversations.some((x) => x.id === conversationId);
      };
      for (let i = 0; !(await queued()); i++) {
        if (i > 200) throw new Error('the conversation never reached the queue');
        await new Promise((r) => setTimeout(r, 50));
      }
      const [ra, rb] = await Promise.all([agentPost(a.url, alice, `/conversations/${conversationId}/claim`), agentPost(c.url, bob, `/conversations/${conversationId}/claim`)]);
      expect([ra.status, rb.status].sort()).to.deep.equal([200, 409]);
      const loser = ra.status === 409 ? ra : rb;
      expect(((await loser.json()) as { message: string }).message).to.match(/alice|bob/i);
    } finally {
      customer.close();
    }
  });

  it('counts an agent connected on one instance as online on the others', async () => {
    const bob = await login(a.url, 'bob');
    const bobId = ((await (await fetch(`${a.url}/api/agent/me`, { headers: { authorization: `Bearer ${bob}` } })).json()) as { agent: { id: string } }).agent.id;
    const alice = await login(c.url, 'alice');
    const onlineOnC = async () => {
      const r = await fetch(`${c.url}/api/agent/conversations?status=queued`, { headers: { authorization: `Bearer ${alice}` } });
      return ((await r.json()) as { agentsOnline: string[] }).agentsOnline;
    };
    expect(await onlineOnC()).to.not.include(bobId);
    const events = await openEventStream(a.url, bob); // Bob's console is connected to A only
    try {
      for (let i = 0; !(await onlineOnC()).includes(bobId); i++) {
        if (i > 200) throw new Error('bob never showed as online on C');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      events.close();
    }
    for (let i = 0; (await onlineOnC()).includes(bobId); i++) {
      if (i > 300) throw new Error('bob still shows as online on C after closing his console on A');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
