/**
 * The contract every `MediaStore` (src/media/store.ts) must pass, run on the file store and on
 * PostgreSQL: bytes come back exactly, records say what was stored, a conversation lists its own files
 * only, a repeated source is stored once, erasure removes bytes and records, and all of it survives a
 * restart.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { MAX_MEDIA_BYTES, MediaTooLargeError, type MediaStore } from '../../src/media/store.js';

/** What a factory hands the suite: stores on one fresh, empty backing store. */
export interface MediaStoreUnderTest {
  /** A store on the backing store; called again after the previous one was closed, it is a restart. */
  store(): Promise<MediaStore>;
  dispose(): Promise<void>;
}

/** Registers the contract under `describe(name)`. */
export function mediaStoreContract(name: string, make: () => Promise<MediaStoreUnderTest>): void {
  describe(`MediaStore contract: ${name}`, function () {
    this.timeout(20_000);
    let sut: MediaStoreUnderTest;
    const open: MediaStore[] = [];
    const store = async () => {
      const s = await sut.store();
      open.push(s);
      return s;
    };
    const restart = async (s: MediaStore) => {
      await s.close();
      open.splice(open.indexOf(s), 1);
      return store();
    };
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(2000)]);

    beforeEach(async () => (sut = await make()));
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
      await sut.dispose();
    });

    it('gives back exactly the bytes it was given, with their size, hash and type, after a restart', async () => {
      let s = await store();
      const record = await s.put({ conversationId: 'conv1', channelId: 'whatsapp', contentType: 'image/jpeg', bytes: jpeg, source: 'whatsapp:123' });
      expect(record).to.include({ conversationId: 'conv1', channelId: 'whatsapp', contentType: 'image/jpeg', size: jpeg.length, source: 'whatsapp:123' });
      expect(record.sha256).to.equal(createHash('sha256').update(jpeg).digest('hex'));
      expect(record.id).to.match(/^m_[A-Za-z0-9_-]{24}$/);
      expect(Number.isNaN(Date.parse(record.createdAt))).to.equal(false);
      s = await restart(s);
      const found = await s.get(record.id);
      expect(found?.record).to.deep.equal(record);
      expect(found?.bytes.equals(jpeg)).to.equal(true);
    });

    it('keeps a file name, without any path, and an empty file', async () => {
      const s = await store();
      const record = await s.put({ conversationId: 'conv1', channelId: 'webchat', contentType: 'application/pdf', name: '../../etc/Invoice 12.pdf', bytes: Buffer.alloc(0) });
      expect(record.name).to.equal('Invoice 12.pdf');
      expect(record.size).to.equal(0);
      expect((await s.get(record.id))?.bytes.length).to.equal(0);
    });

    it('knows no id it did not hand out, and refuses ids that are not ids', async () => {
      const s = await store();
      await s.put({ conversationId: 'conv1', channelId: 'whatsapp', contentType: 'image/png', bytes: jpeg });
      expect(await s.get('m_AAAAAAAAAAAAAAAAAAAAAAAA')).to.equal(undefined);
      for (const bad of ['', '../objects/x', 'm_' + 'a'.repeat(300), "m_'; DROP TABLE media; --"]) expect(await s.get(bad)).to.equal(undefined);
    });

    it('lists a conversation’s files oldest first, and only that conversation’s', async () => {
      const s = await store();
      const a = await s.put({ conversationId: 'conv/1 ü', channelId: 'facebook', contentType: 'image/png', bytes: Buffer.from('a') });
      const b = await s.put({ conversationId: 'conv/1 ü', channelId: 'facebook', contentType: 'audio/mp4', bytes: Buffer.from('b') });
      await s.put({ conversationId: 'conv2', channelId: 'facebook', contentType: 'image/png', bytes: Buffer.from('c') });
      expect((await s.list('conv/1 ü')).map((r) => r.id)).to.deep.equal([a.id, b.id]);
      expect(await s.list('nobody')).to.deep.equal([]);
    });

    it('stores one file per source in a conversation, however often it is put', async () => {
      const s = await store();
      const first = await s.put({ conversationId: 'conv1', channelId: 'whatsapp', contentType: 'image/jpeg', bytes: jpeg, source: 'whatsapp:9' });
      const again = await Promise.all([1, 2, 3].map(() => s.put({ conversationId: 'conv1', channelId: 'whatsapp', contentType: 'image/jpeg', bytes: jpeg, source: 'whatsapp:9' })));
      for (const r of again) expect(r.id).to.equal(first.id);
      expect(await s.list('conv1')).to.have.length(1);
      // The same source in another conversation is another customer's file.
      const other = await s.put({ conversationId: 'conv2', channelId: 'whatsapp', contentType: 'image/jpeg', bytes: jpeg, source: 'whatsapp:9' });
      expect(other.id).to.not.equal(first.id);
    });

    it('keeps every file of concurrent puts to one conversation', async () => {
      const s = await store();
      const put = await Promise.all(Array.from({ length: 12 }, (_, i) => s.put({ conversationId: 'busy', channelId: 'webchat', contentType: 'text/plain', bytes: Buffer.from(`file ${i}`) })));
      const listed = await s.list('busy');
      expect(listed.map((r) => r.id).sort()).to.deep.equal(put.map((r) => r.id).sort());
    });

    it('erases a conversation’s files, bytes and records, and no other conversation’s', async () => {
      let s = await store();
      const gone = await s.put({ conversationId: 'conv1', channelId: 'whatsapp', contentType: 'image/jpeg', bytes: jpeg, source: 'whatsapp:1' });
      await s.put({ conversationId: 'conv1', channelId: 'whatsapp', contentType: 'video/mp4', bytes: Buffer.from('v') });
      const kept = await s.put({ conversationId: 'conv2', channelId: 'whatsapp', contentType: 'image/jpeg', bytes: jpeg });
      expect(await s.deleteConversation('conv1')).to.equal(2);
      s = await restart(s);
      expect(await s.get(gone.id)).to.equal(undefined);
      expect(await s.list('conv1')).to.deep.equal([]);
      expect((await s.get(kept.id))?.bytes.equals(jpeg)).to.equal(true);
      expect(await s.deleteConversation('conv1')).to.equal(0);
      // After erasure the same source may be stored again (the customer sends it anew).
      const back = await s.put({ conversationId: 'conv1', channelId: 'whatsapp', contentType: 'image/jpeg', bytes: jpeg, source: 'whatsapp:1' });
      expect(back.id).to.not.equal(gone.id);
    });

    it('refuses a file larger than MAX_MEDIA_BYTES and stores nothing of it', async () => {
      const s = await store();
      const err = await s.put({ conversationId: 'big', channelId: 'webchat', contentType: 'video/mp4', bytes: Buffer.alloc(MAX_MEDIA_BYTES + 1) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(MediaTooLargeError);
      expect(await s.list('big')).to.deep.equal([]);
    });
  });
}
