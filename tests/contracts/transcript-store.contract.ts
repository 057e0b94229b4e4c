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

/** What the Switchboard suite's factory hands over: a fresh store, and another process's store on the same data. */
export interface SwitchboardTranscriptStoreUnderTest {
  store: SwitchboardTranscriptStore;
  /** A store as another process (a restarted server, another instance) opens it on the same data. */
  another: () => SwitchboardTranscriptStore;
  dispose?: () => Promise<void>;
}

/** What Switchboard's own stores offer beyond botbuilder's `TranscriptStore`. */
export interface SwitchboardTranscriptStore extends TranscriptStore {
  whenWritten(channelId: string, conversationId: string): Promise<void>;
  allTranscripts(channelId: string): Promise<{ channelId: string; id: string; created: Date }[]>;
  listTranscriptsOfUser(channelId: string, customerId: string): Promise<{ channelId: string; id: string; created: Date }[]>;
}

/** The bot's reply to `user-1` (the customer is the recipient). */
function reply(channelId: string, conversationId: string, id: string, secondsAfterT0: number): Activity {
  const a = message(channelId, conversationId, id, secondsAfterT0, `reply ${id}`);
  a.from = { id: 'bot', name: 'Bot', role: 'bot' };
  a.recipient = { id: 'user-1', name: 'Customer', role: 'user' };
  return a;
}

/**
 * The contract of Switchboard's own transcript stores (`LowdbTranscriptStore`, `PgTranscriptStore`):
 * what the agent console, the channels' settle step and crash replay rely on.
 */
export function switchboardTranscriptStoreContract(name: string, make: () => Promise<SwitchboardTranscriptStoreUnderTest>): void {
  describe(`Switchboard TranscriptStore contract: ${name}`, () => {
    let sut: SwitchboardTranscriptStoreUnderTest;
    let store: SwitchboardTranscriptStore;
    beforeEach(async () => {
      sut = await make();
      store = sut.store;
    });
    afterEach(async () => {
      await sut.dispose?.();
    });

    it('keeps logging order between activities with the same timestamp', async () => {
      const ids = ['q', 'r1', 'r2', 'r3', 'r0'];
      for (const id of ids) await store.logActivity(message('test', 'c1', id, 5));
      expect((await store.getTranscriptActivities('test', 'c1')).items.map((a) => a.id)).to.deep.equal(ids);
    });

    it('is readable once whenWritten resolves, even when logActivity was not awaited', async () => {
      for (let i = 0; i < 5; i++) void store.logActivity(message('test', 'c1', `m${i}`, i));
      await store.whenWritten('test', 'c1');
      expect((await store.getTranscriptActivities('test', 'c1')).items.map((a) => a.id)).to.deep.equal(['m0', 'm1', 'm2', 'm3', 'm4']);
    });

    it('resolves whenWritten for a conversation nothing was logged to', async () => {
      await store.whenWritten('test', 'never-logged');
    });

    it('does not log twice a turn that another process runs again after a crash', async () => {
      await store.logActivity(message('test', 'c1', 'earlier', 0));
      await store.logActivity(message('test', 'c1', 'mid-1', 1));
      await store.logActivity(reply('test', 'c1', 'out-1', 2));
      const restarted = sut.another();
      await restarted.logActivity(message('test', 'c1', 'mid-1', 1)); // the same customer message, replayed
      await restarted.logActivity(reply('test', 'c1', 'out-1', 3)); // the reply already sent: same id, new time
      await restarted.logActivity(reply('test', 'c1', 'out-2', 4)); // the reply the crash prevented
      await restarted.whenWritten('test', 'c1');
      expect((await restarted.getTranscriptActivities('test', 'c1')).items.map((a) => a.id)).to.deep.equal(['earlier', 'mid-1', 'out-1', 'out-2']);
    });

    it('keeps every update of one message logged by this process (they share its id)', async () => {
      await store.logActivity(message('test', 'c1', 'm', 1));
      for (const [s, text] of [[2, 'first edit'], [3, 'second edit']] as const) {
        await store.logActivity({ ...message('test', 'c1', 'm', s, text), type: ActivityTypes.MessageUpdate });
      }
      const { items } = await store.getTranscriptActivities('test', 'c1');
      expect(items.map((a) => [a.type, a.text])).to.deep.equal([
        ['message', 'm'],
        ['messageUpdate', 'first edit'],
        ['messageUpdate', 'second edit'],
      ]);
    });

    it('pages once through a transcript whose ids repeat', async () => {
      for (let i = 0; i < 30; i++) await store.logActivity({ ...message('test', 'c1', `m${i % 3}`, i, `t${i}`), type: i < 3 ? ActivityTypes.Message : ActivityTypes.MessageUpdate });
      const texts: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await store.getTranscriptActivities('test', 'c1', token);
        texts.push(...page.items.map((a) => a.text!));
        token = page.continuationToken;
      } while (token && ++pages < 10);
      expect(texts).to.deep.equal(Array.from({ length: 30 }, (_, i) => `t${i}`));
    });

    it("lists one customer's conversations from messages either way, oldest first, without deleted ones", async () => {
      await store.logActivity(reply('test', 'proactive', 'p', 30)); // the bot wrote first
      await store.logActivity(message('test', 'first', 'a', 10));
      await store.logActivity({ ...message('test', 'someone-else', 'b', 20), from: { id: 'user-2', name: 'Other', role: 'user' } });
      await store.logActivity(message('test', 'gone', 'c', 40));
      await store.logActivity(message('other', 'elsewhere', 'd', 5));
      await store.deleteTranscript('test', 'gone');
      const mine = await store.listTranscriptsOfUser('test', 'user-1');
      expect(mine.map((t) => t.id)).to.deep.equal(['first', 'proactive']);
      expect(mine[0].created.getTime()).to.equal(T0 + 10_000);
      expect((await store.listTranscriptsOfUser('test', 'user-2')).map((t) => t.id)).to.deep.equal(['someone-else']);
      expect(await store.listTranscriptsOfUser('test', 'nobody')).to.deep.equal([]);
    });

    it('lists every conversation of a channel at once, oldest first', async () => {
      for (let i = 24; i >= 0; i--) await store.logActivity(message('test', `conv-${i}`, `m${i}`, i));
      const all = await store.allTranscripts('test');
      expect(all.map((t) => t.id)).to.deep.equal(Array.from({ length: 25 }, (_, i) => `conv-${i}`));
      expect(await store.allTranscripts('other')).to.deep.equal([]);
    });

    it('starts a deleted conversation afresh when it is logged to again', async () => {
      await store.logActivity(message('test', 'c1', 'old', 1));
      await store.deleteTranscript('test', 'c1');
      await store.logActivity(message('test', 'c1', 'new', 50));
      expect((await store.getTranscriptActivities('test', 'c1')).items.map((a) => a.id)).to.deep.equal(['new']);
      const [info] = (await store.listTranscripts('test')).items;
      expect(info.created.getTime()).to.equal(T0 + 50_000);
    });
  });
}
