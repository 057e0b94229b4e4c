import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import { createServer } from '../../src/server.js';
import { silentLogger } from '../../src/log.js';
import { RateLimiter, enforceRateLimit } from '../../src/security/rate-limit.js';
import { requestInfo, resolveForwarded } from '../../src/security/proxy.js';
import { listen } from '../helpers/http.js';

function fakeRequest(headers: Record<string, string>, peer = '10.0.0.5'): IncomingMessage {
  return { headers, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
}

describe('Behind a reverse proxy (TRUST_PROXY)', () => {
  it('ignores X-Forwarded-* unless told how many hops to believe', () => {
    const info = resolveForwarded(fakeRequest({ 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'chat.example.com', host: '10.0.0.5:3978' }), 0);
    expect(info).to.deep.equal({ address: '10.0.0.5', protocol: 'http', host: '10.0.0.5:3978' });
  });

  it('takes the client from the hop the outermost trusted proxy saw, not from what the client wrote', () => {
    // The client forged "1.2.3.4"; our one proxy appended the address it really saw.
    const req = fakeRequest({ 'x-forwarded-for': '1.2.3.4, 198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'chat.example.com' });
    expect(resolveForwarded(req, 1)).to.deep.equal({ address: '198.51.100.7', protocol: 'https', host: 'chat.example.com' });
    expect(resolveForwarded(req, 2).address).to.equal('1.2.3.4');
    expect(requestInfo(req).address).to.equal('1.2.3.4'); // the last resolution is remembered for the request
  });

  it('counts rate limits per visitor behind the proxy, so the 21st visitor in a minute is not refused', async () => {
    const server = createServer({ logger: silentLogger, trustProxy: 1 });
    const limiter = new RateLimiter({ burst: 20, perMinute: 20 });
    server.post('/token', async (req: any, res: any) => {
      enforceRateLimit(limiter, req, res, 'token');
      res.json(200, { ok: true });
    });
    const { url, close } = await listen(server);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 25; i++) {
        const r = await fetch(`${url}/token`, { method: 'POST', headers: { 'x-forwarded-for': `203.0.113.${i + 1}` } });
        statuses.push(r.status);
      }
      expect(statuses.every((s) => s === 200)).to.equal(true, `statuses: ${statuses.join(',')}`);
      // One visitor is still limited: 21 requests from the same forwarded address.
      let last = 0;
      for (let i = 0; i < 21; i++) last = (await fetch(`${url}/token`, { method: 'POST', headers: { 'x-forwarded-for': '198.51.100.1' } })).status;
      expect(last).to.equal(429);
    } finally {
      await close();
    }
  });
});
