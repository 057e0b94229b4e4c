import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Activity, TurnContext } from 'botbuilder';
import { FileMediaStore } from '../../src/media/index.js';
import { MAX_UPLOAD_FILE_BYTES, MEDIA_URL_TTL_SECONDS } from '../../adapters/webchat/upload.js';
import { connect } from '../webchat/client.js';
import { TEST_SECRET, startWebChat } from '../webchat/fixture.js';
import { PDF, PNG, dataUrl, pngOfSize } from './samples.js';

describe('Web Chat uploads (POST …/upload) and attachment links', () => {
  let app: Awaited<ReturnType<typeof startWebChat>>;
  let media: FileMediaStore;
  let mediaDir: string;
  let now = Date.now();
  const turns: Partial<Activity>[] = [];
  const clients: { close(): void }[] = [];

  beforeEach(async () => {
    turns.length = 0;
    now = Date.now();
    mediaDir = await mkdtemp(path.join(os.tmpdir(), 'webchat-media-'));
    media = new FileMediaStore({ dir: mediaDir });
    app = await startWebChat({
      media,
      clock: { now: () => new Date(now) },
      logic: async (context: TurnContext) => {
        if (context.activity.type !== 'message') return;
        turns.push(context.activity);
        await context.sendActivity(`Got ${context.activity.attachments?.length ?? 0} file(s)`);
      },
    });
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await app.close();
    await media.close();
    await rm(mediaDir, { recursive: true, force: true });
  });

  /** A started conversation and its token, as the page holds them. */
  async function conversation() {
    const { token } = app.adapter.generateToken();
    const res = await fetch(`${app.domain}/conversations`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { conversationId: string; token: string };
    return body;
  }

  /** A raw multipart upload, as any Direct Line client may send it. */
  function upload(conversationId: string, token: string, files: { bytes: Buffer; type: string; name: string }[], activity: unknown = { type: 'message', text: 'see this' }) {
    const form = new FormData();
    form.append('activity', new Blob([JSON.stringify(activity)], { type: 'application/vnd.microsoft.activity' }));
    for (const f of files) form.append('file', new Blob([new Uint8Array(f.bytes)], { type: f.type }), f.name);
    return fetch(`${app.domain}/conversations/${conversationId}/upload?userId=someone`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  }

  it('takes a picture from the official client: the bot gets it, the echo shows it, and the link opens it without a header', async () => {
    const { token } = app.adapter.generateToken();
    const client = connect({ domain: app.domain, token });
    clients.push(client);
    const id = await client.post({ text: 'my router', attachments: [{ contentType: 'image/png', contentUrl: dataUrl(PNG, 'image/png'), name: 'router.png' }], channelData: { clientActivityID: 'u-1' } });
    expect(id).to.be.a('string').and.not.equal('retry');
    const echo = (await client.waitFor((a) => a.channelData?.clientActivityID === 'u-1' && !!a.id, 'echo of the upload')) as unknown as Activity;
    expect(echo.id).to.equal(id);
    expect((echo as any).text).to.equal('my router');
    const [attachment] = echo.attachments ?? [];
    expect(attachment).to.include({ contentType: 'image/png', name: 'router.png' });
    // Web Chat shows it with <img src>: a plain GET, no Authorization header, must open it.
    const res = await fetch(attachment!.contentUrl!);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('image/png');
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).to.equal(true);

    await client.waitFor((a) => (a as any).text === 'Got 1 file(s)', 'the bot saw the file');
    const seen = turns.find((t) => t.text === 'my router')!;
    expect(seen.attachments?.[0]?.contentUrl).to.match(/^\/api\/agent\/media\/m_/); // what the transcript and the console keep
    const stored = await media.list(echo.conversation.id);
    expect(stored.map((r) => [r.contentType, r.name, r.size])).to.deep.equal([['image/png', 'router.png', PNG.length]]);
  });

  it('takes a PDF and a picture in one upload, in order', async () => {
    const { conversationId, token } = await conversation();
    const res = await upload(conversationId, token, [
      { bytes: PDF, type: 'application/pdf', name: 'invoice.pdf' },
      { bytes: PNG, type: 'image/png', name: 'screen.png' },
    ]);
    expect(res.status).to.equal(200);
    const { id } = (await res.json()) as { id: string };
    const page = (await (await fetch(`${app.domain}/conversations/${conversationId}/activities`, { headers: { authorization: `Bearer ${token}` } })).json()) as { activities: Activity[] };
    const echo = page.activities.find((a) => a.id === id)!;
    expect(echo.attachments!.map((a) => [a.contentType, a.name])).to.deep.equal([
      ['application/pdf', 'invoice.pdf'],
      ['image/png', 'screen.png'],
    ]);
    const pdf = await fetch(echo.attachments![0]!.contentUrl!);
    expect(pdf.headers.get('content-disposition')).to.match(/^attachment;/); // a download, never rendered in our origin
    expect(Buffer.from(await pdf.arrayBuffer()).equals(PDF)).to.equal(true);
  });

  it("keeps Web Chat's own thumbnail of a picture when it is an inline picture, and drops anything else", async () => {
    const { conversationId, token } = await conversation();
    const thumbnail = dataUrl(PNG, 'image/png');
    const activity = { type: 'message', attachments: [{ contentType: 'image/png', name: 'a.png', thumbnailUrl: thumbnail }, { contentType: 'image/png', name: 'b.png', thumbnailUrl: 'https://tracker.example/pixel.png' }] };
    const res = await upload(conversationId, token, [{ bytes: PNG, type: 'image/png', name: 'a.png' }, { bytes: PNG, type: 'image/png', name: 'b.png' }], activity);
    const { id } = (await res.json()) as { id: string };
    const page = (await (await fetch(`${app.domain}/conversations/${conversationId}/activities`, { headers: { authorization: `Bearer ${token}` } })).json()) as { activities: Activity[] };
    const [a, b] = page.activities.find((x) => x.id === id)!.attachments!;
    expect(a!.thumbnailUrl).to.equal(thumbnail);
    expect(b).to.not.have.property('thumbnailUrl');
  });

  it('answers 413 MessageSizeTooBig, in Direct Line\'s error shape, for a file over the limit, and keeps nothing', async () => {
    const { conversationId, token } = await conversation();
    const res = await upload(conversationId, token, [{ bytes: pngOfSize(MAX_UPLOAD_FILE_BYTES + 1), type: 'image/png', name: 'huge.png' }]);
    expect(res.status).to.equal(413);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).to.equal('MessageSizeTooBig');
    expect(body.error.message).to.include('huge.png');
    expect(await media.list(conversationId)).to.deep.equal([]);
  });

  it('answers 415 for a file that is not a picture or a PDF, whatever its name and type claim', async () => {
    const { conversationId, token } = await conversation();
    const fake = await upload(conversationId, token, [{ bytes: Buffer.from('MZ\x90\x00 this is a program'), type: 'image/png', name: 'cat.png' }]);
    expect(fake.status).to.equal(415);
    expect(((await fake.json()) as any).error).to.include({ code: 'UnsupportedMediaType' });
    const notForm = await fetch(`${app.domain}/conversations/${conversationId}/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' }, body: new Uint8Array(PNG) });
    expect(notForm.status).to.equal(415);
    expect(((await notForm.json()) as any).error.code).to.equal('UnsupportedMediaType');
    expect(await media.list(conversationId)).to.deep.equal([]);
  });

  it('opens an attachment only with a fresh signature of its own conversation, or that conversation\'s token', async () => {
    const a = await conversation();
    const b = await conversation();
    const res = await upload(a.conversationId, a.token, [{ bytes: PNG, type: 'image/png', name: 'a.png' }]);
    const { id } = (await res.json()) as { id: string };
    // Read with the secret, which (unlike the page's token) does not run out when the clock moves on.
    const read = async () => ((await (await fetch(`${app.domain}/conversations/${a.conversationId}/activities`, { headers: { authorization: `Bearer ${TEST_SECRET}` } })).json()) as { activities: Activity[] }).activities.find((x) => x.id === id)!;
    const signed = (await read()).attachments![0]!.contentUrl!;
    const bare = signed.split('?')[0]!;
    const mediaId = bare.split('/').pop()!;

    expect((await fetch(bare)).status, 'no signature, no token').to.equal(401);
    expect((await fetch(bare, { headers: { authorization: `Bearer ${a.token}` } })).status, "the conversation's own token").to.equal(200);
    expect((await fetch(bare, { headers: { authorization: `Bearer ${b.token}` } })).status, "another conversation's token").to.equal(403);
    // The same file and signature under another conversation's path: not this conversation's file.
    expect((await fetch(signed.replace(a.conversationId, b.conversationId))).status).to.equal(403);
    expect((await fetch(`${app.domain}/conversations/${b.conversationId}/attachments/${mediaId}`, { headers: { authorization: `Bearer ${b.token}` } })).status).to.equal(404);

    now += (MEDIA_URL_TTL_SECONDS + 1) * 1000;
    const expired = await fetch(signed);
    expect(expired.status).to.equal(403);
    expect(((await expired.json()) as any).error.code).to.equal('TokenExpired');
    const fresh = (await read()).attachments![0]!.contentUrl!; // a reload reads the log again: a new link
    expect(fresh).to.not.equal(signed);
    expect((await fetch(fresh)).status).to.equal(200);
  });

  it('without a media store, answers 415 saying files are not kept', async () => {
    await app.close();
    app = await startWebChat();
    const { conversationId, token } = await conversation();
    const res = await upload(conversationId, token, [{ bytes: PNG, type: 'image/png', name: 'a.png' }]);
    expect(res.status).to.equal(415);
    expect(((await res.json()) as any).error.message).to.include('keeps no files');
  });
});
