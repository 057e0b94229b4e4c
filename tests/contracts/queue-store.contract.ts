/**
 * The contract every handoff `QueueStore` must pass (memory, files, PostgreSQL): records read back as
 * copies, `save` as a compare-and-set on `version` (exactly one of many concurrent saves from the same
 * version wins, a stale one stores nothing), and `list` with `matchesQuery`'s meaning.
 */
import { expect } from 'chai';
import { VersionConflictError, type ConversationRecord, type QueueStore } from '../../src/handoff/queue-store.js';

/** What a factory hands the suite: a fresh, empty store, and optionally a second view of the same data. */
export interface QueueStoreUnderTest {
  store: QueueStore;
  /** Another store over the same data (a restarted process, another instance); omitted for memory. */
  reopen?: () => Promise<QueueStore>;
  dispose?: () => Promise<void>;
}

/** A conversation record as the hub first stores it (owner `bot`, version 0). */
export function record(id: string, extra: Partial<ConversationRecord> = {}): ConversationRecord {
  const now = '2026-11-23T10:00:00.000Z';
  return {
    id,
    channelId: 'whatsapp',
    reference: { conversation: { id } as any },
    customer: { id: `c-${id}`, name: 'Ada' },
    owner: 'bot',
    priority: 0,
    rejectedEntryIds: [],
    notes: [],
    createdAt: now,
    updatedAt: now,
    handoffs: 0,
    version: 0,
    ...extra,
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  expect.fail('expected a VersionConflictError, the save succeeded');
}

const ids = (rows: ConversationRecord[]) => rows.map((r) => r.id).sort();

/**
 * Registers the queue store contract under `describe(QueueStore contract: name)`; `make` returns a fresh,
 * empty store each time. `persistent: false` (memory) leaves out the test that reads through `reopen`.
 */
export function queueStoreContract(name: string, make: () => Promise<QueueStoreUnderTest>, { persistent = true } = {}): void {
  describe(`QueueStore contract: ${name}`, () => {
    let t: QueueStoreUnderTest;
    let store: QueueStore;
    beforeEach(async () => {
      t = await make();
      store = t.store;
    });
    afterEach(async () => {
      await t.store.close?.();
      await t.dispose?.();
    });

    it('creates a record at version 1 and reads back a copy', async () => {
      const saved = await store.save(record('a'));
      expect(saved.version).to.equal(1);
      const read = (await store.get('a'))!;
      read.notes.push({ at: '', agentId: 'x', agentName: 'x', text: 'changed' });
      expect((await store.get('a'))!.notes).to.deep.equal([]);
      expect(await store.get('missing')).to.equal(undefined);
    });

    it('keeps every field of the record, nested ones included', async () => {
      const full = record('full', {
        owner: 'assigned',
        agentId: 'ada',
        agentName: 'Ada',
        team: 'billing',
        priority: 2,
        queuedAt: '2026-11-23T10:01:00.000Z',
        assignedAt: '2026-11-23T10:02:00.000Z',
        reason: 'customer-asked',
        question: 'where is order 55512? "quoted" \\ ünïcødé',
        rejectedEntryIds: ['billing/pay', 'tech/reset'],
        summary: { emails: ['a@b.com'], phoneNumbers: [], orderNumbers: ['55512'], dates: [], text: 'email a@b.com · order 55512' },
        notes: [{ at: '2026-11-23T10:03:00.000Z', agentId: 'ada', agentName: 'Ada', text: 'VIP' }],
        handoffs: 1,
      });
      const saved = await store.save(full);
      expect(saved).to.deep.equal({ ...full, version: 1 });
      expect(await store.get('full')).to.deep.equal({ ...full, version: 1 });
    });

    it('refuses a save from a stale version and keeps the stored record', async () => {
      const v1 = await store.save(record('a'));
      await store.save({ ...v1, owner: 'queued' });
      const error = await rejection(store.save({ ...v1, owner: 'assigned', agentId: 'bob' }));
      expect(error).to.be.instanceOf(VersionConflictError);
      expect(error).to.include({ id: 'a', expected: 1, actual: 2 });
      expect((await store.get('a'))!).to.include({ owner: 'queued', version: 2 });
      expect((await store.get('a'))!.agentId).to.equal(undefined);
    });

    it('refuses to create a record twice', async () => {
      await store.save(record('a'));
      const error = await rejection(store.save(record('a', { owner: 'queued' })));
      expect(error).to.be.instanceOf(VersionConflictError);
      expect((await store.get('a'))!).to.include({ owner: 'bot', version: 1 });
    });

    it('refuses an update of a record that was never stored', async () => {
      const error = await rejection(store.save(record('ghost', { version: 3 })));
      expect(error).to.be.instanceOf(VersionConflictError);
      expect(error).to.include({ expected: 3, actual: 0 });
      expect(await store.get('ghost')).to.equal(undefined);
    });

    it('lets exactly one of many concurrent saves from the same version win', async () => {
      const v1 = await store.save(record('a', { owner: 'queued' }));
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => store.save({ ...v1, owner: 'assigned', agentId: `agent-${i}` })));
      const won = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<ConversationRecord>[];
      expect(won).to.have.length(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).to.be.instanceOf(VersionConflictError);
      expect((await store.get('a'))!).to.include({ agentId: won[0]!.value.agentId, version: 2 });
    });

    it('lets exactly one of many concurrent creations of the same conversation win', async () => {
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.save(record('new', { question: `q${i}` }))));
      const won = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<ConversationRecord>[];
      expect(won).to.have.length(1);
      expect((await store.get('new'))!.question).to.equal(won[0]!.value.question);
    });

    it('lists by owner, customer, channel and resolution', async () => {
      await store.save(record('a', { owner: 'queued' }));
      await store.save(record('b', { owner: 'assigned', channelId: 'messenger' }));
      await store.save(record('c', { resolvedAt: '2026-11-23T11:00:00.000Z' }));
      expect((await store.list({ owner: 'queued' })).map((r) => r.id)).to.deep.equal(['a']);
      expect((await store.list({ channelId: 'messenger' })).map((r) => r.id)).to.deep.equal(['b']);
      expect((await store.list({ resolved: true })).map((r) => r.id)).to.deep.equal(['c']);
      expect((await store.list({ customerId: 'c-b' })).map((r) => r.id)).to.deep.equal(['b']);
      expect(await store.list()).to.have.length(3);
    });

    it('combines filters, and counts a resolved conversation taken again as not resolved', async () => {
      await store.save(record('w1', { customer: { id: 'same' } }));
      await store.save(record('m1', { channelId: 'messenger', customer: { id: 'same' } }));
      const again = await store.save(record('w2', { customer: { id: 'same' }, resolvedAt: '2026-11-23T11:00:00.000Z' }));
      expect(ids(await store.list({ channelId: 'whatsapp', customerId: 'same' }))).to.deep.equal(['w1', 'w2']);
      expect(ids(await store.list({ resolved: false }))).to.deep.equal(['m1', 'w1']);
      await store.save({ ...again, owner: 'queued' });
      expect(await store.list({ resolved: true })).to.deep.equal([]);
      expect(ids(await store.list({ resolved: false, owner: 'queued' }))).to.deep.equal(['w2']);
      expect(await store.list({ owner: 'assigned', channelId: 'whatsapp' })).to.deep.equal([]);
    });

    it('lists a record under its new owner once it moves', async () => {
      const v1 = await store.save(record('a', { owner: 'queued' }));
      await store.save({ ...v1, owner: 'assigned', agentId: 'ada' });
      expect(await store.list({ owner: 'queued' })).to.deep.equal([]);
      expect((await store.list({ owner: 'assigned' }))[0]).to.include({ id: 'a', agentId: 'ada', version: 2 });
    });

    if (persistent) it('is seen whole by another store over the same data', async () => {
      const v1 = await store.save(record('conv/1:odd id', { owner: 'queued' }));
      await store.save({ ...v1, owner: 'assigned', agentId: 'ada' });
      await store.save(record('conv-2'));
      const other = await t.reopen!();
      try {
        expect((await other.get('conv/1:odd id'))!).to.include({ owner: 'assigned', agentId: 'ada', version: 2 });
        expect(await other.list()).to.have.length(2);
      } finally {
        await other.close?.();
      }
    });
  });
}
