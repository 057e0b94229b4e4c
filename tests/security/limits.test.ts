/** Rate limits, security headers, body size limits and error bodies, on the whole app and in isolation. */
import { expect } from 'chai';
import { fixedClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { createServer } from '../../src/server.js';
import { DEFAULT_RATE_LIMITS, RateLimiter } from '../../src/security/rate-limit.js';
import { jsonTooDeep } from '../../src/security/json-depth.js';
import { signBody } from '../../adapters/shared/verify.js';
import { listen } from '../helpers/http.js';
import { jsonBodyRoutes, rawRequest, SECRETS, startHarness, type Harness } from './harness.js';

describe('RateLimiter', () => {
  it('lets a burst through, then answers with how long to wait, and refills with time', () => {
    const clock = fixedClock('2026-11-23T10:00:00Z');
    const limiter = new RateLimiter({ burst: 3, perMinute: 6, clock });
    expect([1, 2, 3].map(() => limiter.take('1.2.3.4').ok)).to.deep.equal([true, true, true]);
    expect(limiter.take('1.2.3.4')).to.deep.equal({ ok: false, retryAfterSeconds: 10 });
    expect(limiter.take('5.6.7.8').ok, 'another address has its own bucket').to.equal(true);
    clock.advance(10_000);
    expect(limiter.take('1.2.3.4').ok).to.equal(true);
    expect(limiter.take('1.2.3.4').ok).to.equal(false);
  });

  it('remembers at most maxClients addresses', () => {
    const limiter = new RateLimiter({ burst: 1, perMinute: 1, maxClients: 100 });
    for (let i = 0; i < 10_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.size).to.equal(100);
  });
});

describe('jsonTooDeep', () => {
  it('counts nesting outside strings only', () => {
    expect(jsonTooDeep('{"a":[[[1]]]}', 4)).to.equal(false);
    expect(jsonTooDeep('{"a":[[[[1]]]]}', 4)).to.equal(true);
    expect(jsonTooDeep(`{"a":"${'['.repeat(100)}\\"${'{'.repeat(100)}"}`, 4)).to.equal(false);
  });
});

describe('security on the running app', function () {
  this.timeout(60_000);
  let h: Harness;
  beforeEach(async () => {
    // Time stands still, so no bucket refills while a slow (scrypt) sign-in burst runs on a busy machine.
    h = await startHarness({ clock: fixedClock(new Date()) });
  });
  afterEach(async () => h?.close());

  const json = { 'content-type': 'application/json' };

  it('limits sign-ins per address with a 429 JSON answer and Retry-After', async () => {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i <= DEFAULT_RATE_LIMITS.login.burst; i++) {
      last = await rawRequest(h.url, 'POST', '/api/agent/login', json, JSON.stringify({ username: `guess${i}`, password: 'wrong password' }));
      statuses.push(last.status);
    }
    expect(statuses.slice(0, -1).every((s) => s === 401)).to.equal(true);
    expect(last!.status).to.equal(429);
    expect(JSON.parse(last!.text).code).to.equal('TooManyRequests');
    expect(Number(last!.headers['retry-after'])).to.be.greaterThan(0);
  });

  it('limits the demo page token exchange per address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i <= DEFAULT_RATE_LIMITS.webChatToken.burst; i++) statuses.push((await rawRequest(h.url, 'POST', '/api/webchat/token')).status);
    expect(statuses.filter((s) => s === 200)).to.have.length(DEFAULT_RATE_LIMITS.webChatToken.burst);
    const limited = await rawRequest(h.url, 'POST', '/api/webchat/token');
    expect(limited.status).to.equal(429);
    expect(limited.headers['retry-after']).to.match(/^\d+$/);
  });

  it('limits Direct Line credential guessing but not the site backend holding the secret', async () => {
    const burst = DEFAULT_RATE_LIMITS.directLine.burst;
    for (let i = 0; i < burst + 5; i++) {
      const r = await rawRequest(h.url, 'POST', '/v3/directline/tokens/generate', { authorization: `Bearer ${SECRETS.directLine}` });
      expect(r.status, 'the secret is never limited').to.equal(200);
    }
    const guesses: number[] = [];
    for (let i = 0; i <= burst; i++) guesses.push((await rawRequest(h.url, 'POST', '/v3/directline/conversations', { authorization: `Bearer guess-${i}` })).status);
    expect(guesses.slice(0, -1).every((s) => s === 403)).to.equal(true);
    expect(guesses.at(-1)).to.equal(429);
    // A valid token still starts (only) its own conversation from the same address.
    const minted = h.webchat.generateToken();
    expect((await rawRequest(h.url, 'POST', '/v3/directline/conversations', { authorization: `Bearer ${minted.token}` })).status).to.equal(201);
  });

  it('sends security headers on the pages and no-store, nosniff on API answers', async () => {
    const demo = await rawRequest(h.url, 'GET', '/');
    expect(demo.headers['content-security-policy']).to.include("frame-ancestors 'self'").and.include("script-src 'self';");
    expect(demo.headers['x-frame-options']).to.equal('SAMEORIGIN');
    expect(demo.headers['x-content-type-options']).to.equal('nosniff');
    expect(demo.headers['referrer-policy']).to.equal('no-referrer');
    for (const path of ['/agent', '/agent/app.js']) {
      const agent = await rawRequest(h.url, 'GET', path);
      expect(agent.status).to.equal(200);
      expect(agent.headers['content-security-policy'], path).to.include("frame-ancestors 'none'");
      expect(agent.headers['x-frame-options'], path).to.equal('DENY');
      expect(agent.headers['x-content-type-options'], path).to.equal('nosniff');
    }
    for (const [method, path] of [['GET', '/healthz'], ['POST', '/api/webchat/token'], ['POST', '/api/agent/login'], ['POST', '/v3/directline/conversations']] as const) {
      const r = await rawRequest(h.url, method, path, json, method === 'POST' ? '{}' : undefined);
      expect(r.headers['cache-control'], path).to.equal('no-store');
      expect(r.headers['x-content-type-options'], path).to.equal('nosniff');
    }
  });

  it('answers 413 JSON on every route that reads a body', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 0x61);
    const routes: [string, Record<string, string>][] = [
      ['/webhooks/messenger', { 'x-hub-signature-256': signBody(big, SECRETS.messenger) }],
      ['/webhooks/whatsapp', { 'x-hub-signature-256': signBody(big, SECRETS.whatsapp) }],
      ...(await jsonBodyRoutes(h)),
    ];
    for (const [path, headers] of routes) {
      const r = await rawRequest(h.url, 'POST', path, { ...json, ...headers }, big);
      expect(r.status, `${path}: ${r.text}`).to.equal(413);
      const body = JSON.parse(r.text);
      expect(body.error?.message ?? body.message, path).to.be.a('string');
    }
  });
});

describe('unexpected errors', () => {
  it('answer 500 with a fixed message and log only the error message, never its stack', async () => {
    const lines: string[] = [];
    const server = createServer({ logger: createLogger('debug', 'test', (l) => lines.push(l)) });
    server.get('/boom', async () => {
      throw new Error('ENOENT: open /srv/switchboard/data/secret.json');
    });
    const http = await listen(server);
    try {
      const r = await rawRequest(http.url, 'GET', '/boom');
      expect(r.status).to.equal(500);
      expect(JSON.parse(r.text)).to.deep.equal({ code: 'Internal', message: 'unexpected error; it is in the server log' });
      expect(lines.join('\n')).to.include('ENOENT').and.not.match(/\n\s+at /);
    } finally {
      await http.close();
    }
  });
});
