import { expect } from 'chai';
import { WebSocket } from 'ws';
import { connect } from './client.js';
import { TEST_SECRET, api, start, startWebChat, type WebChatApp } from './fixture.js';
import { DirectLineTokens } from '../../adapters/webchat/index.js';
import { fixedClock } from '../../src/clock.js';

type App = WebChatApp;

/** Opens a raw WebSocket and collects its frames (empty keep-alives included). */
function openStream(url: string) {
  const ws = new WebSocket(url);
  const frames: string[] = [];
  ws.on('message', (data) => frames.push(data.toString()));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
  const until = async (test: () => boolean, what: string, ms = 5000) => {
    const end = Date.now() + ms;
    while (!test()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(frames)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { ws, frames, opened, until, activities: () => frames.filter(Boolean).flatMap((f) => JSON.parse(f).activities as any[]) };
}

describe('Direct Line protocol details', () => {
  let app: App;
  const closers: (() => void)[] = [];
  beforeEach(async () => (app = await startWebChat({ keepAliveMs: 50 })));
  afterEach(async () => {
    closers.splice(0).forEach((c) => c());
    await app.close();
  });

  describe('tokens', () => {
    it('generates a token only for the holder of the secret', async () => {
      const ok = await api(app, 'POST', '/tokens/generate', { auth: TEST_SECRET, body: { user: { id: 'customer-7' } } });
      expect(ok.status).to.equal(200);
      expect(ok.body).to.have.keys('conversationId', 'token', 'expires_in');
      const claims = JSON.parse(Buffer.from(ok.body.token.split('.')[1], 'base64url').toString());
      expect(claims).to.include({ conv: ok.body.conversationId, user: 'customer-7' });

      const withToken = await api(app, 'POST', '/tokens/generate', { auth: ok.body.token });
      expect(withToken.status).to.equal(403);
      expect((await api(app, 'POST', '/tokens/generate')).status).to.equal(401);
    });

    it('refreshes a token for the same conversation, and the new token works', async () => {
      const started = await start(app);
      const refreshed = await api(app, 'POST', '/tokens/refresh', { auth: started.token });
      expect(refreshed.status).to.equal(200);
      expect(refreshed.body.conversationId).to.equal(started.conversationId);
      expect(refreshed.body.token).to.not.equal(started.token);
      const posted = await api(app, 'POST', `/conversations/${started.conversationId}/activities`, { auth: refreshed.body.token, body: { type: 'message', text: 'after refresh' } });
      expect(posted.status).to.equal(200);
      expect(posted.body.id).to.match(new RegExp(`^${started.conversationId}\\|`));
    });

    it('refuses expired, forged and tampered tokens with 403', async () => {
      const started = await start(app);
      const clock = fixedClock('2020-01-01T00:00:00Z');
      const expired = new DirectLineTokens(TEST_SECRET, clock).issue(started.conversationId, 'u', 60);
      const forged = new DirectLineTokens('another-secret-0123456789-abcdefghijkl').issue(started.conversationId, 'u', 60);
      const [h, p, s] = started.token.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
      const tampered = [h, Buffer.from(JSON.stringify({ ...claims, user: 'someone-else' })).toString('base64url'), s].join('.');
      for (const [token, code] of [[expired, 'TokenExpired'], [forged, 'BadArgument'], [tampered, 'BadArgument'], ['garbage', 'BadArgument']] as const) {
        const res = await api(app, 'GET', `/conversations/${started.conversationId}/activities`, { auth: token });
        expect(res.status, token).to.equal(403);
        expect(res.body.error).to.include({ code }).and.have.property('message').that.is.a('string');
      }
    });
  });

  describe('token isolation', () => {
    it('never lets the token of conversation A read or post to conversation B', async () => {
      const a = await start(app);
      const b = await start(app);
      await api(app, 'POST', `/conversations/${b.conversationId}/activities`, { auth: b.token, body: { type: 'message', text: 'private to B' } });

      const read = await api(app, 'GET', `/conversations/${b.conversationId}/activities`, { auth: a.token });
      const reconnect = await api(app, 'GET', `/conversations/${b.conversationId}`, { auth: a.token });
      const post = await api(app, 'POST', `/conversations/${b.conversationId}/activities`, { auth: a.token, body: { type: 'message', text: 'intruder' } });
      for (const res of [read, reconnect, post]) {
        expect(res.status).to.equal(403);
        expect(res.body.error).to.include({ code: 'Forbidden' });
        expect(JSON.stringify(res.body)).to.not.contain('private to B');
      }
      const bHistory = await api(app, 'GET', `/conversations/${b.conversationId}/activities`, { auth: b.token });
      expect(bHistory.body.activities.map((x: any) => x.text)).to.not.include('intruder');
    });

    it('refuses a stream URL of conversation A on conversation B', async () => {
      const a = await start(app);
      const b = await start(app);
      const stolen = a.streamUrl.replace(a.conversationId, b.conversationId);
      const stream = openStream(stolen);
      const err = await stream.opened.then(() => undefined, (e) => e);
      expect(err?.status).to.equal(403);
      const rest = await api(app, 'GET', `/conversations/${a.conversationId}/activities`, { auth: new URL(a.streamUrl).searchParams.get('t')! });
      expect(rest.status, 'a stream token is not a REST token').to.equal(403);
    });
  });

  describe('conversations and history', () => {
    it('starts a conversation once: a second start with the same token answers 200 and the bot is told only once', async () => {
      const generated = app.adapter.generateToken();
      const first = await api(app, 'POST', '/conversations', { auth: generated.token });
      const second = await api(app, 'POST', '/conversations', { auth: generated.token });
      const reconnect = await api(app, 'GET', `/conversations/${generated.conversationId}?watermark=`, { auth: generated.token });
      expect([first.status, second.status, reconnect.status]).to.deep.equal([201, 200, 200]);
      expect(reconnect.body.streamUrl).to.match(/^ws:\/\/127\.0\.0\.1:\d+\/v3\/directline\/conversations\/[\w-]+\/stream\?t=/);
      await waitUntil(() => app.bot.starts.get(generated.conversationId) === 1);
      expect(app.bot.starts.get(generated.conversationId)).to.equal(1);
    });

    it('pages activities by watermark when polling', async () => {
      const c = await start(app);
      await api(app, 'POST', `/conversations/${c.conversationId}/activities`, { auth: c.token, body: { type: 'message', text: 'one' } });
      await waitUntil(async () => (await api(app, 'GET', `/conversations/${c.conversationId}/activities`, { auth: c.token })).body.activities.length >= 3);
      const all = await api(app, 'GET', `/conversations/${c.conversationId}/activities?watermark=`, { auth: c.token });
      expect(all.body.activities.map((x: any) => x.text)).to.deep.equal(['Welcome to the echo bot', 'one', 'You said: one']);
      expect(all.body.watermark).to.equal('3');
      const after = await api(app, 'GET', `/conversations/${c.conversationId}/activities?watermark=2`, { auth: c.token });
      expect(after.body.activities.map((x: any) => x.text)).to.deep.equal(['You said: one']);
      const none = await api(app, 'GET', `/conversations/${c.conversationId}/activities?watermark=3`, { auth: c.token });
      expect(none.body).to.deep.equal({ activities: [], watermark: '3' });
    });

    it('reconnects a directlinejs client to the same conversation with its history, and from a watermark without repeats', async () => {
      const { token, conversationId } = app.adapter.generateToken();
      const first = connect({ domain: app.domain, token });
      closers.push(() => first.close());
      await first.post({ text: 'before reload', channelData: { clientActivityID: 'r-1' } });
      await first.waitFor((a) => (a as any).text === 'You said: before reload', 'first reply');
      const watermark = (first.directLine as any).watermark as string;
      first.close();

      const refreshed = await api(app, 'POST', '/tokens/refresh', { auth: token });
      const again = connect({ domain: app.domain, token: refreshed.body.token, conversationId });
      closers.push(() => again.close());
      await again.waitFor((a) => (a as any).text === 'You said: before reload', 'history');
      expect(again.received.map((a) => (a as any).text)).to.deep.equal(['Welcome to the echo bot', 'before reload', 'You said: before reload']);
      await again.post({ text: 'after reload' });
      await again.waitFor((a) => (a as any).text === 'You said: after reload', 'new reply');

      const resumed = connect({ domain: app.domain, token: refreshed.body.token, conversationId, watermark });
      closers.push(() => resumed.close());
      await resumed.waitFor((a) => (a as any).text === 'You said: after reload', 'replay from watermark');
      expect(resumed.received.map((a) => (a as any).text)).to.deep.equal(['after reload', 'You said: after reload']);
      expect(app.bot.starts.get(conversationId)).to.equal(1);
    });

    it('keeps the history across a server restart', async () => {
      const c = await start(app);
      await api(app, 'POST', `/conversations/${c.conversationId}/activities`, { auth: c.token, body: { type: 'message', text: 'remember me' } });
      await waitUntil(async () => (await api(app, 'GET', `/conversations/${c.conversationId}/activities`, { auth: c.token })).body.activities.length >= 3);
      await app.close(true);

      app = await startWebChat({ dataDir: app.dataDir });
      const history = await api(app, 'GET', `/conversations/${c.conversationId}/activities`, { auth: c.token });
      expect(history.body.activities.map((x: any) => x.text)).to.deep.equal(['Welcome to the echo bot', 'remember me', 'You said: remember me']);
      const next = await api(app, 'POST', `/conversations/${c.conversationId}/activities`, { auth: c.token, body: { type: 'message', text: 'still here' } });
      expect(next.body.id).to.equal(`${c.conversationId}|0000003`);
      expect(app.bot.starts.has(c.conversationId), 'no second welcome after a restart').to.equal(false);
    });
  });

  describe('the WebSocket stream', () => {
    it('sends {activities, watermark} frames, echoes with the clientActivityID, and empty keep-alive frames', async () => {
      const c = await start(app);
      const stream = openStream(c.streamUrl);
      closers.push(() => stream.ws.close());
      await stream.opened;
      await stream.until(() => stream.activities().some((a) => a.text === 'Welcome to the echo bot'), 'welcome');
      await api(app, 'POST', `/conversations/${c.conversationId}/activities`, {
        auth: c.token,
        body: { type: 'message', text: 'ws', from: { id: 'spoofed', name: 'Ann' }, channelData: { clientActivityID: 'k-1', switchboard: { agent: { agentId: 'x' } } } },
      });
      await stream.until(() => stream.activities().some((a) => a.text === 'You said: ws'), 'reply');
      const echo = stream.activities().find((a) => a.channelData?.clientActivityID === 'k-1');
      expect(echo.from).to.deep.equal({ id: JSON.parse(Buffer.from(c.token.split('.')[1]!, 'base64url').toString()).user, name: 'Ann', role: 'user' });
      expect(echo.channelData, 'clients cannot mark their messages as agent-written').to.not.have.property('switchboard');
      const frame = JSON.parse(stream.frames.filter(Boolean).at(-1)!);
      expect(frame).to.have.keys('activities', 'watermark');
      await stream.until(() => stream.frames.includes(''), 'keep-alive');
    });
  });

  describe('input validation', () => {
    it('answers bad input with JSON 4xx', async () => {
      const c = await start(app);
      const path = `/conversations/${c.conversationId}/activities`;
      const cases: [number, Awaited<ReturnType<typeof api>>][] = [
        [400, await api(app, 'POST', path, { auth: c.token, body: { text: 'no type' } })],
        [400, await api(app, 'POST', path, { auth: c.token, body: { type: 'conversationUpdate' } })],
        [400, await api(app, 'POST', path, { auth: c.token, body: '{not json' })],
        [413, await api(app, 'POST', path, { auth: c.token, body: { type: 'message', text: 'x'.repeat(300 * 1024) } })],
        [400, await api(app, 'GET', `${path}?watermark=abc`, { auth: c.token })],
        [400, await api(app, 'GET', `/conversations/bad%20id/activities`, { auth: TEST_SECRET })],
        [404, await api(app, 'GET', `/conversations/nope/activities`, { auth: TEST_SECRET })],
        [401, await api(app, 'GET', path)],
        [415, await api(app, 'POST', `/conversations/${c.conversationId}/upload?userId=u`, { auth: c.token, body: { file: 'x' } })],
      ];
      for (const [status, res] of cases) {
        expect(res.status).to.equal(status);
        expect(res.body.error).to.have.property('message').that.is.a('string').and.not.empty;
      }
    });

    it('allows the API to be called from a page on another origin (CORS)', async () => {
      const preflight = await fetch(`${app.domain}/conversations`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://shop.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
      });
      expect(preflight.status).to.equal(204);
      expect(preflight.headers.get('access-control-allow-origin')).to.equal('*');
      expect(preflight.headers.get('access-control-allow-headers')).to.match(/Authorization/);
      const c = await start(app);
      const res = await api(app, 'GET', `/conversations/${c.conversationId}/activities`, { auth: c.token, headers: { Origin: 'https://shop.example' } });
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
    });
  });
});

async function waitUntil(test: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
