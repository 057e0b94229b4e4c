/**
 * Hostile input: a seeded generator posts thousands of malformed, oversized, deeply nested,
 * wrongly-typed, invalid-UTF-8 and wrong-content-type bodies, and odd paths and query strings, to
 * every public route of the whole app (webhooks signed and unsigned, Direct Line with a valid token,
 * the agent API with a valid session, login). The server must answer every one with a 4xx JSON error
 * (or a documented 2xx), never a 5xx, never a stack trace, must keep answering /healthz, and must
 * store nothing from a rejected request. Set FUZZ_SEED to replay another sequence.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signBody } from '../../adapters/shared/verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import { DirectLineTokens } from '../../adapters/webchat/tokens.js';
import { changedFiles, LEAK_PATTERN, PHONE_ID, rawRequest, SECRETS, snapshot, startHarness, type Harness, type RawResponse } from './harness.js';

// eslint-disable-next-line n/no-process-env -- a test knob, not app config
const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const CASES = 3000;
const CONCURRENCY = 8;

/** mulberry32: small, fast, seeded. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

interface Case {
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | string;
  /** A 2xx answer is documented for this case (reads with valid credentials, Meta's 200 for signed events). */
  allow2xx?: boolean;
}

const deepArrays = (n: number) => '['.repeat(n) + ']'.repeat(n);
const deepObjects = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', '', 'json/../../etc'];
const ACCEPTS = ['*/*', 'text/html', 'text/plain', 'application/xml', 'image/png', 'application/json'];
const ODD_STRINGS = ['', ' ', '\u0000', '\ud800', '💥'.repeat(50), '<script>alert(1)</script>', "' OR 1=1 --", '../../etc/passwd', '%00', '${7*7}', 'x'.repeat(5000), '__proto__', 'constructor'];
const WRONG_VALUES: unknown[] = [null, true, 0, -1, 1e308, 'x', [], [1, 'a'], {}, { $gt: '' }, 'x'.repeat(70_000), ODD_STRINGS, Array.from({ length: 500 }, (_, i) => i)];

/** A body no route accepts as valid: never an object that a loose schema would take (no empty body, no random keys). */
function garbage(r: Rng): { body: Buffer | string; kind: string } {
  switch (r.int(12)) {
    case 0:
      return { kind: 'invalid-utf8', body: Buffer.from(Array.from({ length: 1 + r.int(300) }, () => 0x80 + r.int(0x80))) };
    case 1:
      return { kind: 'not-json', body: r.pick(['{', '{"a":', 'undefined', 'NaN', "{'a':1}", '\u0000', '{"a":1,}', '[1,2', '"\\u12"', '{"a":1}{"b":2}', 'tru', '\ufeff{"type":1']) };
    case 2:
      return { kind: 'json-scalar', body: r.pick(['null', '0', '-1e999', '"str"', 'true', '[]', '[{}]', '1e400', '""']) };
    case 3:
      return { kind: 'deep-arrays', body: deepArrays(r.pick([1000, 10_000, 50_000])) };
    case 4:
      return { kind: 'deep-objects-in-array', body: `[${deepObjects(r.pick([1000, 10_000]))}]` };
    case 5:
      return { kind: 'oversized', body: Buffer.alloc(r.pick([300 * 1024, 1100 * 1024, 2 * 1024 * 1024]), r.pick([0x61, 0x7b, 0x5b])) };
    case 6:
      return { kind: 'oversized-json-array', body: JSON.stringify(Array.from({ length: 60_000 }, (_, i) => ({ i }))) };
    case 7:
      return { kind: 'array-of-wrong-values', body: JSON.stringify(Array.from({ length: 1 + r.int(5) }, () => r.pick(WRONG_VALUES))) };
    case 8:
      return { kind: 'utf16', body: Buffer.from('{"type":"message","text":"hi"}', 'utf16le') };
    case 9:
      return { kind: 'nul-bytes', body: Buffer.concat([Buffer.from('{"type":"mess'), Buffer.alloc(8), Buffer.from('age"}')]) };
    case 10:
      return { kind: 'huge-number-array', body: `[${'9'.repeat(400_000)}]` };
    default:
      return { kind: 'bom-array', body: '\ufeff[1]' };
  }
}

/** Valid-looking bodies with one field of the wrong type, per route. */
const MUTATIONS: Record<string, (r: Rng) => unknown> = {
  activity: (r) =>
    r.pick<unknown>([
      {},
      { type: r.pick(WRONG_VALUES.filter((v) => typeof v !== 'string')) },
      { type: '' },
      { type: 'conversationUpdate', membersAdded: [{ id: 'x' }] },
      { type: 'trace', text: 'x' },
      { type: 'x'.repeat(65) },
      { type: 'message', text: r.pick([1, [], {}, null, true, 'x'.repeat(16_001)]) },
      { type: 'message', text: 'hi', attachments: r.pick(['x', [1], Array.from({ length: 21 }, () => ({ contentType: 'a' }))]) },
      { type: 'message', text: 'hi', entities: r.pick(['x', [1], [{ type: 5 }]]) },
      { type: 'message', text: 'hi', from: r.pick(['x', 5, { id: 5 }, { name: 'x'.repeat(300) }]) },
      { type: 'message', text: 'hi', channelData: r.pick(['x', 5, [1]]) },
      { type: 'message', text: 'hi', locale: r.pick([5, 'x'.repeat(33)]) },
    ]),
  start: (r) => r.pick<unknown>([{ user: r.pick(['x', 5, [], { id: 5 }, { id: 'x'.repeat(257) }]) }, { locale: r.pick([5, {}, 'x'.repeat(33)]) }, null, [{}]]),
  login: (r) =>
    r.pick<unknown>([{}, { username: 'ada' }, { password: 'x' }, { username: r.pick(WRONG_VALUES), password: 'x' }, { username: '', password: 'x' }, { username: 'a'.repeat(65), password: 'x' }, { username: 'ada', password: r.pick([5, [], '', 'x'.repeat(1025)]) }]),
  text: (r) => r.pick<unknown>([{}, { text: '' }, { text: '   \n ' }, { text: r.pick([5, [], {}, null]) }, { text: 'x'.repeat(4097) }]),
  transfer: (r) => r.pick<unknown>([{}, { agentId: 'ada', team: 'x' }, { agentId: r.pick([5, '', []]) }, { team: 5 }]),
  whatsapp: (r) => {
    const body = JSON.parse(serializeLikeMeta(whatsappTextWebhook({ waId: '4915112345678', text: 'hi', phoneNumberId: PHONE_ID, wamid: `wamid.fuzz.${r.int(1e9)}` })));
    const value = body.entry[0].changes[0].value;
    r.pick([
      () => (value.messages[0].text.body = r.pick([5, [], {}, null])),
      () => (value.messages[0].from = r.pick([5, {}, null, ''])),
      () => (value.messages[0].id = r.pick([5, null, {}])),
      () => (value.messages = r.pick(['x', 5, {}])),
      () => (body.entry = r.pick(['x', 5, {}, [null]])),
      () => (value.messages[0].type = r.pick([5, null])),
      () => (value.metadata = null),
      () => (body.object = r.pick([5, null, 'page'])),
    ])();
    return body;
  },
  messenger: (r) => {
    const body = JSON.parse(serializeLikeMeta(messengerTextWebhook({ psid: '24012345678901234', text: 'hi', mid: `m_fuzz_${r.int(1e9)}` })));
    const event = body.entry[0].messaging[0];
    r.pick([
      () => (event.message.text = r.pick([5, [], {}, null])),
      () => (event.sender = r.pick([5, {}, null, { id: 5 }])),
      () => (event.message.mid = r.pick([5, null, {}])),
      () => (body.entry[0].messaging = r.pick(['x', 5, {}])),
      () => (body.entry = r.pick(['x', 5, {}, [null]])),
      () => (body.object = r.pick([5, null, 'whatsapp_business_account'])),
    ])();
    return body;
  },
};

function invalidBody(r: Rng, mutation: keyof typeof MUTATIONS): { body: Buffer | string; kind: string } {
  if (r.next() < 0.45) return { kind: `mutated-${mutation}`, body: JSON.stringify(MUTATIONS[mutation]!(r)) };
  return garbage(r);
}

/** DATA_DIR once background writes (bot state, transcripts) have stopped changing it. */
async function quietSnapshot(h: Harness): Promise<Map<string, number>> {
  await h.app.hub.settled();
  let last = await snapshot(h.dataDir);
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await snapshot(h.dataDir);
    if (changedFiles(last, now).length === 0) return now;
    last = now;
  }
  throw new Error('DATA_DIR kept changing for 5 s');
}

describe('hostile input: seeded fuzzing of every public route', function () {
  this.timeout(120_000);
  let h: Harness;
  let conversationId: string;
  let dlToken: string;
  let otherToken: string;
  let expiredToken: string;
  let session: string;

  before(async () => {
    h = await startHarness({ env: { DIRECTLINE_POSTS_PER_MINUTE: '0' } });
    const minted = h.webchat.generateToken({ id: 'fuzz-customer' });
    conversationId = minted.conversationId;
    dlToken = minted.token;
    const started = await rawRequest(h.url, 'POST', '/v3/directline/conversations', { authorization: `Bearer ${dlToken}` });
    expect(started.status).to.equal(201);
    otherToken = h.webchat.generateToken().token;
    const past = new DirectLineTokens(SECRETS.directLine, { now: () => new Date(Date.now() - 2 * 3600_000) });
    expiredToken = past.issue(conversationId, 'fuzz-customer', 60);
    const login = await rawRequest(h.url, 'POST', '/api/agent/login', { 'content-type': 'application/json' }, JSON.stringify({ username: 'ada', password: SECRETS.password }));
    expect(login.status).to.equal(200);
    session = JSON.parse(login.text).token;
  });
  after(async () => h?.close());

  function generate(r: Rng): Case {
    const ct = r.pick(CONTENT_TYPES);
    const base: Record<string, string> = { accept: r.pick(ACCEPTS), ...(ct ? { 'content-type': ct } : {}) };
    const odd = () => {
      const v = r.pick(ODD_STRINGS);
      return v === '\ud800' ? '%ED%A0%80' : encodeURIComponent(v).slice(0, 3000); // a lone surrogate as raw bytes
    };
    const dl = '/v3/directline';
    const forged = r.pick(['', 'Bearer', 'Bearer ', `Bearer ${otherToken.slice(0, -3)}abc`, `Bearer ${expiredToken}`, 'Basic YWRhOnB3', `Bearer ${'A'.repeat(3000)}`, 'Bearer a.b.c', `Bearer ${SECRETS.directLine}x`]);
    const authOf = (v: string): Record<string, string> => (v ? { authorization: v } : {});
    switch (r.int(16)) {
      case 0:
      case 1: {
        // Meta webhooks: no signature, a wrong one, or a valid signature over garbage (Meta's documented 200).
        const channel = r.pick(['messenger', 'whatsapp'] as const);
        const { body, kind } = invalidBody(r, channel);
        const how = r.int(3);
        const secret = channel === 'messenger' ? SECRETS.messenger : SECRETS.whatsapp;
        const signature = how === 0 ? undefined : how === 1 ? r.pick([signBody(body, 'wrong-secret'), 'sha256=' + 'ab'.repeat(32), 'sha1=abc', 'sha256=', signBody(body, secret).toUpperCase()]) : signBody(body, secret);
        return { label: `webhook ${channel} ${['unsigned', 'bad-signature', 'signed'][how]} ${kind}`, method: 'POST', path: `/webhooks/${channel}${r.next() < 0.2 ? `?${odd()}=${odd()}` : ''}`, headers: { ...base, ...(signature ? { 'x-hub-signature-256': signature } : {}) }, body, allow2xx: how === 2 };
      }
      case 2: {
        const channel = r.pick(['messenger', 'whatsapp']);
        const q = r.pick([`hub.mode=subscribe&hub.verify_token=${odd()}&hub.challenge=${odd()}`, `hub.mode=${odd()}`, `hub.mode[]=a&hub.verify_token[x]=1`, `hub.challenge=${'9'.repeat(5000)}`, '%%%', `hub.verify_token=${SECRETS.verify}&hub.mode=unsubscribe&hub.challenge=1`]);
        return { label: `webhook handshake ${channel}`, method: 'GET', path: `/webhooks/${channel}?${q}`, headers: base };
      }
      case 3: {
        const { body, kind } = invalidBody(r, 'start');
        return r.next() < 0.5
          ? { label: `tokens/generate forged ${kind}`, method: 'POST', path: `${dl}/tokens/generate`, headers: { ...base, ...authOf(forged) }, body }
          : { label: `tokens/generate secret ${kind}`, method: 'POST', path: `${dl}/tokens/generate`, headers: { ...base, authorization: `Bearer ${SECRETS.directLine}` }, body };
      }
      case 4:
        return { label: 'tokens/refresh forged', method: 'POST', path: `${dl}/tokens/refresh`, headers: { ...base, ...authOf(forged) }, body: garbage(r).body };
      case 5: {
        const { body, kind } = invalidBody(r, 'start');
        const auth = r.pick([forged, `Bearer ${dlToken}`, `Bearer ${SECRETS.directLine}`]);
        return { label: `conversations ${auth === forged ? 'forged' : 'valid'} ${kind}`, method: 'POST', path: `${dl}/conversations`, headers: { ...base, ...authOf(auth) }, body };
      }
      case 6: {
        const id = r.pick([conversationId, `${conversationId}x`, odd(), '..%2F..%2Fsecret', 'a'.repeat(200), '%00']);
        const q = r.pick(['', `?watermark=${odd()}`, '?watermark=-1', '?watermark=99999999999999', '?watermark[]=1', '?watermark=1&watermark=2', `?${odd()}`]);
        const sub = r.pick(['', '/activities']);
        const mine = id === conversationId;
        const auth = mine && r.next() < 0.7 ? `Bearer ${dlToken}` : r.pick([forged, `Bearer ${otherToken}`]);
        return { label: `GET conversation${sub} ${mine ? 'own' : 'other'}`, method: 'GET', path: `${dl}/conversations/${id}${sub}${q}`, headers: { ...base, ...authOf(auth) }, allow2xx: mine && auth === `Bearer ${dlToken}` };
      }
      case 7:
      case 8: {
        const { body, kind } = invalidBody(r, 'activity');
        const target = r.pick([conversationId, conversationId, 'someone-else', odd()]);
        const auth = r.next() < 0.75 ? `Bearer ${dlToken}` : r.pick([forged, `Bearer ${otherToken}`, `Bearer ${SECRETS.directLine}`]);
        return { label: `POST activities ${kind}`, method: 'POST', path: `${dl}/conversations/${target}/${r.next() < 0.9 ? 'activities' : 'upload'}`, headers: { ...base, ...authOf(auth) }, body };
      }
      case 9: {
        const { body, kind } = invalidBody(r, 'login');
        return { label: `login ${kind}`, method: 'POST', path: '/api/agent/login', headers: base, body };
      }
      case 10:
      case 11: {
        const which = r.pick(['messages', 'notes', 'transfer'] as const);
        const { body, kind } = invalidBody(r, which === 'transfer' ? 'transfer' : 'text');
        const valid = r.next() < 0.8;
        return { label: `agent ${which} ${valid ? 'session' : 'forged'} ${kind}`, method: 'POST', path: `/api/agent/conversations/${r.pick([odd(), 'webchat:' + conversationId, 'x'])}/${which}`, headers: { ...base, ...authOf(valid ? `Bearer ${session}` : forged) }, body };
      }
      case 12: {
        const valid = r.next() < 0.7;
        const p = r.pick([`/api/agent/conversations?status=${odd()}`, `/api/agent/conversations?status[]=queued`, `/api/agent/conversations/${odd()}`, `/api/agent/conversations/${odd()}/claim`, `/api/agent/conversations/${odd()}/resolve`, `/api/agent/knowledge/search?q=${odd()}`, `/api/agent/knowledge/search?q[a]=1`, `/api/agent/knowledge?days=${odd()}`, `/api/agent/knowledge?days[a]=1`, '/api/agent/me', '/api/agent/agents']);
        const method = p.endsWith('/claim') || p.endsWith('/resolve') ? 'POST' : 'GET';
        const reads = method === 'GET' && (p.includes('knowledge') || p.endsWith('/me') || p.endsWith('/agents') || /status=(queued|assigned|bot|resolved|active)$/.test(p));
        return { label: `agent ${method} ${valid ? 'session' : 'forged'}`, method, path: p, headers: { ...base, ...authOf(valid ? `Bearer ${session}` : forged) }, body: method === 'POST' ? garbage(r).body : undefined, allow2xx: valid && reads };
      }
      case 13:
        // The demo page's token exchange ignores bodies: a token (or 429 once the address has had its share).
        return { label: 'webchat token', method: 'POST', path: `/api/webchat/token${r.next() < 0.3 ? `?${odd()}` : ''}`, headers: base, body: garbage(r).body, allow2xx: true };
      case 14: {
        const p = r.pick(['/..%2f..%2fetc/passwd', '/agent/..%2f..%2fpackage.json', '/agent/%2e%2e%2fapi.ts', '/agent/__proto__', '/agent/constructor', '/agent/hasOwnProperty', '/assets/..%2f..%2fpackage.json', `/v3/directline/conversations/${odd()}/stream`, `/api/agent/${odd()}`, `/webhooks/${odd()}`, `/${'a/'.repeat(1000)}`, '/%', '/%E0%A4%A', `/v3/directline/${odd()}`]);
        return { label: `odd path ${p.slice(0, 40)}`, method: r.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']), path: p, headers: base, body: r.next() < 0.5 ? garbage(r).body : undefined };
      }
      default: {
        const p = r.pick(['/webhooks/messenger', '/webhooks/whatsapp', '/api/agent/login', '/v3/directline/tokens/generate', '/v3/directline/conversations', '/api/agent/conversations', '/healthz', '/api/webchat/token']);
        return { label: `wrong method ${p}`, method: r.pick(['PUT', 'DELETE', 'PATCH']), path: p, headers: base, body: garbage(r).body };
      }
    }
  }

  it('answers thousands of hostile requests with 4xx JSON (or a documented 2xx), never 5xx or a stack trace, and stores nothing', async () => {
    const before = await quietSnapshot(h);
    const r = rng(SEED);
    const cases = Array.from({ length: CASES }, () => generate(r));
    const problems: string[] = [];
    const acceptedBodies: string[] = [];
    const tally = new Map<number, number>();
    let next = 0;
    const check = (c: Case, res: RawResponse) => {
      tally.set(res.status, (tally.get(res.status) ?? 0) + 1);
      const where = `${c.label} → ${res.status} ${res.text.slice(0, 160)}`;
      if (res.status >= 500) return problems.push(`5xx: ${where}`);
      if (LEAK_PATTERN.test(res.text)) return problems.push(`internals in the body: ${where}`);
      if (Object.values(SECRETS).some((s) => res.text.includes(s))) return problems.push(`a secret in the body: ${where}`);
      if (res.status >= 200 && res.status < 300) {
        if (!c.allow2xx) problems.push(`undocumented 2xx: ${where}`);
        if (c.path.startsWith('/webhooks/') && c.body) acceptedBodies.push(String(c.body));
        return;
      }
      if (res.status < 400) return problems.push(`unexpected status: ${where}`);
      if (!/application\/json/.test(String(res.headers['content-type']))) return problems.push(`not JSON: ${where} (${res.headers['content-type']})`);
      try {
        const body = JSON.parse(res.text);
        if (typeof (body?.error?.message ?? body?.message) !== 'string') problems.push(`JSON error without a message: ${where}`);
      } catch {
        problems.push(`unparseable JSON: ${where}`);
      }
      if (res.status === 429 && !res.headers['retry-after']) problems.push(`429 without Retry-After: ${where}`);
      return undefined;
    };
    // restify's own logger (pino, on stdout) logs whole requests, Authorization headers included, in some cases.
    const restifyLines: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = function (this: typeof process.stdout, chunk: unknown, ...rest: unknown[]) {
      if (typeof chunk === 'string' && chunk.includes('"hostname"') && chunk.includes('"msg"')) restifyLines.push(chunk);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof process.stdout.write;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const c = cases[next++]!;
          try {
            check(c, await rawRequest(h.url, c.method, c.path, c.headers, c.body));
          } catch (err) {
            problems.push(`${c.label}: ${(err as Error).message}`);
          }
        }
      }),
    );
    process.stdout.write = write;
    console.log(`      FUZZ-CASES ${cases.length} (seed ${SEED}) statuses ${JSON.stringify(Object.fromEntries([...tally].sort((a, b) => a[0] - b[0])))}`);
    expect(problems.slice(0, 20), `${problems.length} problems`).to.deep.equal([]);
    expect(restifyLines.map((l) => l.slice(0, 300)), 'restify log lines on stdout').to.deep.equal([]);

    // Still alive, and nothing from a rejected request was kept: a conversation in the transcripts
    // comes from a signed body that was answered 2xx (a mutation can still be a valid event, e.g. ids as JSON numbers).
    expect((await rawRequest(h.url, 'GET', '/healthz')).status).to.equal(200);
    let acceptedEvents = 0;
    for (const channel of ['messenger', 'whatsapp']) {
      const kept = (await h.app.transcripts.listTranscripts(channel)).items.map((t) => t.id);
      acceptedEvents += kept.length;
      expect(kept.filter((id) => !acceptedBodies.some((b) => b.includes(id))), `${channel} transcripts from rejected requests`).to.deep.equal([]);
    }
    expect((await h.app.transcripts.listTranscripts('webchat')).items.map((t) => t.id)).to.deep.equal([conversationId]);
    expect(h.graph.sent(), 'nothing was sent to customers').to.deep.equal([]);
    const after = await quietSnapshot(h);
    const changed = changedFiles(before, after);
    // Signed events we cannot parse are kept as `unparsed` records (Meta's 200, so they are never lost); nothing else.
    const journals = changed.filter((f) => /^\/(messenger|whatsapp)\/journal\.jsonl$/.test(f));
    // A signed mutation that is still a valid event (checked above against the accepted bodies) runs a turn like any other.
    const ofAcceptedTurns = (f: string) => acceptedEvents > 0 && /^\/(state|transcripts|handoff|analytics|questions)\//.test(f);
    expect(changed.filter((f) => !journals.includes(f) && !ofAcceptedTurns(f)), 'files changed by rejected requests').to.deep.equal([]);
    for (const f of journals) {
      const added = (await readFile(join(h.dataDir, f))).subarray(before.get(f) ?? 0).toString('utf8').split('\n').filter(Boolean);
      const kinds = new Set(added.map((line) => (JSON.parse(line) as { t: string }).t));
      // Besides `unparsed`, only the inbox records of the accepted events' turns (stored, failed to send, done).
      const allowed = acceptedEvents > 0 ? ['unparsed', 'in', 'fail', 'done', 'profile', 'window'] : ['unparsed'];
      expect([...kinds].filter((k) => !allowed.includes(k)), `${f} records`).to.deep.equal([]);
      expect(kinds.has('unparsed'), `${f}: the unparseable events were kept`).to.equal(true);
    }
  });

  it('keeps secrets and stack traces out of every log line', () => {
    const leaks = h.logs.filter((l) => LEAK_PATTERN.test(l) || Object.values(SECRETS).some((s) => l.includes(s)) || l.includes(session) || l.includes(dlToken));
    expect(leaks.slice(0, 5)).to.deep.equal([]);
  });

  it('takes a valid activity carrying 10,000 levels of nesting without failing', async () => {
    const nested = JSON.parse(deepArrays(10_000));
    for (const body of [`{"type":"message","text":"hi","value":${deepArrays(10_000)}}`, `{"type":"message","text":"hi","channelData":{"x":${deepObjects(10_000)}}}`]) {
      const res = await rawRequest(h.url, 'POST', `/v3/directline/conversations/${conversationId}/activities`, { authorization: `Bearer ${dlToken}`, 'content-type': 'application/json' }, body);
      expect(res.status, res.text).to.be.oneOf([200, 400, 413]);
      expect(res.text).not.to.match(LEAK_PATTERN);
    }
    void nested;
    expect((await rawRequest(h.url, 'GET', '/healthz')).status).to.equal(200);
  });
});
