import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { ConnectionStatus, connect } from './client.js';
import { TEST_SECRET, api, start, startWebChat, type WebChatApp } from './fixture.js';
import { DirectLineTokens, FileConversationStore } from '../../adapters/webchat/index.js';
import restifyErrors from 'restify-errors';
import { StoreUnavailableError } from '../../src/engine/errors.js';
import { toDirectLineError } from '../../adapters/webchat/errors.js';
import { RateLimiter } from '../../src/security/rate-limit.js';
import { fixedClock } from '../../src/clock.js';

type App = WebChatApp;

/** Asserts Direct Line's ErrorResponse: `{"error": {"code", "message"}}` and nothing else. */
function expectDirectLineError(res: { status: number; body: any }, status: number, code: string, what: string) {
  expect(res.status, `${what}: ${JSON.stringify(res.body)}`).to.equal(status);
  expect(res.body, what).to.have.all.keys('error');
  expect(res.body.error, what).to.have.all.keys('code', 'message');
  expect(res.body.error.code, what).to.equal(code);
  expect(res.body.error.message, what).to.be.a('string').and.not.empty;
}

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());

/** Opens a WebSocket the server must refuse, and gives the refusal's status and body. */
function refusedStream(url: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    ws.once('open', () => reject(new Error(`the stream ${url} opened`)));
    ws.once('error', () => undefined);
  });
}

describe('Direct Line errors and limits as documented', () => {
  let app: App;
  const closers: (() => void | Promise<void>)[] = [];
  const removals: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await app?.close();
    for (const r of removals.splice(0)) await r(); // after the app has stopped writing
  });

  describe('error bodies {"error": {"code", "message"}}', () => {
    beforeEach(async () => (app = await startWebChat()));

    it('names what is wrong with a request in Direct Line codes on every route', async () => {
      const c = await start(app);
      const activities = `/conversations/${c.conversationId}/activities`;
      const forged = new DirectLineTokens('another-secret-0123456789-abcdefghijkl').issue(c.conversationId, 'u', 60);
      const other = await start(app);
      const cases: [number, string, string, Awaited<ReturnType<typeof api>>][] = [
        [404, 'NotFound', 'unknown conversation', await api(app, 'GET', '/conversations/nope/activities', { auth: TEST_SECRET })],
        [404, 'NotFound', 'unknown conversation, reconnect', await api(app, 'GET', '/conversations/nope', { auth: TEST_SECRET })],
        [400, 'BadArgument', 'bad conversation id', await api(app, 'GET', '/conversations/bad%20id/activities', { auth: TEST_SECRET })],
        [400, 'MissingProperty', 'activity without a type', await api(app, 'POST', activities, { auth: c.token, body: { text: 'no type' } })],
        [400, 'BadArgument', 'reserved activity type', await api(app, 'POST', activities, { auth: c.token, body: { type: 'conversationUpdate' } })],
        [400, 'BadSyntax', 'body that is not JSON', await api(app, 'POST', activities, { auth: c.token, body: '{not json' })],
        [400, 'BadArgument', 'bad watermark', await api(app, 'GET', `${activities}?watermark=abc`, { auth: c.token })],
        [413, 'MessageSizeTooBig', 'body over the limit', await api(app, 'POST', activities, { auth: c.token, body: { type: 'message', text: 'x'.repeat(300 * 1024) } })],
        [415, 'UnsupportedMediaType', 'body that is not JSON by type', await api(app, 'POST', activities, { auth: c.token, body: 'type=message', headers: { 'Content-Type': 'text/plain' } })],
        [401, 'BadArgument', 'no credential', await api(app, 'GET', activities)],
        [403, 'BadArgument', 'a token this server never signed', await api(app, 'POST', activities, { auth: forged, body: { type: 'message', text: 'hi' } })],
        [403, 'Forbidden', "another conversation's token", await api(app, 'POST', activities, { auth: other.token, body: { type: 'message', text: 'hi' } })],
        [403, 'Forbidden', 'secret-only route with a token', await api(app, 'POST', '/tokens/generate', { auth: c.token })],
        [403, 'Forbidden', 'refresh with the secret', await api(app, 'POST', '/tokens/refresh', { auth: TEST_SECRET })],
        [403, 'Forbidden', 'a stream token on the REST API', await api(app, 'GET', activities, { auth: new URL(c.streamUrl).searchParams.get('t')! })],
        [404, 'NotFound', 'a path that is no route', await api(app, 'GET', '/nothing/here', { auth: c.token })],
        [405, 'MethodNotAllowed', 'a route with the wrong method', await api(app, 'GET', '/tokens/generate', { auth: TEST_SECRET })],
        [405, 'MethodNotAllowed', 'DELETE on activities', await api(app, 'DELETE', activities, { auth: c.token })],
      ];
      for (const [status, code, what, res] of cases) expectDirectLineError(res, status, code, what);
      const wrongMethod = cases.find(([, , what]) => what === 'a route with the wrong method')![3];
      expect(wrongMethod.headers.get('allow')).to.match(/POST/);
    });

    it('answers an upload it cannot take with 415 in the same shape', async () => {
      const c = await start(app);
      const res = await api(app, 'POST', `/conversations/${c.conversationId}/upload?userId=u`, { auth: c.token, body: { file: 'x' } });
      expectDirectLineError(res, 415, 'UnsupportedMediaType', 'upload');
    });

    it('refuses a WebSocket with a bad stream token in the same shape', async () => {
      const c = await start(app);
      const other = await start(app);
      const stolen = other.streamUrl.replace(other.conversationId, c.conversationId);
      expectDirectLineError(await refusedStream(stolen), 403, 'Forbidden', 'stream of another conversation');
    });

    it('keeps the status of an error raised on purpose, its Direct Line code when it names one, and hides an unexpected one', () => {
      const named = toDirectLineError(new restifyErrors.ForbiddenError({ code: 'TokenExpired' }, 'attachment link expired'));
      expect([named.statusCode, named.toJSON()]).to.deep.equal([403, { error: { code: 'TokenExpired', message: 'attachment link expired' } }]);
      const big = toDirectLineError(new restifyErrors.PayloadTooLargeError('too big'));
      expect([big.statusCode, big.code]).to.deep.equal([413, 'MessageSizeTooBig']);
      const unexpected = toDirectLineError(new Error('ENOENT: open /srv/data/secret.json'));
      expect([unexpected.statusCode, unexpected.code]).to.deep.equal([500, 'ServiceError']);
      expect(unexpected.message).to.not.contain('ENOENT');
    });

    it('leaves the error shape of routes outside Direct Line as it was', async () => {
      const res = await fetch(`${app.url}/not-direct-line`);
      const body = await res.json();
      expect(res.status).to.equal(404);
      expect(body).to.have.property('code').that.is.a('string');
      expect(body).to.not.have.property('error');
    });
  });

  it('says TokenExpired for a token that has run out, on REST and on the stream', async () => {
    const clock = fixedClock(new Date());
    app = await startWebChat({ clock, tokenTtlSeconds: 60, streamUrlTtlSeconds: 60 });
    const c = await start(app);
    clock.advance(61_000);
    const activities = `/conversations/${c.conversationId}/activities`;
    expectDirectLineError(await api(app, 'GET', activities, { auth: c.token }), 403, 'TokenExpired', 'GET with an expired token');
    expectDirectLineError(await api(app, 'POST', activities, { auth: c.token, body: { type: 'message', text: 'late' } }), 403, 'TokenExpired', 'POST');
    expectDirectLineError(await api(app, 'POST', '/tokens/refresh', { auth: c.token }), 403, 'TokenExpired', 'refresh');
    expectDirectLineError(await refusedStream(c.streamUrl), 403, 'TokenExpired', 'stream URL');

  });

  it('lets a directlinejs client whose token ran out go on once the site hands it a fresh one', async () => {
    const clock = fixedClock('2026-12-01T10:00:00Z');
    app = await startWebChat({ clock, tokenTtlSeconds: 60 });
    const { token, conversationId } = app.adapter.generateToken();
    const client = connect({ domain: app.domain, token });
    closers.push(() => client.close());
    await client.waitFor((a) => (a as any).text === 'Welcome to the echo bot', 'welcome');
    clock.advance(61_000);
    // The 403 reads as "token expired": the post does not go out, and the client waits for a new token.
    expect(await client.post({ text: 'after expiry' })).to.equal('retry');
    expect(client.directLine.connectionStatus$.getValue()).to.equal(ConnectionStatus.ExpiredToken);
    const fresh = await api(app, 'GET', `/conversations/${conversationId}`, { auth: TEST_SECRET });
    client.directLine.reconnect(fresh.body);
    expect(client.directLine.connectionStatus$.getValue()).to.equal(ConnectionStatus.Online);
    await client.post({ text: 'with a fresh token' });
    await client.waitFor((a) => (a as any).text === 'You said: with a fresh token', 'reply');
    expect(client.received.map((a) => (a as any).text)).to.not.include('after expiry');
  });

  it('answers 503 ServiceError when storage is down, so the client sends again', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'webchat-down-'));
    removals.push(() => rm(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }));
    class DownStore extends FileConversationStore {
      override async getConversation(): Promise<never> {
        throw new StoreUnavailableError('the database is unreachable');
      }
    }
    app = await startWebChat({ dataDir, store: new DownStore({ dir: path.join(dataDir, 'webchat') }) });
    const { conversationId } = app.adapter.generateToken();
    const res = await api(app, 'GET', `/conversations/${conversationId}/activities`, { auth: TEST_SECRET });
    expectDirectLineError(res, 503, 'ServiceError', 'storage outage');
    expect(res.body.error.message).to.not.contain('unreachable'); // the cause stays in the log
  });

  describe('who the user is: the docs’ casing, and e-mail and phone from the site’s backend', () => {
    beforeEach(async () => (app = await startWebChat()));

    it('honours {"User": {"Id", "Name"}} from tokens/generate: the client’s activities come from that user', async () => {
      const generated = await api(app, 'POST', '/tokens/generate', { auth: TEST_SECRET, body: { User: { Id: 'u1', Name: 'Kim' } } });
      expect(generated.status).to.equal(200);
      const client = connect({ domain: app.domain, token: generated.body.token });
      closers.push(() => client.close());
      await client.post({ text: 'hello', from: { id: 'someone-else' }, channelData: { clientActivityID: 'kim-1' } });
      const echo = await client.waitFor((a) => a.channelData?.clientActivityID === 'kim-1', 'echo');
      expect(echo.from).to.include({ id: 'u1', name: 'Kim' });
      await client.waitFor((a) => (a as any).text === 'You said: hello', 'reply');
    });

    it('honours {"User": {"Id", "Name"}} on POST conversations with the secret', async () => {
      const started = await api(app, 'POST', '/conversations', { auth: TEST_SECRET, body: { User: { Id: 'u1', Name: 'Kim' } } });
      expect(started.status).to.equal(201);
      expect(claimsOf(started.body.token)).to.include({ user: 'u1', name: 'Kim' });
      const posted = await api(app, 'POST', `/conversations/${started.body.conversationId}/activities`, { auth: started.body.token, body: { type: 'message', text: 'hi' } });
      expect(posted.status).to.equal(200);
      const history = await api(app, 'GET', `/conversations/${started.body.conversationId}/activities`, { auth: started.body.token });
      expect(history.body.activities.find((a: any) => a.text === 'hi').from).to.include({ id: 'u1', name: 'Kim' });
    });

    it('keeps e-mail and phone from the secret in every token of the conversation, and refuses them from a token holder', async () => {
      const generated = await api(app, 'POST', '/tokens/generate', { auth: TEST_SECRET, body: { user: { id: 'c-9', name: 'Ana', email: 'ana@example.com', phone: '+49 30 1234 5678' } } });
      expect(generated.status).to.equal(200);
      expect(claimsOf(generated.body.token)).to.include({ user: 'c-9', email: 'ana@example.com', phone: '+493012345678' });
      const started = await api(app, 'POST', '/conversations', { auth: generated.body.token });
      const refreshed = await api(app, 'POST', '/tokens/refresh', { auth: started.body.token });
      const reconnect = await api(app, 'GET', `/conversations/${generated.body.conversationId}`, { auth: TEST_SECRET });
      for (const token of [started.body.token, refreshed.body.token, reconnect.body.token]) {
        expect(claimsOf(token)).to.include({ email: 'ana@example.com', phone: '+493012345678' });
      }

      const page = app.adapter.generateToken();
      const claimed = await api(app, 'POST', '/conversations', { auth: page.token, body: { user: { id: 'x', email: 'ceo@example.com' } } });
      expectDirectLineError(claimed, 403, 'Forbidden', 'e-mail from a token holder');
      const badPhone = await api(app, 'POST', '/tokens/generate', { auth: TEST_SECRET, body: { user: { phone: '030 1234' } } });
      expectDirectLineError(badPhone, 400, 'BadArgument', 'a phone number that is not international');
      const badEmail = await api(app, 'POST', '/tokens/generate', { auth: TEST_SECRET, body: { user: { email: 'not an address' } } });
      expectDirectLineError(badEmail, 400, 'BadArgument', 'an e-mail that is not one');
    });
  });

  describe('rate limits on activity POSTs and uploads', () => {
    it('limits each token: 429 TooManyRequests with Retry-After, and the bucket refills', async () => {
      const clock = fixedClock('2026-12-01T10:00:00Z');
      app = await startWebChat({ clock, activityRateLimit: { perToken: new RateLimiter({ burst: 3, perMinute: 6, clock }), perConversation: false } });
      const c = await start(app);
      const activities = `/conversations/${c.conversationId}/activities`;
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await api(app, 'POST', activities, { auth: c.token, body: { type: 'message', text: `m${i}` } })).status);
      expect(statuses).to.deep.equal([200, 200, 200]);
      const limited = await api(app, 'POST', activities, { auth: c.token, body: { type: 'message', text: 'one too many' } });
      expectDirectLineError(limited, 429, 'TooManyRequests', 'fourth post');
      // One request back every 10 s at 6 a minute; as an HTTP date, the form directlinejs copes with (post-limits.ts).
      expect(Date.parse(limited.headers.get('retry-after')!) - clock.now().getTime()).to.equal(10_000);
      const upload = await api(app, 'POST', `/conversations/${c.conversationId}/upload?userId=u`, { auth: c.token, body: { file: 'x' } });
      expectDirectLineError(upload, 429, 'TooManyRequests', 'upload while limited');
      // Reading is never limited: a polling client that got a 429 would stop polling for good.
      expect((await api(app, 'GET', activities, { auth: c.token })).status).to.equal(200);
      clock.advance(10_000);
      expect((await api(app, 'POST', activities, { auth: c.token, body: { type: 'message', text: 'later' } })).status).to.equal(200);
      const history = await api(app, 'GET', activities, { auth: c.token });
      expect(history.body.activities.map((a: any) => a.text)).to.not.include('one too many');
    });

    it('limits each conversation across its tokens, so a refreshed token buys no extra posts', async () => {
      const clock = fixedClock(new Date());
      app = await startWebChat({ activityRateLimit: { perToken: false, perConversation: new RateLimiter({ burst: 2, perMinute: 1, clock }) } });
      const c = await start(app);
      const refreshed = (await api(app, 'POST', '/tokens/refresh', { auth: c.token })).body.token as string;
      const activities = `/conversations/${c.conversationId}/activities`;
      expect((await api(app, 'POST', activities, { auth: c.token, body: { type: 'message', text: 'a' } })).status).to.equal(200);
      expect((await api(app, 'POST', activities, { auth: refreshed, body: { type: 'message', text: 'b' } })).status).to.equal(200);
      const limited = await api(app, 'POST', activities, { auth: refreshed, body: { type: 'message', text: 'c' } });
      expectDirectLineError(limited, 429, 'TooManyRequests', 'third post of the conversation');
      expect(Date.parse(limited.headers.get('retry-after')!)).to.be.greaterThan(Date.now());
      const another = await start(app);
      expect((await api(app, 'POST', `/conversations/${another.conversationId}/activities`, { auth: another.token, body: { type: 'message', text: 'mine' } })).status).to.equal(200);
    });

    it('lets the directlinejs client fail only the limited post and keep the conversation going', async () => {
      const clock = fixedClock(new Date());
      app = await startWebChat({ activityRateLimit: { perToken: new RateLimiter({ burst: 1, perMinute: 1, clock }), perConversation: false } });
      const { token } = app.adapter.generateToken();
      const client = connect({ domain: app.domain, token });
      closers.push(() => client.close());
      await client.waitFor((a) => (a as any).text === 'Welcome to the echo bot', 'welcome');
      await client.post({ text: 'first' });
      const err = await client.post({ text: 'second' }).then(
        () => undefined,
        (e) => e,
      );
      expect(err?.status, 'the second post fails with 429').to.equal(429);
      expect(client.directLine.connectionStatus$.getValue()).to.equal(ConnectionStatus.Online);
      clock.advance(60_000);
      await client.post({ text: 'third' });
      await client.waitFor((a) => (a as any).text === 'You said: third', 'reply after the wait');
      expect(client.received.map((a) => (a as any).text)).to.not.include('second');
    });
  });
});
