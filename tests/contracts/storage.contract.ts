/**
 * The contract every botbuilder `Storage` in Switchboard must pass, run against ours (`LowdbStorage`)
 * (`LowdbStorage`, `PgStorage`) and botbuilder's reference `MemoryStorage`, so "same eTag rules as
 * MemoryStorage" is checked, not claimed. The nested "storageBaseTests" block holds every case of
 * botbuilder-js's own `StorageBaseTests` (botbuilder-core/tests/storageBaseTests.js), written again here.
 */
import { expect } from 'chai';
import { AutoSaveStateMiddleware, ConversationState, MessageFactory, TestAdapter, type Storage, type StoreItem, type StoreItems } from 'botbuilder';
import { Dialog, DialogSet, TextPrompt, WaterfallDialog, type WaterfallStepContext } from 'botbuilder-dialogs';

/** What a factory hands the suite: a fresh, empty storage and how to clean it up. */
export interface StorageUnderTest {
  storage: Storage;
  dispose?: () => Promise<void>;
}

/** Runs `fn` and returns what it threw or rejected with (fails the test if it did neither). */
export async function rejection(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  expect.fail('expected a rejection, got success');
}

/** Keys that break naive file-per-key layouts: separators, traversal, case, unicode, NUL, 5,000 characters. */
export const ODD_KEYS = [
  'channel/conversations/abc/users/def',
  'back\\slash\\key',
  '../../etc/passwd',
  '.hidden',
  'with space and :colon: *star* ?question? |pipe| <lt> "quote"',
  'ünïcødé-κλειδί-鍵-🔑',
  'k'.repeat(5000),
  'CaseSensitive',
  'casesensitive',
  '',
  'nul\u0000char',
];

/** Registers the storage contract under `describe(name)`. `make` returns a fresh, empty storage each time. */
export function storageContract(name: string, make: () => Promise<StorageUnderTest> | StorageUnderTest): void {
  describe(`Storage contract: ${name}`, () => {
    let sut: StorageUnderTest;
    let storage: Storage;
    beforeEach(async () => {
      sut = await make();
      storage = sut.storage;
    });
    afterEach(async () => {
      await sut.dispose?.();
    });

    it('reads nothing for keys never written', async () => {
      expect(await storage.read(['missing', 'also/missing'])).to.deep.equal({});
    });

    it('leaves missing keys out of a read that mixes found and missing ones', async () => {
      await storage.write({ a: { v: 1 } });
      const items = await storage.read(['a', 'nope']);
      expect(Object.keys(items)).to.deep.equal(['a']);
    });

    it('round-trips nested objects and adds an eTag', async () => {
      const item = { text: 'héllo ✓', n: 42.5, yes: true, none: null, list: [1, 'two', { three: 3 }], nested: { deep: { deeper: 'x' } } };
      await storage.write({ obj: item });
      const { obj } = await storage.read(['obj']);
      const { eTag, ...rest } = obj;
      expect(rest).to.deep.equal(item);
      expect(eTag).to.be.a('string').and.not.equal('');
    });

    it('does not change the caller\'s object when writing', async () => {
      const item: StoreItem = { v: 1 };
      await storage.write({ k: item });
      expect(item).to.deep.equal({ v: 1 });
    });

    it('hands out copies: changing a read item changes nothing stored', async () => {
      await storage.write({ k: { v: 1, list: [1] } });
      const first = await storage.read(['k']);
      first.k.v = 2;
      first.k.list.push(2);
      const second = await storage.read(['k']);
      expect(second.k.v).to.equal(1);
      expect(second.k.list).to.deep.equal([1]);
    });

    it('gives every write a new eTag', async () => {
      await storage.write({ k: { v: 1 } });
      const a = (await storage.read(['k'])).k.eTag;
      await storage.write({ k: { v: 2, eTag: a } });
      const b = (await storage.read(['k'])).k.eTag;
      await storage.write({ k: { v: 3, eTag: '*' } });
      const c = (await storage.read(['k'])).k.eTag;
      expect(new Set([a, b, c]).size).to.equal(3);
    });

    it('writes when the eTag matches the stored one', async () => {
      await storage.write({ k: { v: 1 } });
      const read = await storage.read(['k']);
      await storage.write({ k: { ...read.k, v: 2 } });
      expect((await storage.read(['k'])).k.v).to.equal(2);
    });

    it('rejects a stale eTag and keeps the stored item', async () => {
      await storage.write({ k: { v: 1 } });
      const stale = (await storage.read(['k'])).k;
      await storage.write({ k: { ...stale, v: 2 } });
      const err = await rejection(() => storage.write({ k: { ...stale, v: 3 } }));
      expect(err.message).to.match(/eTag conflict/);
      expect((await storage.read(['k'])).k.v).to.equal(2);
    });

    it('overwrites whatever is stored when the eTag is "*"', async () => {
      await storage.write({ k: { v: 1 } });
      await storage.write({ k: { v: 2 } });
      await storage.write({ k: { v: 3, eTag: '*' } });
      expect((await storage.read(['k'])).k.v).to.equal(3);
    });

    it('overwrites whatever is stored when the item has no eTag', async () => {
      await storage.write({ k: { v: 1 } });
      await storage.write({ k: { v: 2 } });
      expect((await storage.read(['k'])).k.v).to.equal(2);
    });

    it('creates a new key even when the item carries an eTag', async () => {
      await storage.write({ fresh: { v: 1, eTag: 'from-elsewhere' } });
      const { fresh } = await storage.read(['fresh']);
      expect(fresh.v).to.equal(1);
      expect(fresh.eTag).to.not.equal('from-elsewhere');
    });

    it('lets exactly one of several concurrent writes holding the same eTag win', async () => {
      await storage.write({ k: { v: 0 } });
      const { k } = await storage.read(['k']);
      const results = await Promise.allSettled([1, 2, 3, 4, 5].map((v) => storage.write({ k: { ...k, v } })));
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      const winner = [1, 2, 3, 4, 5][results.findIndex((r) => r.status === 'fulfilled')];
      expect((await storage.read(['k'])).k.v).to.equal(winner);
    });

    it('keeps every key of a batch write and reads them back in one batch', async () => {
      const changes: Record<string, StoreItem> = {};
      for (let i = 0; i < 25; i++) changes[`batch/${i}`] = { i };
      await storage.write(changes);
      const items = await storage.read(Object.keys(changes));
      expect(Object.keys(items)).to.have.members(Object.keys(changes));
      for (let i = 0; i < 25; i++) expect(items[`batch/${i}`].i).to.equal(i);
    });

    it('writes the other keys of a batch and rejects when one has a stale eTag', async () => {
      await storage.write({ a: { v: 1 } });
      const stale = (await storage.read(['a'])).a;
      await storage.write({ a: { v: 2 } });
      await rejection(() => storage.write({ a: { ...stale, v: 3 }, b: { v: 1 } }));
      const items = await storage.read(['a', 'b']);
      expect(items.a.v).to.equal(2);
      expect(items.b.v).to.equal(1);
    });

    it('keeps odd keys (slashes, dots, unicode, very long, case) apart and intact', async () => {
      const changes: Record<string, StoreItem> = {};
      ODD_KEYS.forEach((key, i) => (changes[key] = { i }));
      await storage.write(changes);
      const items = await storage.read(ODD_KEYS);
      expect(Object.keys(items)).to.have.members(ODD_KEYS);
      ODD_KEYS.forEach((key, i) => expect(items[key].i, JSON.stringify(key.slice(0, 40))).to.equal(i));
    });

    it('deletes keys so they read as missing', async () => {
      await storage.write({ a: { v: 1 }, b: { v: 2 }, c: { v: 3 } });
      await storage.delete(['a', 'c']);
      expect(Object.keys(await storage.read(['a', 'b', 'c']))).to.deep.equal(['b']);
    });

    it('accepts deleting keys that do not exist', async () => {
      await storage.delete(['never-written', 'x/y/z']);
      expect(await storage.read(['never-written'])).to.deep.equal({});
    });

    it('writes a deleted key again from scratch', async () => {
      await storage.write({ k: { v: 1 } });
      const old = (await storage.read(['k'])).k;
      await storage.delete(['k']);
      await storage.write({ k: { ...old, v: 2 } });
      expect((await storage.read(['k'])).k.v).to.equal(2);
    });

    it('rejects a read or write without keys', async () => {
      expect(await rejection(() => storage.read(undefined as unknown as string[]))).to.be.instanceOf(ReferenceError);
      expect(await rejection(() => storage.write(undefined as unknown as Record<string, StoreItem>))).to.be.instanceOf(ReferenceError);
    });

    describe("botbuilder-js storageBaseTests' cases", () => {
      it('returns an empty object when reading an unknown key', async () => {
        const result = await storage.read(['unknown']);
        expect(result).to.not.equal(null);
        expect(Object.keys(result)).to.have.length(0);
      });

      it('rejects null keys when reading and null changes when writing, as MemoryStorage does', async () => {
        const read = await rejection(() => storage.read(null as unknown as string[]));
        expect(read).to.be.instanceOf(ReferenceError);
        expect(read.message).to.equal('Keys are required when reading.');
        const write = await rejection(() => storage.write(null as unknown as StoreItems));
        expect(write).to.be.instanceOf(ReferenceError);
        expect(write.message).to.equal('Changes are required when writing.');
      });

      it('does not throw when writing no items', async () => {
        await storage.write({});
        await storage.write([] as unknown as StoreItems);
        await storage.delete([]);
        expect(await storage.read([])).to.deep.equal({});
      });

      it('creates objects and gives each an eTag', async () => {
        await storage.write({ createPoco: { id: 1 }, createPocoStoreItem: { id: 2 } });
        const read = await storage.read(['createPoco', 'createPocoStoreItem']);
        expect(read.createPoco.id).to.equal(1);
        expect(read.createPocoStoreItem.id).to.equal(2);
        expect(read.createPoco.eTag).to.be.a('string');
        expect(read.createPocoStoreItem.eTag).to.be.a('string');
      });

      it('handles crazy keys', async () => {
        const key = '!@#$%^&*()~/\\><,.?\';"`~';
        await storage.write({ [key]: { id: 1 } });
        const read = await storage.read([key]);
        expect(read[key]?.id).to.equal(1);
      });

      it('updates objects: no eTag overwrites, a stale eTag fails, "*" overwrites', async () => {
        await storage.write({ pocoItem: { id: 1, count: 1 }, pocoStoreItem: { id: 1, count: 1 } });
        const loaded = await storage.read(['pocoItem', 'pocoStoreItem']);
        const pocoItem = loaded.pocoItem;
        delete pocoItem.eTag; // a plain object carries no eTag
        const pocoStoreItem = loaded.pocoStoreItem;
        expect(pocoStoreItem.eTag).to.be.a('string');

        pocoItem.count++;
        pocoStoreItem.count++;
        await storage.write(loaded);
        const reloaded = await storage.read(['pocoItem', 'pocoStoreItem']);
        expect(reloaded.pocoItem.eTag).to.be.a('string');
        expect(reloaded.pocoStoreItem.eTag).to.not.equal(pocoStoreItem.eTag);
        expect(reloaded.pocoItem.count).to.equal(2);
        expect(reloaded.pocoStoreItem.count).to.equal(2);

        pocoItem.count = 123;
        await storage.write({ pocoItem }); // still no eTag: succeeds
        pocoStoreItem.count = 123;
        await rejection(() => storage.write({ pocoStoreItem })); // its eTag is now stale
        const again = await storage.read(['pocoItem', 'pocoStoreItem']);
        expect(again.pocoItem.count).to.equal(123);
        expect(again.pocoStoreItem.count).to.equal(2);

        delete again.pocoItem.eTag;
        again.pocoItem.count = 100;
        again.pocoStoreItem.count = 100;
        again.pocoStoreItem.eTag = '*';
        await storage.write({ pocoItem: again.pocoItem, pocoStoreItem: again.pocoStoreItem });
        const final = await storage.read(['pocoItem', 'pocoStoreItem']);
        expect(final.pocoItem.count).to.equal(100);
        expect(final.pocoStoreItem.count).to.equal(100);
      });

      it('deletes an object', async () => {
        await storage.write({ delete1: { id: 1, count: 1 } });
        const read = await storage.read(['delete1']);
        expect(read.delete1.eTag).to.be.a('string');
        expect(read.delete1.count).to.equal(1);
        await storage.delete(['delete1']);
        expect((await storage.read(['delete1'])).delete1).to.equal(undefined);
      });

      it('deletes an unknown object without complaint', async () => {
        await storage.delete(['unknown_key']);
      });

      it('performs batch operations', async () => {
        await storage.write({ batch1: { count: 10 }, batch2: { count: 20 }, batch3: { count: 30 } });
        let result = await storage.read(['batch1', 'batch2', 'batch3']);
        expect([result.batch1.count, result.batch2.count, result.batch3.count]).to.deep.equal([10, 20, 30]);
        for (const k of ['batch1', 'batch2', 'batch3']) expect(result[k].eTag).to.be.a('string');
        await storage.delete(['batch1', 'batch2', 'batch3']);
        result = await storage.read(['batch1', 'batch2', 'batch3']);
        expect(result).to.deep.equal({});
      });

      it('proceeds through a waterfall dialog whose state it keeps', async () => {
        const convoState = new ConversationState(storage);
        const dialogs = new DialogSet(convoState.createProperty('dialogState'));
        dialogs.add(
          new TextPrompt('textPrompt', async (prompt) => {
            if ((prompt.recognized.value ?? '').length > 3) {
              await prompt.context.sendActivity(MessageFactory.text(`You got it at the ${prompt.attemptCount}th try!`));
              return true;
            }
            await prompt.context.sendActivity(MessageFactory.text(`Please send a name that is longer than 3 characters. ${prompt.attemptCount}`));
            return false;
          }),
        );
        const steps = [
          async (step: WaterfallStepContext) => {
            expect(step.activeDialog?.state['stepIndex']).to.be.a('number');
            await step.context.sendActivity('step1');
            return Dialog.EndOfTurn;
          },
          async (step: WaterfallStepContext) => step.prompt('textPrompt', { prompt: MessageFactory.text('Please type your name.') }),
          async (step: WaterfallStepContext) => {
            await step.context.sendActivity('step3');
            return Dialog.EndOfTurn;
          },
        ];
        dialogs.add(new WaterfallDialog('waterfallDialog', steps));
        const adapter = new TestAdapter(async (turnContext) => {
          const dc = await dialogs.createContext(turnContext);
          await dc.continueDialog();
          if (!turnContext.responded) await dc.beginDialog('waterfallDialog');
        }).use(new AutoSaveStateMiddleware(convoState));

        await adapter
          .send('hello')
          .assertReply('step1')
          .send('hello')
          .assertReply('Please type your name.')
          .send('hi')
          .assertReply('Please send a name that is longer than 3 characters. 1')
          .send('hi')
          .assertReply('Please send a name that is longer than 3 characters. 2')
          .send('hi')
          .assertReply('Please send a name that is longer than 3 characters. 3')
          .send('Kyle')
          .assertReply('You got it at the 4th try!')
          .assertReply('step3')
          .startTest();
      });
    });
  });
}
