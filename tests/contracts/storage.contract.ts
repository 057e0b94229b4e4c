/**
 * The contract every botbuilder `Storage` in Switchboard must pass, run against ours (`LowdbStorage`)
 * and botbuilder's reference `MemoryStorage`, so "same eTag rules as MemoryStorage" is checked, not
 * claimed. Modelled on botbuilder-js `storageBaseTests`.
 */
import { expect } from 'chai';
import type { Storage, StoreItem } from 'botbuilder';

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
  });
}
