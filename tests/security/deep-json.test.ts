/** A JSON depth limit on every route that reads JSON, on the whole app. */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_JSON_DEPTH } from '../../src/security/json-depth.js';
import { signBody } from '../../adapters/shared/verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import { jsonBodyRoutes, PHONE_ID, rawRequest, SECRETS, startHarness, type Harness } from './harness.js';

/** `levels` arrays inside each other: far past any limit, and past what a recursive walk survives. */
const deep = (levels = 20_000) => '['.repeat(levels) + ']'.repeat(levels);

describe('deeply nested JSON', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => (h = await startHarness()));
  after(async () => h?.close());
  const json = { 'content-type': 'application/json' };

  for (const channel of ['messenger', 'whatsapp'] as const) {
    it(`answers a signed ${channel} body nested too deep with 200, keeps it in the journal and answers no one`, async () => {
      const envelope =
        channel === 'messenger'
          ? serializeLikeMeta(messengerTextWebhook({ psid: '7100000000000001', text: 'hello', mid: 'm_deep' }))
          : serializeLikeMeta(whatsappTextWebhook({ waId: '491510000001', text: 'hello', phoneNumberId: PHONE_ID, wamid: 'wamid.deep' }));
      // The nesting hides inside the message, where the parser keeps unknown fields in channelData.
      const raw = envelope.replace('"text":', `"extra":${deep()},"text":`).replace('"body":', `"extra":${deep()},"body":`);
      const secret = channel === 'messenger' ? SECRETS.messenger : SECRETS.whatsapp;
      const sendsBefore = h.graph.sent().length;
      const r = await rawRequest(h.url, 'POST', `/webhooks/${channel}`, { ...json, 'x-hub-signature-256': signBody(raw, secret) }, raw);
      // Meta retries every answer but 200 (a 400 too) until it disables the webhook: 200, and kept for a person.
      expect(r.status, r.text).to.equal(200);
      const again = await rawRequest(h.url, 'POST', `/webhooks/${channel}`, { ...json, 'x-hub-signature-256': signBody(raw, secret) }, raw);
      expect(again.status, 'a retry is answered the same').to.equal(200);
      const journal = await readFile(join(h.dataDir, channel, 'journal.jsonl'), 'utf8');
      expect(journal).to.include(`nests deeper than ${MAX_JSON_DEPTH} levels`);
      expect(journal, 'not stored as a message').not.to.match(/"t":"in"/);
      await new Promise((r) => setTimeout(r, 200));
      expect(h.graph.sent().length - sendsBefore, 'nobody is answered').to.equal(0);
    });
  }

  it('answers 400 JSON on the Direct Line and agent API routes', async () => {
    const body = `{"type":"message","text":"hi","value":${deep()}}`;
    const routes = await jsonBodyRoutes(h);
    for (const [path, headers] of routes) {
      const r = await rawRequest(h.url, 'POST', path, { ...json, ...headers }, body);
      expect(r.status, `${path}: ${r.text}`).to.equal(400);
      expect(r.text, path).to.match(/nests deeper than/);
      expect(() => JSON.parse(r.text), path).not.to.throw();
    }
    expect((await rawRequest(h.url, 'GET', '/healthz')).status).to.equal(200);
  });
});
