import { expect } from 'chai';
import { DEFAULT_MAX_ATTEMPTS, GraphClient, type FetchLike } from '../../adapters/shared/graph-client.js';
import { GraphApiError, GraphUnavailableError } from '../../adapters/shared/errors.js';

type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | Error;

function scripted(answers: Answer[]) {
  const calls: { url: string; headers: Record<string, string> }[] = [];
  const fetch: FetchLike = async (url, init) => {
    calls.push({ url, headers: init.headers });
    const a = answers.shift() ?? { status: 200, body: { ok: true } };
    if (a instanceof Error) throw a;
    return { status: a.status, headers: { get: (n: string) => a.headers?.[n.toLowerCase()] ?? null }, text: async () => JSON.stringify(a.body ?? {}) };
  };
  return { fetch, calls };
}

describe('GraphClient retries', () => {
  const make = (answers: Answer[], auth: 'query' | 'bearer' = 'query') => {
    const s = scripted(answers);
    const sleeps: number[] = [];
    const client = new GraphClient({ baseUrl: 'http://graph/v23.0', accessToken: 'tok en', auth, name: 'test', fetch: s.fetch, sleep: async (ms) => void sleeps.push(ms), random: () => 0 });
    return { client, sleeps, calls: s.calls };
  };

  it('puts the token in the query or in a Bearer header', async () => {
    const q = make([]);
    await q.client.post('/me/messages', {});
    expect(q.calls[0]!.url).to.equal('http://graph/v23.0/me/messages?access_token=tok%20en');
    const b = make([], 'bearer');
    await b.client.post('/1/messages', {});
    expect(b.calls[0]!.headers.authorization).to.equal('Bearer tok en');
    expect(b.calls[0]!.url).to.equal('http://graph/v23.0/1/messages');
  });

  it('retries timeouts and network errors with exponential backoff', async () => {
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    const { client, sleeps } = make([timeout, new Error('ECONNRESET'), { status: 200, body: { message_id: 'm1' } }]);
    expect(await client.post('/me/messages', {})).to.deep.equal({ message_id: 'm1' });
    expect(sleeps).to.deep.equal([250, 500]); // full jitter with random() = 0 gives half of 500·2^n
  });

  it('honours Retry-After on 429 and retries throttling codes sent as 400', async () => {
    const { client, sleeps } = make([
      { status: 429, headers: { 'retry-after': '2' }, body: { error: { code: 4, message: 'limit' } } },
      { status: 400, body: { error: { code: 130429, message: 'Rate limit hit' } } },
      { status: 200 },
    ]);
    await client.post('/x', {});
    expect(sleeps).to.deep.equal([2000, 500]);
  });

  it('gives up after the last attempt with Meta\'s error, or GraphUnavailableError when nobody answered', async () => {
    const five = Array.from({ length: DEFAULT_MAX_ATTEMPTS }, () => ({ status: 503, body: { error: { code: 2, error_subcode: 7, message: 'down', fbtrace_id: 'T' } } }));
    const err = await make(five).client.post('/x', {}).catch((e) => e);
    expect(err).to.be.instanceOf(GraphApiError);
    expect(err).to.include({ status: 503, code: 2, subcode: 7, fbtraceId: 'T' });
    expect(err.message).to.match(/^test: POST \/x failed with HTTP 503 \(code 2, subcode 7\): down/);
    const none = await make(Array.from({ length: DEFAULT_MAX_ATTEMPTS }, () => new Error('ECONNREFUSED'))).client.post('/x', {}).catch((e) => e);
    expect(none).to.be.instanceOf(GraphUnavailableError);
  });

  it('caps the backoff and Retry-After at maxDelayMs', () => {
    const { client } = make([]);
    expect(client.backoffMs(20)).to.be.at.most(30_000);
    expect(client.backoffMs(0, '3600')).to.equal(30_000);
  });
});
