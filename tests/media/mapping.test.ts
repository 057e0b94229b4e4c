import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { parseWhatsAppWebhook } from '../../adapters/whatsapp/inbound.js';
import { parseMessengerWebhook } from '../../adapters/messenger/inbound.js';
import { LOCATION_TYPE, PENDING_MEDIA_TYPE } from '../../src/media/attachments.js';
import { MAX_CONCURRENT_MEDIA_FETCHES, MediaFetcher, downloadLimited, MediaDownloadError, pendingMediaAttachment, sha256Matches } from '../../adapters/shared/media.js';
import { FileMediaStore } from '../../src/media/file-store.js';
import { silentLogger } from '../../src/log.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentDisposition, servesInline } from '../../src/media/serve.js';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const fixture = async (name: string) => JSON.parse(await readFile(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const PHONE_ID = '106540352242922';

describe('customer media in Meta webhooks (mapping, no I/O)', () => {
  it('reads a WhatsApp image as a file to fetch by its media id, the caption as the text', async () => {
    const [m] = parseWhatsAppWebhook(await fixture('whatsapp/image.json'), 'https://graph', PHONE_ID).messages;
    expect(m!.unsupported).to.equal(true);
    expect(m!.activity.text).to.equal('Black jacket');
    expect(m!.activity.attachments).to.deep.equal([
      {
        contentType: PENDING_MEDIA_TYPE,
        name: 'image',
        content: { kind: 'image', mediaId: '2754859441498128', contentType: 'image/jpeg', name: undefined, sha256: '81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3', source: 'whatsapp:2754859441498128' },
      },
    ]);
  });

  it('reads a WhatsApp sticker as a sticker file and a location as words, coordinates and a map link', async () => {
    const [sticker] = parseWhatsAppWebhook(await fixture('whatsapp/sticker.json'), 'https://graph', PHONE_ID).messages;
    expect(sticker!.activity.attachments![0]!.content).to.include({ kind: 'sticker', mediaId: '1239425477325420', contentType: 'image/webp' });
    expect(sticker!.activity.text).to.equal('');
    const [location] = parseWhatsAppWebhook(await fixture('whatsapp/location.json'), 'https://graph', PHONE_ID).messages;
    expect(location!.activity.text).to.equal(
      '📍 Philz Coffee, 1 Hacker Way, Menlo Park, CA 94025 — 37.483307, -122.148981 https://www.openstreetmap.org/?mlat=37.483307&mlon=-122.148981#map=17/37.483307/-122.148981',
    );
    expect(location!.activity.attachments![0]!.contentType).to.equal(LOCATION_TYPE);
  });

  it('reads Messenger attachments as files to fetch from their CDN link, one source per attachment', async () => {
    const [image] = parseMessengerWebhook(await fixture('messenger/attachment-image.json'), 'https://graph').messages;
    expect(image!.activity.attachments![0]!.content).to.deep.equal({ kind: 'image', url: 'https://scontent.xx.fbcdn.net/v/t1.15752-9/attachment.png', name: undefined, source: 'messenger:mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c:0' });
    const [sticker] = parseMessengerWebhook(await fixture('messenger/attachment-sticker.json'), 'https://graph').messages;
    expect(sticker!.activity.attachments![0]!.content).to.include({ kind: 'sticker' });
    expect(sticker!.unsupported).to.equal(true);
  });

  it('names a Messenger file by its title or its URL, and keeps a location and a share as they came', async () => {
    const body = await fixture('messenger/attachment-image.json');
    body.entry[0].messaging[0].message.attachments = [
      { type: 'file', payload: { url: 'https://cdn.example/x/Invoice%20May.pdf?sig=1' } },
      { type: 'location', title: 'Home', payload: { coordinates: { lat: 52.52, long: 13.405 } } },
      { type: 'fallback', title: 'A link', payload: { url: 'https://example.com/page' } },
    ];
    const [m] = parseMessengerWebhook(body, 'https://graph').messages;
    const [file, place, share] = m!.activity.attachments!;
    expect(file!.content).to.include({ kind: 'document', name: 'Invoice May.pdf' });
    expect(place!.contentType).to.equal(LOCATION_TYPE);
    expect(m!.activity.text).to.include('52.52, 13.405');
    expect(share).to.include({ contentType: 'application/vnd.facebook.fallback', contentUrl: 'https://example.com/page' });
  });
});

describe('media downloads and responses', () => {
  it('refuses a download larger than the limit, whether or not the server says its length', async () => {
    const server = createServer((req, res) => {
      // Not chained: restify, loaded by other suites, patches writeHead to return nothing.
      if (req.url === '/announced') {
        res.writeHead(200, { 'content-length': '2000' });
        res.end(Buffer.alloc(2000));
      } else {
        res.writeHead(200, { 'transfer-encoding': 'chunked' });
        res.write(Buffer.alloc(800));
        res.end(Buffer.alloc(800));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const path of ['/announced', '/chunked']) {
        const err = await downloadLimited(base + path, { limit: 1000, timeoutMs: 5000 }).then(() => undefined, (e: unknown) => e);
        expect(err, path).to.be.instanceOf(MediaDownloadError);
        expect((err as MediaDownloadError).retryable).to.equal(false);
      }
      expect((await downloadLimited(base + '/chunked', { limit: 1600, timeoutMs: 5000 })).bytes.length).to.equal(1600);
      const file = await downloadLimited('file:///etc/passwd', { limit: 1000, timeoutMs: 5000 }).then(() => undefined, (e: unknown) => e);
      expect((file as Error).message).to.match(/not http/);
    } finally {
      server.close();
    }
  });

  it('checks a SHA-256 given in hex or base64, and ignores one in neither form', () => {
    const hash = createHash('sha256').update('x').digest();
    expect(sha256Matches(hash, hash.toString('hex').toUpperCase())).to.equal(true);
    expect(sha256Matches(hash, hash.toString('base64'))).to.equal(true);
    expect(sha256Matches(hash, 'a'.repeat(64))).to.equal(false);
    expect(sha256Matches(hash, 'IMAGE_HASH')).to.equal(undefined);
  });

  it('shows raster images, audio and video inline and nothing a browser could run', () => {
    for (const t of ['image/jpeg', 'image/png', 'image/webp', 'audio/ogg', 'video/mp4']) expect(servesInline(t), t).to.equal(true);
    for (const t of ['image/svg+xml', 'text/html', 'application/xhtml+xml', 'application/pdf', 'text/xml', 'application/javascript']) expect(servesInline(t), t).to.equal(false);
    expect(contentDisposition('attachment', 'Rechnung "März".pdf')).to.equal(`attachment; filename="Rechnung _M_rz_.pdf"; filename*=UTF-8''Rechnung%20%22M%C3%A4rz%22.pdf`);
  });
});

describe('MediaFetcher', () => {
  it(`fetches at most ${MAX_CONCURRENT_MEDIA_FETCHES} files at once per channel, and every one in the end`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-media-fetch-'));
    let inFlight = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const fetcher = new MediaFetcher({
      store: new FileMediaStore({ dir }),
      channelId: 'messenger',
      locate: async (p) => ({ url: p.url! }),
      logger: silentLogger,
      sleep: async () => {},
      fetch: async () => {
        most = Math.max(most, ++inFlight);
        await new Promise<void>((r) => releases.push(r));
        inFlight--;
        return new Response(Buffer.from('png'), { headers: { 'content-type': 'image/png' } });
      },
    });
    try {
      const activities = Array.from({ length: 10 }, (_, i) => ({
        conversation: { id: `c${i}` } as any,
        attachments: [pendingMediaAttachment({ kind: 'image', url: `https://cdn.example/${i}.png`, source: `messenger:m${i}:0` })],
      }));
      const done = Promise.all(activities.map((a) => fetcher.resolve(a)));
      while (activities.some((a) => a.attachments[0]!.contentType === PENDING_MEDIA_TYPE)) {
        await new Promise((r) => setTimeout(r, 5));
        releases.splice(0).forEach((r) => r());
      }
      await done;
      expect(most).to.equal(MAX_CONCURRENT_MEDIA_FETCHES);
      expect(activities.every((a) => a.attachments[0]!.contentType === 'image/png')).to.equal(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
