/**
 * Access audit. Every route the running app registers must be in ROUTES with a decision (public,
 * signed webhook, agent session, Direct Line credential), so a route added without one fails here.
 * Every agent route refuses a missing, expired or forged session and a Direct Line token; a Direct
 * Line token reaches only its own conversation, on every conversation route and on the WebSocket stream.
 */
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { fixedClock } from '../../src/clock.js';
import { rawRequest, SECRETS, startHarness, type Harness } from './harness.js';

type Access = 'public' | 'meta-signature' | 'agent-session' | 'directline';

/** The decision for each route: `METHOD path` as restify registered it. */
const ROUTES: Record<string, Access> = {
  'GET /healthz': 'public',
  'GET /': 'public',
  'GET /assets/demo.js': 'public',
  'GET /assets/demo.css': 'public',
  'GET /assets/webchat.js': 'public',
  'POST /api/webchat/token': 'public', // the demo site's backend job; rate-limited per address
  'GET /agent': 'public',
  'GET /agent/': 'public',
  'GET /agent/:file': 'public', // static console files only (an allowlist)
  'POST /api/agent/login': 'public', // rate-limited per address; wrong passwords limited per name and address, and per name
  'GET /webhooks/messenger': 'meta-signature', // verify token
  'POST /webhooks/messenger': 'meta-signature',
  'GET /webhooks/whatsapp': 'meta-signature',
  'POST /webhooks/whatsapp': 'meta-signature',
  'OPTIONS /v3/directline/*': 'public', // CORS preflight only
  'POST /v3/directline/tokens/generate': 'directline',
  'POST /v3/directline/tokens/refresh': 'directline',
  'POST /v3/directline/conversations': 'directline',
  'GET /v3/directline/conversations/:conversationId': 'directline',
  'GET /v3/directline/conversations/:conversationId/activities': 'directline',
  'POST /v3/directline/conversations/:conversationId/activities': 'directline',
  'POST /v3/directline/conversations/:conversationId/upload': 'directline',
  'GET /v3/directline/conversations/:conversationId/attachments/:mediaId': 'directline', // the conversation's token, or a signed short-lived link
  'GET /v3/directline/*': 'public', // unknown Direct Line paths: 404 NotFound only
  'POST /v3/directline/*': 'public',
  'PUT /v3/directline/*': 'public', // wrong methods: 405 MethodNotAllowed only
  'PATCH /v3/directline/*': 'public',
  'DELETE /v3/directline/*': 'public',
  'HEAD /v3/directline/*': 'public',
  'GET /metrics': 'public', // METRICS_TOKEN when set, else loopback only (tests/ops/metrics.test.ts)
  'POST /api/agent/conversations/:id/attachments': 'agent-session',
  'GET /api/agent/analytics': 'agent-session',
  'POST /api/agent/logout': 'agent-session',
  'GET /api/agent/me': 'agent-session',
  'GET /api/agent/agents': 'agent-session',
  'GET /api/agent/conversations': 'agent-session',
  'GET /api/agent/conversations/:id': 'agent-session',
  'GET /api/agent/media/:id': 'agent-session',
  'POST /api/agent/conversations/:id/claim': 'agent-session',
  'POST /api/agent/conversations/:id/messages': 'agent-session',
  'POST /api/agent/conversations/:id/typing': 'agent-session',
  'POST /api/agent/conversations/:id/resolve': 'agent-session',
  'POST /api/agent/conversations/:id/transfer': 'agent-session',
  'POST /api/agent/conversations/:id/notes': 'agent-session',
  'GET /api/agent/knowledge': 'agent-session',
  'GET /api/agent/knowledge/search': 'agent-session',
  'GET /api/agent/events': 'agent-session',
};

const routesOf = (decision: Access) => Object.keys(ROUTES).filter((k) => ROUTES[k] === decision);
const fill = (path: string, id: string) => path.replace(/:id|:conversationId/g, id);

describe('access audit', function () {
  this.timeout(60_000);
  const clock = fixedClock(new Date());
  let h: Harness;

  before(async () => {
    h = await startHarness({ clock });
  });
  after(async () => h?.close());

  async function login(): Promise<string> {
    const r = await rawRequest(h.url, 'POST', '/api/agent/login', { 'content-type': 'application/json' }, JSON.stringify({ username: 'ada', password: SECRETS.password }));
    expect(r.status, r.text).to.equal(200);
    return JSON.parse(r.text).token;
  }

  it('has a recorded access decision for every registered route, and registers every recorded one', () => {
    const registered = Object.values(h.app.server.router.getRoutes()).map((r) => `${r.spec.method} ${r.spec.path}`);
    expect(registered.filter((r) => !(r in ROUTES)), 'routes without an access decision: add them to ROUTES').to.deep.equal([]);
    expect(Object.keys(ROUTES).filter((r) => !registered.includes(r)), 'ROUTES entries no longer registered').to.deep.equal([]);
  });

  it('refuses every agent route without a session, with an expired, a forged or a Direct Line token', async () => {
    const expired = await login();
    clock.advance(9 * 60 * 60 * 1000); // past the 8 h session
    const valid = await login();
    const forged = [valid.slice(0, -2) + (valid.endsWith('AA') ? 'BB' : 'AA'), Buffer.from('ada:admin').toString('base64url'), 'null', valid + 'x'];
    const directLine = h.webchat.generateToken().token;
    const credentials: [string, Record<string, string>][] = [
      ['missing', {}],
      ['empty bearer', { authorization: 'Bearer ' }],
      ['expired', { authorization: `Bearer ${expired}` }],
      ...forged.map((f, i): [string, Record<string, string>] => [`forged ${i}`, { authorization: `Bearer ${f}` }]),
      ['Direct Line token', { authorization: `Bearer ${directLine}` }],
      ['Direct Line secret', { authorization: `Bearer ${SECRETS.directLine}` }],
      ['session as Basic', { authorization: `Basic ${valid}` }],
    ];
    const routes = routesOf('agent-session');
    expect(routes.length).to.be.greaterThan(10);
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      for (const [label, headers] of credentials) {
        const r = await rawRequest(h.url, method, fill(path, 'webchat:someone'), { ...headers, 'content-type': 'application/json' }, method === 'POST' ? '{"text":"hi","agentId":"ada"}' : undefined);
        expect(r.status, `${route} with ${label}: ${r.text}`).to.equal(401);
        expect(JSON.parse(r.text).code, route).to.equal('Unauthorized');
      }
      // The same route with the valid session gets past authentication (so the 401s above are about the credential).
      if (route !== 'GET /api/agent/events' && route !== 'POST /api/agent/logout') {
        const ok = await rawRequest(h.url, method, fill(path, 'webchat:someone'), { authorization: `Bearer ${valid}`, 'content-type': 'application/json' }, method === 'POST' ? '{"text":"hi","agentId":"ada"}' : undefined);
        expect(ok.status, `${route} with a valid session: ${ok.text}`).not.to.equal(401);
      }
    }
  });

  describe('Direct Line tokens', () => {
    let mine: { conversationId: string; token: string };
    let theirs: { conversationId: string; token: string };

    before(async () => {
      mine = h.webchat.generateToken({ id: 'customer-a' });
      theirs = h.webchat.generateToken({ id: 'customer-b' });
      for (const t of [mine, theirs]) {
        const r = await rawRequest(h.url, 'POST', '/v3/directline/conversations', { authorization: `Bearer ${t.token}` });
        expect(r.status, r.text).to.equal(201);
      }
      const said = await rawRequest(h.url, 'POST', `/v3/directline/conversations/${theirs.conversationId}/activities`, { authorization: `Bearer ${theirs.token}`, 'content-type': 'application/json' }, JSON.stringify({ type: 'message', text: 'my account number is 12345' }));
      expect(said.status, said.text).to.equal(200);
    });

    it('reaches only its own conversation on every conversation route', async () => {
      // The attachments route is covered by tests/media/webchat-upload.test.ts (another conversation's file is a 404).
      const routes = routesOf('directline').filter((r) => r.includes(':conversationId') && !r.includes('/attachments/'));
      expect(routes).to.have.length(4);
      for (const route of routes) {
        const [method, path] = route.split(' ') as [string, string];
        const body = method === 'POST' ? JSON.stringify({ type: 'message', text: 'hello' }) : undefined;
        const headers = { authorization: `Bearer ${mine.token}`, 'content-type': 'application/json' };
        const other = await rawRequest(h.url, method, fill(path, theirs.conversationId), headers, body);
        expect(other.status, `${route} on another conversation: ${other.text}`).to.equal(403);
        expect(other.text).not.to.include('12345');
        const own = await rawRequest(h.url, method, fill(path, mine.conversationId), headers, body);
        expect(own.status, `${route} on its own conversation: ${own.text}`).to.be.oneOf(route.endsWith('/upload') ? [415] : [200]);
      }
    });

    it('starts, refreshes and reconnects only its own conversation', async () => {
      const started = await rawRequest(h.url, 'POST', '/v3/directline/conversations', { authorization: `Bearer ${mine.token}` });
      expect(JSON.parse(started.text).conversationId).to.equal(mine.conversationId);
      const refreshed = await rawRequest(h.url, 'POST', '/v3/directline/tokens/refresh', { authorization: `Bearer ${mine.token}` });
      expect(JSON.parse(refreshed.text).conversationId).to.equal(mine.conversationId);
      const minted = await rawRequest(h.url, 'POST', '/v3/directline/tokens/generate', { authorization: `Bearer ${mine.token}` });
      expect(minted.status, 'a token cannot mint tokens for other conversations').to.equal(403);
    });

    it('refuses missing, expired, forged and agent credentials on every Direct Line route', async () => {
      const session = await login();
      const expired = h.webchat.generateToken().token;
      clock.advance(2 * 60 * 60 * 1000); // past the 1 h token
      const forged = mine.token.slice(0, -2) + (mine.token.endsWith('AA') ? 'BB' : 'AA');
      const cases: [string, Record<string, string>, number][] = [
        ['missing', {}, 401],
        ['expired', { authorization: `Bearer ${expired}` }, 403],
        ['forged', { authorization: `Bearer ${forged}` }, 403],
        ['agent session', { authorization: `Bearer ${session}` }, 403],
      ];
      for (const route of routesOf('directline')) {
        const [method, path] = route.split(' ') as [string, string];
        for (const [label, headers, status] of cases) {
          const r = await rawRequest(h.url, method, fill(path, theirs.conversationId), { ...headers, 'content-type': 'application/json' }, method === 'POST' ? '{"type":"message","text":"x"}' : undefined);
          expect(r.status, `${route} with ${label}: ${r.text}`).to.equal(status);
          expect(r.text).not.to.include('12345');
        }
      }
    });

    it('opens the WebSocket stream only for the conversation its token belongs to', async () => {
      const a = h.webchat.generateToken({ id: 'customer-c' });
      const started = JSON.parse((await rawRequest(h.url, 'POST', '/v3/directline/conversations', { authorization: `Bearer ${a.token}` })).text) as { streamUrl: string };
      const own = new URL(started.streamUrl);
      const foreign = new URL(started.streamUrl);
      foreign.pathname = foreign.pathname.replace(a.conversationId, theirs.conversationId);
      const expired = new URL(started.streamUrl);
      expired.searchParams.set('t', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.x');
      const missing = new URL(started.streamUrl);
      missing.searchParams.delete('t');
      const session = await login();
      const agent = new URL(started.streamUrl);
      agent.searchParams.set('t', session);
      for (const [label, url] of [['another conversation', foreign], ['a forged token', expired], ['no token', missing], ['an agent session', agent]] as const) {
        expect(await upgradeStatus(url.toString()), label).to.equal(403);
      }
      expect(await upgradeStatus(own.toString()), 'its own conversation').to.equal(101);
    });
  });
});

/** 101 when the socket opens, else the HTTP status of the refusal. */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', (err) => reject(err));
  });
}
