import { expect } from 'chai';
import { signBody, verifyHandshake, verifySignature } from '../../adapters/shared/verify.js';
import { serializeLikeMeta } from '../../adapters/shared/sample-events.js';

describe('Meta webhook verification (pure)', () => {
  const secret = 'app-secret';
  const raw = Buffer.from('{"object":"page","entry":[]}');

  it('accepts a body signed with the app secret', () => {
    expect(verifySignature(raw, { 'x-hub-signature-256': signBody(raw, secret) }, secret)).to.deep.equal({ ok: true });
  });

  it('answers 401 when the signature header is missing or malformed', () => {
    expect(verifySignature(raw, {}, secret)).to.include({ ok: false, status: 401 });
    expect(verifySignature(raw, { 'x-hub-signature-256': 'sha256=abc' }, secret)).to.include({ ok: false, status: 401 });
    expect(verifySignature(raw, { 'x-hub-signature': 'sha1=' + 'a'.repeat(40) }, secret)).to.include({ ok: false, status: 401 });
  });

  it('answers 403 when the signature does not match the body or the secret', () => {
    expect(verifySignature(raw, { 'x-hub-signature-256': signBody(raw, 'other') }, secret)).to.include({ ok: false, status: 403 });
    expect(verifySignature(Buffer.from(raw.toString() + ' '), { 'x-hub-signature-256': signBody(raw, secret) }, secret)).to.include({ ok: false, status: 403 });
  });

  it('verifies the raw bytes of a body with escaped non-ASCII (\\u00e4), not a re-serialised one', () => {
    const body = { object: 'page', entry: [{ messaging: [{ message: { text: 'Grüße aus Köln' } }] }] };
    const metaBytes = Buffer.from(serializeLikeMeta(body));
    expect(metaBytes.toString()).to.include('Gr\\u00fc\\u00dfe');
    const header = { 'x-hub-signature-256': signBody(metaBytes, secret) };
    expect(verifySignature(metaBytes, header, secret).ok).to.equal(true);
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(metaBytes.toString())));
    expect(verifySignature(reserialised, header, secret)).to.include({ ok: false, status: 403 });
  });

  it('answers the GET handshake only for subscribe with the right verify token', () => {
    expect(verifyHandshake({ 'hub.mode': 'subscribe', 'hub.verify_token': 'tok', 'hub.challenge': '1158201444' }, 'tok')).to.deep.equal({ ok: true, challenge: '1158201444' });
    expect(verifyHandshake({ 'hub.mode': 'subscribe', 'hub.verify_token': 'nope', 'hub.challenge': '1' }, 'tok')).to.include({ ok: false, status: 403 });
    expect(verifyHandshake({ 'hub.mode': 'unsubscribe', 'hub.verify_token': 'tok', 'hub.challenge': '1' }, 'tok')).to.include({ ok: false, status: 403 });
    expect(verifyHandshake({}, 'tok')).to.include({ ok: false, status: 400 });
  });
});
