import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hashPassword } from '../../src/agent/accounts.js';
import { openAgentDirectory, type AgentDirectory } from '../../src/agent/directory.js';
import { SESSIONS_FILE } from '../../src/agent/sessions.js';
import { Database } from '../../src/storage/postgres/database.js';
import { createFixture, type Fixture } from '../handoff/helpers.js';
import { usePostgres } from '../helpers/postgres.js';
import { PASSWORD, SESSION_TTL_MS, startAgentApi, type AgentApiServer } from './helpers.js';

const CLI = fileURLToPath(new URL('../../src/agent/cli.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** `npm run agents -- ...args` in its own process, as an administrator runs it while the server is up. */
async function agentsCli(env: { DATA_DIR: string; DATABASE_URL?: string }, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: env.DATA_DIR, // no .env there: the backend is what this test says
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    timeout: 30_000,
  });
  return stdout;
}

/** Open event streams, aborted after each test (a server does not close while one is open). */
const streams = new Set<AbortController>();

/** Reads the agent event stream until the server ends it; resolves with everything it sent. */
async function openStream(api: AgentApiServer, token: string): Promise<{ hello: Promise<void>; ended: Promise<string>; abort(): void }> {
  const controller = new AbortController();
  const res = await fetch(`${api.url}/api/agent/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  expect(res.status).to.equal(200);
  let text = '';
  let helloSeen!: () => void;
  const hello = new Promise<void>((resolve) => (helloSeen = resolve));
  streams.add(controller);
  const ended = (async () => {
    for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (text.includes('event: hello')) helloSeen();
    }
    return text;
  })();
  return { hello, ended: ended.catch((err) => (controller.signal.aborted ? text : Promise.reject(err))), abort: () => controller.abort() };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Backend {
  open(f: Fixture): Promise<AgentDirectory & { close?(): Promise<void> }>;
  cliEnv(f: Fixture): { DATA_DIR: string; DATABASE_URL?: string };
  /** Several instances at once (PostgreSQL); files serve one server process, so "another" is the same one. */
  multiInstance: boolean;
}

/** The suite for one backend: `open` gives a directory over the backend's shared data (a new "process" each call). */
function sessionSuite(name: string, backend: () => Backend) {
  describe(`agent sessions: ${name}`, () => {
    let f: Fixture;
    const running: Array<{ close(): Promise<void> }> = [];
    /** Starts an agent API over a newly opened directory (another instance, or the server after a restart). */
    const instance = async () => {
      const directory = await backend().open(f);
      const api = await startAgentApi({ hub: f.hub, clock: f.clock, sessionRecheckMs: 20, ...directory });
      const handle = { api, directory, close: async () => (await api.close(), await directory.close?.()) };
      running.push(handle);
      return handle;
    };
    /** A second instance where the backend has them, else the first. */
    const other = async (first: Awaited<ReturnType<typeof instance>>) => (backend().multiInstance ? instance() : first);
    beforeEach(async () => {
      f = await createFixture();
      const first = await backend().open(f);
      await first.accounts.add('ada', PASSWORD, { displayName: 'Ada' });
      await first.accounts.add('bob', PASSWORD, { displayName: 'Bob' });
      await first.close?.();
    });
    afterEach(async () => {
      for (const c of streams) c.abort();
      streams.clear();
      for (const r of running.splice(0)) await r.close();
      await f.close();
    });

    it('keeps an agent signed in when the server restarts', async () => {
      const before = await instance();
      const token = await before.api.login('ada');
      await before.close();
      const after = await instance();
      const me = await after.api.call('GET', '/api/agent/me', token);
      expect(me.status).to.equal(200);
      expect(me.body.agent).to.include({ id: 'ada', name: 'Ada' });
      expect((await after.api.call('GET', '/api/agent/conversations', token)).status).to.equal(200);
    });

    if (backend().multiInstance) it('accepts on one instance a token issued by another', async () => {
      const a = await instance();
      const b = await instance();
      const token = await a.api.login('bob');
      expect((await b.api.call('GET', '/api/agent/me', token)).body.agent).to.include({ id: 'bob' });
    });

    it('ends a session at logout, on every instance', async () => {
      const a = await instance();
      const b = await other(a);
      const token = await a.api.login('ada');
      expect((await a.api.call('POST', '/api/agent/logout', token)).status).to.equal(200);
      for (const api of [a.api, b.api]) {
        const r = await api.call('GET', '/api/agent/me', token);
        expect(r.status).to.equal(401);
        expect(r.body).to.include({ code: 'Unauthorized', reason: 'unknown' });
      }
    });

    it('ends a live session when the agent is removed with npm run agents -- remove in another process', async () => {
      const a = await instance();
      const b = await other(a);
      const ada = await a.api.login('ada');
      const bob = await a.api.login('bob');
      const stream = await openStream(b.api, ada);
      await stream.hello;
      expect(await agentsCli(backend().cliEnv(f), 'remove', 'ada')).to.include('removed agent ada');
      for (const api of [a.api, b.api]) {
        const r = await api.call('GET', '/api/agent/conversations', ada);
        expect(r.status).to.equal(401);
        expect(r.body).to.include({ code: 'Unauthorized', reason: 'removed' });
        expect(r.body.message).to.include('account was removed');
      }
      await stream.ended; // the open event stream ends at its next session check
      const reconnect = await b.api.call('GET', '/api/agent/events', ada);
      expect(reconnect.status).to.equal(401);
      expect(reconnect.body.reason).to.equal('removed');
      expect((await a.api.call('GET', '/api/agent/me', bob)).status, 'another agent stays signed in').to.equal(200);
    });

    it('ends every session of an agent whose password is changed with npm run agents -- passwd, and the new password signs in', async () => {
      const a = await instance();
      const b = await other(a);
      const first = await a.api.login('ada');
      const second = await b.api.login('ada');
      const stream = await openStream(a.api, first);
      await stream.hello;
      expect(await agentsCli(backend().cliEnv(f), 'passwd', 'ada', '--password', 'a new secret')).to.include('changed the password of agent ada');
      for (const [api, token] of [[a.api, first], [b.api, second], [a.api, second]] as const) {
        const r = await api.call('GET', '/api/agent/me', token);
        expect(r.status).to.equal(401);
        expect(r.body.reason).to.equal('password-changed');
        expect(r.body.message).to.include('password was changed');
      }
      await stream.ended;
      expect((await b.api.call('POST', '/api/agent/login', undefined, { username: 'ada', password: PASSWORD })).status).to.equal(401);
      const fresh = await b.api.login('ada', 'a new secret');
      expect((await a.api.call('GET', '/api/agent/me', fresh)).status).to.equal(200);
    });

    it('does not bring an old session back when a removed agent is added again with the same password', async () => {
      const a = await instance();
      const token = await a.api.login('ada');
      await a.directory.accounts.remove('ada');
      await a.directory.accounts.add('ada', PASSWORD);
      const r = await a.api.call('GET', '/api/agent/me', token);
      expect(r.status).to.equal(401);
      expect((await a.api.call('GET', '/api/agent/me', await a.api.login('ada'))).status).to.equal(200);
    });

    it('still says a session expired after a restart', async () => {
      const before = await instance();
      const token = await before.api.login('ada');
      await before.close();
      f.clock.advance(SESSION_TTL_MS + 1);
      const r = await (await instance()).api.call('GET', '/api/agent/me', token);
      expect(r.status).to.equal(401);
      expect(r.body.reason).to.equal('expired');
    });
  });
}

sessionSuite('files in DATA_DIR', () => ({
  open: (f) => openAgentDirectory({ dataDir: f.dir, sessionTtlMs: SESSION_TTL_MS, clock: f.clock }),
  cliEnv: (f) => ({ DATA_DIR: f.dir }),
  multiInstance: false,
}));

describe('agent sessions file', () => {
  let f: Fixture;
  beforeEach(async () => (f = await createFixture()));
  afterEach(() => f.close());

  it('stores only a hash of each token in agent-sessions.json', async () => {
    const directory = await openAgentDirectory({ dataDir: f.dir, clock: f.clock });
    await directory.accounts.add('ada', PASSWORD);
    const api = await startAgentApi({ hub: f.hub, clock: f.clock, ...directory });
    try {
      const token = await api.login('ada');
      await directory.sessions.close?.();
      const file = await readFile(path.join(f.dir, SESSIONS_FILE), 'utf8');
      expect(file).to.not.include(token.slice('sbagent_'.length));
      expect(JSON.parse(file).sessions).to.have.property(sha256(token));
    } finally {
      await api.close();
    }
  });

  it('signs in with an agents.json written before sessions were kept, and keeps its shape', async () => {
    const account = { id: 'ada', name: 'Ada', teams: ['billing'], capacity: 2, passwordHash: await hashPassword(PASSWORD), createdAt: '2026-01-05T09:00:00.000Z' };
    await writeFile(path.join(f.dir, 'agents.json'), JSON.stringify({ agents: [account] }, null, 2));
    const directory = await openAgentDirectory({ dataDir: f.dir, clock: f.clock });
    const api = await startAgentApi({ hub: f.hub, clock: f.clock, ...directory });
    try {
      const me = await api.call('GET', '/api/agent/me', await api.login('ada'));
      expect(me.body.agent).to.deep.equal({ id: 'ada', name: 'Ada', teams: ['billing'], capacity: 2, createdAt: '2026-01-05T09:00:00.000Z' });
      await directory.accounts.add('bob', PASSWORD);
      const stored = JSON.parse(await readFile(path.join(f.dir, 'agents.json'), 'utf8'));
      expect(stored.agents[0]).to.deep.equal(account);
      expect(stored.agents[1]).to.have.all.keys('id', 'name', 'teams', 'capacity', 'passwordHash', 'createdAt');
    } finally {
      await api.close();
    }
  });
});

describe('agent sessions: PostgreSQL', function () {
  const pg = usePostgres();
  const opened: Database[] = [];
  beforeEach(() => pg.db.query('TRUNCATE agents, agent_sessions'));
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close();
  });

  sessionSuite('PostgreSQL', () => ({
    // Each call is its own pool: another instance of the server on the same database.
    open: async (f) => {
      const db = await Database.open(pg.url, { migrate: false, max: 3 });
      return { ...(await openAgentDirectory({ dataDir: f.dir, db, sessionTtlMs: SESSION_TTL_MS, clock: f.clock })), close: () => db.close() };
    },
    cliEnv: (f) => ({ DATA_DIR: f.dir, DATABASE_URL: pg.url }),
    multiInstance: true,
  }));

  it('stores only a hash of each token', async () => {
    const f = await createFixture();
    const directory = await openAgentDirectory({ dataDir: f.dir, db: pg.db, clock: f.clock });
    await directory.accounts.add('ada', PASSWORD);
    const api = await startAgentApi({ hub: f.hub, clock: f.clock, ...directory });
    try {
      const token = await api.login('ada');
      const { rows } = await pg.db.query('SELECT * FROM agent_sessions');
      expect(rows).to.have.length(1);
      expect(rows[0].token_hash).to.equal(sha256(token));
      expect(JSON.stringify(rows)).to.not.include(token.slice('sbagent_'.length));
    } finally {
      await api.close();
      await f.close();
    }
  });
});

describe('agent sessions while the database is down', () => {
  it('answers 503 JSON, not 500, and does not call the token unknown', async () => {
    const f = await createFixture();
    const db = await Database.open('postgres://postgres@127.0.0.1:1/none', { migrate: false, connectionTimeoutMillis: 1000 });
    const api = await startAgentApi({ hub: f.hub, clock: f.clock, ...(await openAgentDirectory({ dataDir: f.dir, db })) });
    try {
      const r = await api.call('GET', '/api/agent/me', 'sbagent_whatever');
      expect(r.status).to.equal(503);
      expect(r.body).to.include({ code: 'DatabaseUnavailable' });
      const login = await api.call('POST', '/api/agent/login', undefined, { username: 'ada', password: PASSWORD });
      expect(login.status).to.equal(503);
    } finally {
      await api.close();
      await db.close();
      await f.close();
    }
  });
});
