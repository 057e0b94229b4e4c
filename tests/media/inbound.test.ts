import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { t } from '../../src/bot/strings.js';
import { MEDIA_UNAVAILABLE_TYPE, LOCATION_TYPE } from '../../src/media/attachments.js';
import { WHATSAPP_MEDIA_LIMITS } from '../../src/media/store.js';
import { requirePostgres } from '../helpers/postgres.js';
import { PNG_1X1, messengerAttachments, startMediaRig, whatsappMessage, type MediaRig } from './rig.js';

const customerMessage = (view: any, pred: (a: any) => boolean = () => true) => view.transcript.find((a: any) => a.type === 'message' && a.from?.role === 'user' && pred(a));
const storedFile = (a: any) => a?.attachments?.find((x: any) => typeof x.contentUrl === 'string' && x.contentUrl.startsWith('/api/agent/media/'));

for (const backend of ['files', 'postgresql'] as const) {
  describe(`a customer's media reaches the agent (${backend})`, function () {
    this.timeout(60_000);
    let rig: MediaRig;
    before(async function () {
      rig = await startMediaRig(backend === 'postgresql' ? { serverDatabaseUrl: requirePostgres(this) } : {});
    });
    after(async () => rig?.close());

    it('keeps a WhatsApp photo with its caption; the agent sees both and fetches the bytes with a token, never without', async () => {
      const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(4000)]);
      const mediaId = rig.graph.media.addWhatsApp(jpeg, 'image/jpeg');
      const sha256 = createHash('sha256').update(jpeg).digest('hex');
      expect(await rig.post('whatsapp', whatsappMessage('16505550001', 'image', { id: mediaId, mime_type: 'image/jpeg', sha256, caption: 'Black jacket' }))).to.equal(200);

      const view = await rig.viewWhen('16505550001', (v) => !!storedFile(customerMessage(v)));
      const message = customerMessage(view);
      expect(message.text).to.equal('Black jacket');
      const file = storedFile(message);
      expect(file.contentType).to.equal('image/jpeg');
      expect(file.content).to.include({ kind: 'image', size: jpeg.length });
      expect(view.media).to.have.length(1);
      expect(view.media[0]).to.include({ id: file.content.mediaId, channelId: 'whatsapp', contentType: 'image/jpeg', size: jpeg.length, sha256, source: `whatsapp:${mediaId}` });

      // The lookup and the download both carried the WhatsApp token, as Meta requires.
      const lookup = rig.graph.requests.find((r) => r.api === 'media' && r.path.endsWith(`/${mediaId}`))!;
      expect(lookup.authorization).to.equal('Bearer wa-token');
      expect(lookup.query.phone_number_id).to.equal('106540352242922');
      expect(rig.graph.media.downloads.filter((d) => d.status === 200).map((d) => d.authorization)).to.include('Bearer wa-token');

      const got = await rig.agent(file.contentUrl);
      expect(got.status).to.equal(200);
      expect(got.bytes.equals(jpeg)).to.equal(true);
      expect(got.headers.get('content-type')).to.equal('image/jpeg');
      expect(got.headers.get('x-content-type-options')).to.equal('nosniff');
      expect(got.headers.get('content-disposition')).to.match(/^inline; filename=/);

      const anonymous = await rig.agent(file.contentUrl, { token: null });
      expect(anonymous.status).to.equal(401);
      expect(anonymous.body.code).to.equal('Unauthorized');
      expect((await rig.agent(file.contentUrl, { token: 'not-a-session' })).status).to.equal(401);
      expect((await rig.agent('/api/agent/media/m_AAAAAAAAAAAAAAAAAAAAAAAA')).status).to.equal(404);
    });

    it('answers Meta 200 before the file is downloaded (a slow CDN holds up no webhook)', async () => {
      const mediaId = rig.graph.media.addWhatsApp(PNG_1X1, 'image/png');
      const release = rig.graph.media.hold();
      try {
        expect(await rig.post('whatsapp', whatsappMessage('16505550009', 'image', { id: mediaId, mime_type: 'image/png' }))).to.equal(200);
        expect((await rig.agent('/healthz', { token: null })).status).to.equal(200);
      } finally {
        release();
      }
      const view = await rig.viewWhen('16505550009', (v) => !!storedFile(customerMessage(v)));
      expect(view.media).to.have.length(1);
    });

    it('tells the customer, while the bot has the conversation, that the file is kept for a person', async () => {
      const mediaId = rig.graph.media.addWhatsApp(PNG_1X1, 'image/png');
      await rig.post('whatsapp', whatsappMessage('16505550002', 'image', { id: mediaId, mime_type: 'image/png' }));
      await rig.graph.waitFor((r) => r.isMessage && r.status === 200 && r.body?.to === '16505550002');
      const texts = rig.sentTo('whatsapp', '16505550002').map((r) => r.body.text?.body);
      expect(texts).to.deep.equal([t('en', 'mediaKept')]);
      expect(texts[0]).to.not.match(/only read text/);
    });

    it('keeps a Messenger photo from its CDN link (no token sent there)', async () => {
      const cdnUrl = rig.graph.media.addCdn(PNG_1X1, 'image/png', 'photo.png');
      expect(await rig.post('messenger', messengerAttachments('7777000001', [{ type: 'image', payload: { url: cdnUrl } }]))).to.equal(200);
      const view = await rig.viewWhen('7777000001', (v) => !!storedFile(customerMessage(v)));
      const file = storedFile(customerMessage(view));
      expect(file.contentType).to.equal('image/png');
      expect(view.media.map((m: any) => m.channelId)).to.deep.equal(['messenger']);
      expect((await rig.agent(file.contentUrl)).bytes.equals(PNG_1X1)).to.equal(true);
      const download = rig.graph.media.downloads.find((d) => d.path.includes('photo.png'))!;
      expect(download.authorization).to.equal(undefined);
      await rig.graph.waitFor((r) => r.isMessage && r.status === 200 && r.body?.recipient?.id === '7777000001');
      expect(rig.sentTo('messenger', '7777000001').map((r) => r.body.message?.text)).to.deep.equal([t('en', 'mediaKept')]);
    });

    it('rides out a failed download: the second attempt keeps the file', async () => {
      const mediaId = rig.graph.media.addWhatsApp(PNG_1X1, 'image/png');
      rig.graph.media.failDownloads(1, 500);
      await rig.post('whatsapp', whatsappMessage('16505550003', 'image', { id: mediaId, mime_type: 'image/png' }));
      const view = await rig.viewWhen('16505550003', (v) => !!storedFile(customerMessage(v)));
      expect(view.media).to.have.length(1);
      // A fresh URL for the second attempt: a WhatsApp media URL lives five minutes only.
      expect(rig.graph.requests.filter((r) => r.api === 'media' && r.path.endsWith(`/${mediaId}`))).to.have.length(2);
    });

    it('shows the agent why a file could not be downloaded, and asks the customer to send it again', async () => {
      await rig.post('whatsapp', whatsappMessage('16505550004', 'document', { id: '999999999', mime_type: 'application/pdf', filename: 'bill.pdf', caption: 'my bill' }));
      const view = await rig.viewWhen('16505550004', (v) => !!customerMessage(v)?.attachments?.length);
      const message = customerMessage(view);
      expect(message.text).to.equal('my bill');
      const missing = message.attachments[0];
      expect(missing.contentType).to.equal(MEDIA_UNAVAILABLE_TYPE);
      expect(missing.name).to.equal('bill.pdf');
      expect(missing.content.kind).to.equal('document');
      expect(missing.content.reason).to.match(/does not exist/);
      await rig.graph.waitFor((r) => r.isMessage && r.status === 200 && r.body?.to === '16505550004');
      expect(rig.sentTo('whatsapp', '16505550004').map((r) => r.body.text?.body)).to.deep.equal([t('en', 'mediaNotKept')]);
    });

    it('does not download a file larger than WhatsApp allows for its kind', async () => {
      const mediaId = rig.graph.media.addWhatsApp(Buffer.alloc(10), 'image/webp', { fileSize: WHATSAPP_MEDIA_LIMITS.sticker + 1 });
      const before = rig.graph.media.downloads.length;
      await rig.post('whatsapp', whatsappMessage('16505550005', 'sticker', { id: mediaId, mime_type: 'image/webp', animated: true }));
      const view = await rig.viewWhen('16505550005', (v) => !!customerMessage(v)?.attachments?.length);
      expect(customerMessage(view).attachments[0].content.reason).to.match(/more than the 0\.5 MB kept for a sticker/);
      expect(rig.graph.media.downloads.length).to.equal(before);
      expect(view.media).to.deep.equal([]);
    });

    it('shows a location as coordinates and a map link, with nothing to download', async () => {
      await rig.post('whatsapp', whatsappMessage('16505550006', 'location', { latitude: 37.483307, longitude: -122.148981, name: 'Philz Coffee', address: '1 Hacker Way, Menlo Park, CA 94025' }));
      const view = await rig.viewWhen('16505550006', (v) => !!customerMessage(v));
      const message = customerMessage(view);
      expect(message.text).to.include('Philz Coffee, 1 Hacker Way, Menlo Park, CA 94025');
      expect(message.text).to.include('37.483307, -122.148981');
      expect(message.text).to.include('https://www.openstreetmap.org/?mlat=37.483307&mlon=-122.148981');
      expect(message.attachments[0]).to.deep.include({ contentType: LOCATION_TYPE });
      expect(message.attachments[0].content).to.include({ latitude: 37.483307, longitude: -122.148981 });
    });

    it('serves a document a browser could run (HTML) only as a download', async () => {
      const html = Buffer.from('<script>alert(1)</script>');
      const mediaId = rig.graph.media.addWhatsApp(html, 'text/html');
      await rig.post('whatsapp', whatsappMessage('16505550007', 'document', { id: mediaId, mime_type: 'text/html', filename: 'invoice.html' }));
      const view = await rig.viewWhen('16505550007', (v) => !!storedFile(customerMessage(v)));
      const got = await rig.agent(storedFile(customerMessage(view)).contentUrl);
      expect(got.headers.get('content-type')).to.equal('application/octet-stream');
      expect(got.headers.get('content-disposition')).to.equal(`attachment; filename="invoice.html"; filename*=UTF-8''invoice.html`);
      expect(got.headers.get('content-security-policy')).to.include('sandbox');
      expect(got.bytes.equals(html)).to.equal(true);
    });

    it('while a person has the conversation, the photo reaches the agent and the bot says nothing', async () => {
      const waId = '16505550008';
      await rig.post('whatsapp', whatsappTextWebhook(waId, 'agent'));
      await rig.viewWhen(waId, (v) => v.conversation.owner === 'queued');
      const sentBefore = rig.sentTo('whatsapp', waId).length;
      const mediaId = rig.graph.media.addWhatsApp(PNG_1X1, 'image/png');
      await rig.post('whatsapp', whatsappMessage(waId, 'image', { id: mediaId, mime_type: 'image/png', caption: 'the broken screen' }));
      const view = await rig.viewWhen(waId, (v) => !!storedFile(customerMessage(v, (a) => a.text === 'the broken screen')));
      expect(view.media).to.have.length(1);
      // The turn is over once the transcript has it; give a wrong bot reply the same chance to show.
      await new Promise((r) => setTimeout(r, 300));
      expect(rig.sentTo('whatsapp', waId).length).to.equal(sentBefore);
    });
  });
}

function whatsappTextWebhook(waId: string, text: string) {
  const body = whatsappMessage(waId, 'text', { body: text });
  return body;
}
