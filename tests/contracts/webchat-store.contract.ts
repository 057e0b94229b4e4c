/**
 * The contract every `WebChatConversationStore` (adapters/webchat/store.ts) must pass, run on the file
 * store and on PostgreSQL: conversation records, the ordered activity log Direct Line watermarks point
 * into, and — where several instances share one store — appends from two stores at once.
 */
import { expect } from 'chai';
import type { Activity } from 'botbuilder';
import type { WebChatConversation, WebChatConversationStore } from '../../adapters/webchat/store.js';

/** What a factory hands the suite: stores on one fresh, empty backing store. */
export interface ConversationStoreUnderTest {
  /** A store on the backing store; called again after the previous one was closed, it is a restart. */
  store(): Promise<WebChatConversationStore>;
  /** Several instances may use the backing store at once (PostgreSQL); false for one process's files. */
  sharedByInstances: boolean;
  dispose(): Promise<void>;
}

/** Registers the contract under `describe(name)`; `make` returns a fresh, empty backing store each time. */
export function webChatStoreContract(name: string, make: () => Promise<ConversationStoreUnderTest>): void {
  describe(`WebChatConversationStore contract: ${name}`, () => {
    let sut: ConversationStoreUnderTest;
    const open: WebChatConversationStore[] = [];
    const store = async () => {
      const s = await sut.store();
      open.push(s);
      return s;
    };
    const restart = async (s: WebChatConversationStore) => {
      await s.close();
      open.splice(open.indexOf(s), 1);
      return store();
    };
    const message = (conversationId: string, text: string) => (position: number): Partial<Activity> => ({
      type: 'message',
      id: `${conversationId}|${String(position).padStart(7, '0')}`,
      conversation: { id: conversationId } as Activity['conversation'],
      from: { id: 'dl_user', name: 'Customer', role: 'user' },
      text,
    });
    const conversation = (id: string, extra: Partial<WebChatConversation> = {}): WebChatConversation => ({ id, userId: 'dl_user', createdAt: '2026-01-01T10:00:00.000Z', ...extra });

    beforeEach(async () => {
      sut = await make();
    });
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
      await sut.dispose();
    });

    it('knows no conversation it was never told of', async () => {
      const s = await store();
      expect(await s.getConversation('conv1')).to.equal(undefined);
      expect(await s.read('conv1', 0, 10)).to.deep.equal({ activities: [], watermark: 0 });
    });

    it('keeps a conversation record, replaced as a whole, across a restart', async () => {
      let s = await store();
      await s.saveConversation(conversation('conv1', { locale: 'en-US' }));
      await s.saveConversation(conversation('conv1', { locale: 'de-DE', startedAt: '2026-01-01T10:00:01.000Z' }));
      s = await restart(s);
      expect(await s.getConversation('conv1')).to.deep.equal(conversation('conv1', { locale: 'de-DE', startedAt: '2026-01-01T10:00:01.000Z' }));
      expect(await s.getConversation('conv2')).to.equal(undefined);
    });

    it('gives each appended activity the next position, which its id can carry, and the watermark after it', async () => {
      const s = await store();
      await s.saveConversation(conversation('conv1'));
      const first = await s.append('conv1', message('conv1', 'hello'));
      const second = await s.append('conv1', message('conv1', 'again'));
      expect(first.watermark).to.equal(1);
      expect(first.activity.id).to.equal('conv1|0000000');
      expect(second.watermark).to.equal(2);
      expect(second.activity.id).to.equal('conv1|0000001');
      const other = await s.append('conv2', message('conv2', 'elsewhere'));
      expect(other.watermark, 'positions are per conversation').to.equal(1);
    });

    it('reads from a watermark, a page at a time, with the watermark to ask from next', async () => {
      let s = await store();
      await s.saveConversation(conversation('conv1'));
      for (let i = 0; i < 7; i++) await s.append('conv1', message('conv1', `m${i}`));
      s = await restart(s);
      const page1 = await s.read('conv1', 0, 3);
      expect(page1.activities.map((a) => a.text)).to.deep.equal(['m0', 'm1', 'm2']);
      expect(page1.watermark).to.equal(3);
      const page2 = await s.read('conv1', page1.watermark, 3);
      expect(page2.activities.map((a) => a.text)).to.deep.equal(['m3', 'm4', 'm5']);
      const page3 = await s.read('conv1', page2.watermark, 3);
      expect(page3.activities.map((a) => a.text)).to.deep.equal(['m6']);
      expect(page3.watermark).to.equal(7);
      expect(await s.read('conv1', 7, 3)).to.deep.equal({ activities: [], watermark: 7 });
      expect(await s.read('conv1', 50, 3), 'a watermark past the end').to.deep.equal({ activities: [], watermark: 7 });
      expect((await s.read('conv1', 5, 100)).activities.map((a) => a.id)).to.deep.equal(['conv1|0000005', 'conv1|0000006']);
    });

    it('returns activities as they were appended, odd characters and all', async () => {
      const s = await store();
      const text = 'nul\u0000 quote" backslash\\ emoji 🔑 newline\n ' + 'x'.repeat(20_000);
      const appended = await s.append('conv1', (p) => ({ ...message('conv1', text)(p), attachments: [{ contentType: 'image/png', contentUrl: 'data:image/png;base64,AAAA' }], channelData: { clientActivityID: 'c-1' } }));
      const [read] = (await s.read('conv1', 0, 1)).activities;
      expect(read).to.deep.equal(JSON.parse(JSON.stringify(appended.activity)));
    });

    it('gives appends to one conversation made at the same moment distinct, consecutive positions', async () => {
      const s = await store();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.append('conv1', message('conv1', `m${i}`))));
      expect(results.map((r) => r.watermark).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
      const { activities } = await s.read('conv1', 0, 100);
      expect(activities.map((a) => a.id)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `conv1|${String(i).padStart(7, '0')}`));
    });

    it('gives appends from two instances at once distinct, consecutive positions, read back in order by both', async function () {
      if (!sut.sharedByInstances) this.skip();
      const a = await store();
      const b = await store();
      await a.saveConversation(conversation('conv1'));
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).append('conv1', message('conv1', `m${i}`))),
      );
      const positions = results.map((r) => Number(r.activity.id!.split('|')[1]));
      expect([...positions].sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 30 }, (_, i) => i));
      expect(results.map((r) => r.watermark)).to.deep.equal(positions.map((p) => p + 1));
      for (const s of [a, b]) {
        const { activities, watermark } = await s.read('conv1', 0, 100);
        expect(watermark).to.equal(30);
        expect(activities.map((x) => x.id)).to.deep.equal(Array.from({ length: 30 }, (_, i) => `conv1|${String(i).padStart(7, '0')}`));
        expect(new Set(activities.map((x) => x.text)).size).to.equal(30);
      }
      expect((await b.getConversation('conv1'))?.userId).to.equal('dl_user');
    });
  });
}
