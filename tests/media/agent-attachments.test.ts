import { expect } from 'chai';
import type { Activity } from 'botbuilder';
import type { WebChatAdapter } from '../../adapters/webchat/index.js';
import { messengerTextWebhook, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import type { FakeGraph } from '../fakes/graph.js';
import { requirePostgres } from '../helpers/postgres.js';
import { connect } from '../webchat/client.js';
import { PHONE_ID, startMediaRig, type MediaRig } from './rig.js';
import { PDF, PNG, dataUrl, pngOfSize } from './samples.js';

const WA_ID = '4915123456789';
const PSID = '7777000011';
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

for (const backend of ['files', 'postgresql'] as const) describe(`agents attach a picture or a PDF to a reply, and each channel sends it its own way (${backend})`, function () {
  this.timeout(60_000);
  let rig: MediaRig;
  let graph: FakeGraph;
  let url: string;
  let token: string;
  let seq = 0;
  const clients: { close(): void }[] = [];

  beforeEach(async function () {
    rig = await startMediaRig(backend === 'postgresql' ? { serverDatabaseUrl: requirePostgres(this) } : {});
    ({ graph, url, token } = rig);
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await rig?.close();
  });

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await rig.agent(path, { method, body });
    return { status: r.status, body: r.body };
  };

  /** Ada uploads a file for a reply in conversation `id`. */
  const attach = async (id: string, bytes: Buffer, type: string, name: string) => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(bytes)], { type }), name);
    const res = await fetch(`${url}/api/agent/conversations/${encodeURIComponent(id)}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
    return { status: res.status, body: (await res.json()) as any };
  };

  /** Waits for the customer's conversation in the queue, and Ada claims it; its id. */
  async function claimQueued(channelId: string): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const { body } = await api('GET', '/api/agent/conversations?status=queued');
      const row = body.conversations.find((c: { channelId: string }) => c.channelId === channelId);
      if (row) {
        expect((await api('POST', `/api/agent/conversations/${encodeURIComponent(row.id)}/claim`)).status).to.equal(200);
        return row.id;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no ${channelId} conversation reached the queue`);
  }

  async function metaAsksForAPerson(channel: 'whatsapp' | 'messenger'): Promise<string> {
    const event =
      channel === 'whatsapp'
        ? whatsappTextWebhook({ waId: WA_ID, name: 'Jürgen', text: 'I want to talk to a human', phoneNumberId: PHONE_ID, wamid: `wamid.att.${++seq}` })
        : messengerTextWebhook({ psid: PSID, text: 'I want to talk to a human', mid: `m_att_${++seq}` });
    expect(await rig.post(channel, event)).to.equal(200);
    return claimQueued(channel);
  }

  async function webChatAsksForAPerson() {
    const { token: dlToken } = (rig.app.adapters.webchat as WebChatAdapter).generateToken();
    const client = connect({ domain: `${url}/v3/directline`, token: dlToken });
    clients.push(client);
    await client.post({ text: 'can I talk to a person' });
    return { client, id: await claimQueued('webchat') };
  }

  it('WhatsApp: uploads each file to /media, then sends an image with the text as caption and a document with its name', async () => {
    const id = await metaAsksForAPerson('whatsapp');
    const png = await attach(id, PNG, 'image/png', 'diagram.png');
    const pdf = await attach(id, PDF, 'application/pdf', 'invoice.pdf');
    expect(png.status).to.equal(201);
    expect(png.body).to.include({ contentType: 'image/png', name: 'diagram.png' });
    const sentImage = await api('POST', `/api/agent/conversations/${id}/messages`, { text: 'This is where the cable goes', attachments: [png.body.mediaId] });
    expect(sentImage.status).to.equal(201);
    expect(sentImage.body.activity.attachments[0]).to.include({ contentType: 'image/png', contentUrl: `/api/agent/media/${png.body.mediaId}` });
    expect((await api('POST', `/api/agent/conversations/${id}/messages`, { attachments: [pdf.body.mediaId] })).status).to.equal(201);

    const uploads = graph.uploads.files.filter((f) => f.api === 'whatsapp');
    expect(uploads.map((f) => [f.fields.type, f.filename, f.fields.messaging_product])).to.deep.equal([
      ['image/png', 'diagram.png', 'whatsapp'],
      ['application/pdf', 'invoice.pdf', 'whatsapp'],
    ]);
    expect(uploads[0]!.bytes.equals(PNG) && uploads[1]!.bytes.equals(PDF)).to.equal(true);
    const media = graph.sent('whatsapp').filter((r) => r.body.type === 'image' || r.body.type === 'document');
    expect(media.map((r) => r.body)).to.deep.equal([
      { messaging_product: 'whatsapp', recipient_type: 'individual', to: WA_ID, type: 'image', image: { id: uploads[0]!.id, caption: 'This is where the cable goes' } },
      { messaging_product: 'whatsapp', recipient_type: 'individual', to: WA_ID, type: 'document', document: { id: uploads[1]!.id, filename: 'invoice.pdf' } },
    ]);
  });

  it('WhatsApp: a picture over 5 MB or a GIF is refused when attached, saying why, and nothing is sent', async () => {
    const id = await metaAsksForAPerson('whatsapp');
    const big = await attach(id, pngOfSize(6 * 1024 * 1024), 'image/png', 'photo.png');
    expect(big.status).to.equal(413);
    expect(big.body.message).to.include('WhatsApp sends images up to 5 MB');
    const gif = await attach(id, GIF, 'image/gif', 'smile.gif');
    expect(gif.status).to.equal(415);
    expect(gif.body.message).to.include('PNG, JPEG or PDF');
    const unknown = await api('POST', `/api/agent/conversations/${id}/messages`, { attachments: ['m_AAAAAAAAAAAAAAAAAAAAAAAA'] });
    expect(unknown.status).to.equal(404);
    expect(graph.uploads.files).to.have.length(0);
  });

  it('Messenger: sends each file as multipart filedata (image, file), then the text on its own', async () => {
    const id = await metaAsksForAPerson('messenger');
    const png = await attach(id, PNG, 'image/png', 'diagram.png');
    const pdf = await attach(id, PDF, 'application/pdf', 'invoice.pdf');
    const before = graph.sent('messenger').length;
    expect((await api('POST', `/api/agent/conversations/${id}/messages`, { text: 'Both files, as promised', attachments: [png.body.mediaId, pdf.body.mediaId] })).status).to.equal(201);

    const files = graph.uploads.files.filter((f) => f.api === 'messenger');
    expect(files.map((f) => [f.field, f.contentType, f.filename, JSON.parse(f.fields.message!).attachment.type])).to.deep.equal([
      ['filedata', 'image/png', 'diagram.png', 'image'],
      ['filedata', 'application/pdf', 'invoice.pdf', 'file'],
    ]);
    expect(files.every((f) => JSON.parse(f.fields.recipient!).id === PSID)).to.equal(true);
    expect(files[0]!.bytes.equals(PNG) && files[1]!.bytes.equals(PDF)).to.equal(true);
    const after = graph.sent('messenger').slice(before);
    expect(after.map((r) => r.body.message?.text ?? r.body.message)).to.include('Both files, as promised');
  });

  it('Web Chat: the customer gets the files as attachments they can open; the customer\'s own upload reaches the agent', async () => {
    const { client, id } = await webChatAsksForAPerson();
    const png = await attach(id, PNG, 'image/png', 'diagram.png');
    const pdf = await attach(id, PDF, 'application/pdf', 'invoice.pdf');
    expect((await api('POST', `/api/agent/conversations/${id}/messages`, { text: 'Here you go', attachments: [png.body.mediaId, pdf.body.mediaId] })).status).to.equal(201);
    const reply = (await client.waitFor((a) => (a as unknown as Activity).text === 'Here you go', 'the agent reply')) as unknown as Activity;
    expect(reply.attachments!.map((a) => [a.contentType, a.name])).to.deep.equal([
      ['image/png', 'diagram.png'],
      ['application/pdf', 'invoice.pdf'],
    ]);
    const opened = await Promise.all(reply.attachments!.map(async (a) => Buffer.from(await (await fetch(a.contentUrl!)).arrayBuffer())));
    expect(opened[0]!.equals(PNG) && opened[1]!.equals(PDF)).to.equal(true);

    // And the other way: the customer sends a photo with Web Chat's attach button (the upload route).
    await client.post({ text: 'my screen', attachments: [{ contentType: 'image/png', contentUrl: dataUrl(PNG, 'image/png'), name: 'screen.png' }] });
    let seen: { contentUrl: string } | undefined;
    for (let i = 0; i < 50 && !seen; i++) {
      const { body } = await api('GET', `/api/agent/conversations/${id}`);
      seen = body.transcript.find((a: Activity) => a.text === 'my screen')?.attachments?.[0];
      if (!seen) await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen, 'the upload is in the transcript').to.include({ contentType: 'image/png', name: 'screen.png' });
    const file = await fetch(url + seen!.contentUrl, { headers: { authorization: `Bearer ${token}` } });
    expect(file.status).to.equal(200);
    expect(Buffer.from(await file.arrayBuffer()).equals(PNG)).to.equal(true);
  });

  it('a file stored for one conversation cannot be sent in another', async () => {
    const wa = await metaAsksForAPerson('whatsapp');
    const fb = await metaAsksForAPerson('messenger');
    const png = await attach(wa, PNG, 'image/png', 'diagram.png');
    const res = await api('POST', `/api/agent/conversations/${fb}/messages`, { attachments: [png.body.mediaId] });
    expect(res.status).to.equal(404);
    expect(graph.uploads.files).to.have.length(0);
  });
});
