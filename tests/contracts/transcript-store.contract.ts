/**
 * The contract every botbuilder `TranscriptStore` in Switchboard must pass, run against ours
 * (`LowdbTranscriptStore`) and botbuilder's reference `MemoryTranscriptStore`: ordering, paging with
 * continuation tokens (20 per page), start dates, listing with creation dates, deletion.
 */
import { expect } from 'chai';
import { ActivityTypes, type Activity, type TranscriptStore } from 'botbuilder';
import { rejection } from './storage.contract.js';

/** What a factory hands the suite: a fresh, empty store and how to clean it up. */
export interface TranscriptStoreUnderTest {
  store: TranscriptStore;
  dispose?: () => Promise<void>;
}

const T0 = Date.parse('2026-11-01T10:00:00.000Z');

/** A fresh user message (a new object each time: MemoryTranscriptStore keeps references). */
export function message(channelId: string, conversationId: string, id: string, secondsAfterT0: number, text = id): Activity {
  return {
    type: ActivityTypes.Message,
    id,
    channelId,
    conversation: { id: conversationId, isGroup: false, conversationType: 'personal', name: '' },
    from: { id: 'user-1', name: 'Customer', role: 'user' },
    recipient: { id: 'bot', name: 'Bot', role: 'bot' },
    serviceUrl: 'https://example.test/',
    timestamp: new Date(T0 + secondsAfterT0 * 1000),
    text,
  } as Activity;
}

/** Registers the transcript store contract under `describe(name)`. */
export function transcriptStoreContract(name: string, make: () => Promise<TranscriptStoreUnderTest> | TranscriptStoreUnderTest): void {
  describe(`TranscriptStore contract: ${name}`, () => {
    let sut: TranscriptStoreUnderTest;
    let store: TranscriptStore;
    beforeEach(async () => {
      sut = await make();
      store = sut.store;
    });
    afterEach(async () => {
      await sut.dispose?.();
    });

    it('reads a conversation back in timestamp order, with Date timestamps', async () => {
      await store.logActivity(message('test', 'c1', 'b', 2));
      await store.logActivity(message('test', 'c1', 'a', 1));
      await store.logActivity(message('test', 'c1', 'c', 3));
      const page = await store.getTranscriptActivities('test', 'c1');
      expect(page.items.map((a) => a.id)).to.deep.equal(['a', 'b', 'c']);
      expect(page.items[0].timestamp).to.be.instanceOf(Date);
      expect(page.items[0].text).to.equal('a');
      expect(page.continuationToken).to.equal(undefined);
    });

    it('keeps conversations and channels apart', async () => {
      await store.logActivity(message('test', 'c1', 'one', 1));
      await store.logActivity(message('test', 'c2', 'two', 2));
      await store.logActivity(message('other', 'c1', 'three', 3));
      expect((await store.getTranscriptActivities('test', 'c1')).items.map((a) => a.id)).to.deep.equal(['one']);
      expect((await store.getTranscriptActivities('test', 'c2')).items.map((a) => a.id)).to.deep.equal(['two']);
      expect((await store.getTranscriptActivities('other', 'c1')).items.map((a) => a.id)).to.deep.equal(['three']);
    });

    it('returns an empty page for an unknown channel or conversation', async () => {
      await store.logActivity(message('test', 'c1', 'one', 1));
      expect((await store.getTranscriptActivities('test', 'nope')).items).to.deep.equal([]);
      expect((await store.getTranscriptActivities('nope', 'c1')).items).to.deep.equal([]);
      expect((await store.listTranscripts('nope')).items).to.deep.equal([]);
    });

    it('pages 20 activities at a time with a continuation token', async () => {
      for (let i = 0; i < 45; i++) await store.logActivity(message('test', 'long', `m${String(i).padStart(2, '0')}`, i));
      const seen: string[] = [];
      const sizes: number[] = [];
      let token: string | undefined;
      do {
        const page = await store.getTranscriptActivities('test', 'long', token);
        sizes.push(page.items.length);
        seen.push(...page.items.map((a) => a.id!));
        token = page.continuationToken;
      } while (token);
      expect(sizes).to.deep.equal([20, 20, 5]);
      expect(seen).to.deep.equal(Array.from({ length: 45 }, (_, i) => `m${String(i).padStart(2, '0')}`));
    });

    it('leaves out activities older than the start date', async () => {
      for (let i = 0; i < 5; i++) await store.logActivity(message('test', 'c1', `m${i}`, i * 60));
      const page = await store.getTranscriptActivities('test', 'c1', undefined, new Date(T0 + 120_000));
      expect(page.items.map((a) => a.id)).to.deep.equal(['m2', 'm3', 'm4']);
    });

    it('lists the conversations of a channel with their creation date, oldest first', async () => {
      await store.logActivity(message('test', 'later', 'x', 50));
      await store.logActivity(message('test', 'earlier', 'y', 10));
      await store.logActivity(message('test', 'later', 'z', 60));
      await store.logActivity(message('other', 'elsewhere', 'w', 1));
      const { items } = await store.listTranscripts('test');
      expect(items.map((t) => [t.channelId, t.id])).to.deep.equal([
        ['test', 'earlier'],
        ['test', 'later'],
      ]);
      expect(items[0].created).to.be.instanceOf(Date);
      expect(items[0].created.getTime()).to.equal(T0 + 10_000);
      expect(items[1].created.getTime()).to.equal(T0 + 50_000);
    });

    it('pages the conversation list 20 at a time', async () => {
      for (let i = 0; i < 42; i++) await store.logActivity(message('test', `conv-${String(i).padStart(2, '0')}`, `m${i}`, i));
      const ids: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await store.listTranscripts('test', token);
        ids.push(...page.items.map((t) => t.id));
        token = page.continuationToken;
        pages++;
      } while (token);
      expect(pages).to.equal(3);
      expect(ids).to.deep.equal(Array.from({ length: 42 }, (_, i) => `conv-${String(i).padStart(2, '0')}`));
    });

    it('deletes one conversation and keeps the others', async () => {
      await store.logActivity(message('test', 'gone', 'a', 1));
      await store.logActivity(message('test', 'kept', 'b', 2));
      await store.deleteTranscript('test', 'gone');
      expect((await store.getTranscriptActivities('test', 'gone')).items).to.deep.equal([]);
      expect((await store.listTranscripts('test')).items.map((t) => t.id)).to.deep.equal(['kept']);
      expect((await store.getTranscriptActivities('test', 'kept')).items.map((a) => a.id)).to.deep.equal(['b']);
    });

    it('accepts deleting a conversation that does not exist', async () => {
      await store.deleteTranscript('test', 'never');
      expect((await store.listTranscripts('test')).items).to.deep.equal([]);
    });

    it('refuses to read, list or delete without a channel or conversation id', async () => {
      expect((await rejection(() => store.getTranscriptActivities('', 'c'))).message).to.match(/channelId/);
      expect((await rejection(() => store.getTranscriptActivities('test', ''))).message).to.match(/conversationId/);
      expect((await rejection(() => store.listTranscripts(''))).message).to.match(/channelId/);
      expect((await rejection(() => store.deleteTranscript('test', ''))).message).to.match(/conversationId/);
    });
  });
}
