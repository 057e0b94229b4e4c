import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemoryStorage, type Storage, type StoreItems } from 'botbuilder';
import { fixedClock } from '../../src/clock.js';
import { InsightsConflictError, InsightsStore } from '../../src/bot/insights.js';
import { LowdbStorage } from '../../src/storage/lowdb-storage.js';

describe('InsightsStore', () => {
  it('counts helpful and unhelpful feedback per entry', async () => {
    const store = new InsightsStore(new MemoryStorage(), { clock: fixedClock('2026-12-01T10:00:00Z') });
    await store.recordFeedback('billing/card', true);
    await store.recordFeedback('billing/card', false);
    await store.recordFeedback('billing/card', true);
    expect(await store.feedback('billing/card')).to.deep.equal([{ entryId: 'billing/card', helpful: 2, notHelpful: 1, lastAt: '2026-12-01T10:00:00.000Z' }]);
    expect(await store.feedback('billing/other')).to.deep.equal([]);
  });

  it('lists every entry with feedback, the most often unhelpful first', async () => {
    const store = new InsightsStore(new MemoryStorage());
    await store.recordFeedback('a', true);
    await store.recordFeedback('b', false);
    await store.recordFeedback('b', false);
    await store.recordFeedback('c', false);
    expect((await store.feedback()).map((f) => f.entryId)).to.deep.equal(['b', 'c', 'a']);
  });

  it('lists unanswered questions newest first, across days, with since and limit', async () => {
    const clock = fixedClock('2026-11-30T23:00:00Z');
    const store = new InsightsStore(new MemoryStorage(), { clock });
    await store.recordUnanswered({ query: 'first', channel: 'webchat' });
    clock.set('2026-12-01T09:00:00Z');
    await store.recordUnanswered({ query: 'second', channel: 'whatsapp' });
    clock.set('2026-12-01T11:00:00Z');
    await store.recordUnanswered({ query: 'third', channel: 'messenger' });

    expect((await store.unanswered()).map((q) => q.query)).to.deep.equal(['third', 'second', 'first']);
    expect((await store.unanswered({ since: new Date('2026-12-01T10:00:00Z') })).map((q) => q.query)).to.deep.equal(['third']);
    expect((await store.unanswered({ limit: 2 })).map((q) => q.query)).to.deep.equal(['third', 'second']);
    expect((await store.unanswered())[2]).to.deep.equal({ query: 'first', channel: 'webchat', at: '2026-11-30T23:00:00.000Z' });
  });

  it('loses no count when many turns record feedback at once', async () => {
    const store = new InsightsStore(new MemoryStorage());
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.recordFeedback('billing/card', i % 2 === 0)));
    expect((await store.feedback('billing/card'))[0]).to.include({ helpful: 25, notHelpful: 25 });
  });

  it('counts a popular answer\'s feedback in a few writes, not one per customer (customers do not wait in line)', async () => {
    // A storage whose writes take a while, like fsync under load, counting the writes of the entry's document.
    const memory = new MemoryStorage();
    let writes = 0;
    const slow: Storage = {
      read: (keys) => memory.read(keys),
      delete: (keys) => memory.delete(keys),
      write: async (changes: StoreItems) => {
        if (Object.keys(changes).some((k) => k.includes('feedback'))) writes++;
        await new Promise((r) => setTimeout(r, 20));
        return memory.write(changes);
      },
    };
    const store = new InsightsStore(slow);
    const first = store.recordFeedback('billing/card', true);
    await new Promise((r) => setTimeout(r, 5)); // the first write is in flight
    await Promise.all([first, ...Array.from({ length: 150 }, (_, i) => store.recordFeedback('billing/card', i % 3 !== 0))]);
    expect((await store.feedback('billing/card'))[0]).to.include({ helpful: 101, notHelpful: 50 });
    expect(writes).to.equal(2);
  });

  it('retries on eTag conflicts between two server instances sharing one storage', async () => {
    const storage = new MemoryStorage();
    const one = new InsightsStore(storage);
    const two = new InsightsStore(storage);
    await one.recordFeedback('billing/card', true); // the document exists: from here on, eTags guard it
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).recordFeedback('billing/card', true)));
    expect((await one.feedback('billing/card'))[0]).to.include({ helpful: 21 });
  });

  it('keeps feedback and unanswered questions in LowdbStorage across a restart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'insights-'));
    try {
      const before = new InsightsStore(new LowdbStorage({ dir, fsync: false }));
      await Promise.all([before.recordFeedback('billing/card', false), before.recordUnanswered({ query: 'esim in Japan?', channel: 'whatsapp' })]);
      const after = new InsightsStore(new LowdbStorage({ dir, fsync: false }));
      expect((await after.feedback())[0]).to.include({ entryId: 'billing/card', notHelpful: 1 });
      expect((await after.unanswered())[0]).to.include({ query: 'esim in Japan?', channel: 'whatsapp' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives up with a named error when a document keeps conflicting', async () => {
    const inner = new MemoryStorage();
    const alwaysConflicting: Storage = {
      read: (keys) => inner.read(keys),
      delete: (keys) => inner.delete(keys),
      write: async (changes: StoreItems) => {
        const key = Object.keys(changes)[0]!;
        if (key.includes('feedback') && changes[key].eTag) throw new Error(`Storage: error writing "${key}" due to eTag conflict.`);
        return inner.write(changes);
      },
    };
    const store = new InsightsStore(alwaysConflicting, { maxRetries: 3 });
    await store.recordFeedback('billing/card', true);
    const err = await store.recordFeedback('billing/card', true).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InsightsConflictError);
    expect((err as Error).message).to.contain('insights/feedback/billing/card').and.contain('3 attempts');
  });

  it('does not retry a storage failure that is not a conflict', async () => {
    let writes = 0;
    const broken: Storage = {
      read: async () => ({}),
      delete: async () => undefined,
      write: async () => {
        writes++;
        throw new Error('disk full');
      },
    };
    const err = await new InsightsStore(broken).recordUnanswered({ query: 'q', channel: 'webchat' }).catch((e: unknown) => e);
    expect((err as Error).message).to.equal('disk full');
    expect(writes).to.equal(1);
  });
});
