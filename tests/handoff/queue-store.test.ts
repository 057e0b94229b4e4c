import { expect } from 'chai';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileQueueStore, MemoryQueueStore } from '../../src/handoff/file-queue-store.js';
import { VersionConflictError, type ConversationRecord, type QueueStore } from '../../src/handoff/queue-store.js';

function record(id: string, extra: Partial<ConversationRecord> = {}): ConversationRecord {
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

// The contract every QueueStore must keep (a PostgreSQL store would run this suite too).
for (const [name, open] of [
  ['FileQueueStore', (dir: string) => FileQueueStore.open(dir)],
  ['MemoryQueueStore', async () => new MemoryQueueStore()],
] as const) {
  describe(`QueueStore contract: ${name}`, () => {
    let dir: string;
    let store: QueueStore;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'queue-store-'));
      store = await open(dir);
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('creates a record at version 1 and reads back a copy', async () => {
      const saved = await store.save(record('a'));
      expect(saved.version).to.equal(1);
      const read = (await store.get('a'))!;
      read.notes.push({ at: '', agentId: 'x', agentName: 'x', text: 'changed' });
      expect((await store.get('a'))!.notes).to.deep.equal([]);
    });

    it('refuses a save from a stale version and keeps the stored record', async () => {
      const v1 = await store.save(record('a'));
      await store.save({ ...v1, owner: 'queued' });
      let error: unknown;
      try {
        await store.save({ ...v1, owner: 'assigned', agentId: 'bob' });
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(VersionConflictError);
      expect((await store.get('a'))!).to.include({ owner: 'queued', version: 2 });
    });

    it('refuses to create a record twice', async () => {
      await store.save(record('a'));
      let error: unknown;
      await store.save(record('a')).catch((e) => (error = e));
      expect(error).to.be.instanceOf(VersionConflictError);
    });

    it('lets exactly one of many concurrent saves from the same version win', async () => {
      const v1 = await store.save(record('a', { owner: 'queued' }));
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => store.save({ ...v1, owner: 'assigned', agentId: `agent-${i}` })));
      const won = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<ConversationRecord>[];
      expect(won).to.have.length(1);
      expect((await store.get('a'))!.agentId).to.equal(won[0]!.value.agentId);
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
  });
}

describe('FileQueueStore', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'queue-file-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps every conversation in its own file and finds them all after a restart', async () => {
    const store = await FileQueueStore.open(dir);
    const v1 = await store.save(record('conv/1:odd id', { owner: 'queued' }));
    await store.save({ ...v1, owner: 'assigned', agentId: 'ada' });
    await store.save(record('conv-2'));
    const files = await readdir(path.join(dir, 'handoff', 'conversations'));
    expect(files.filter((f) => f.endsWith('.json'))).to.have.length(2);
    const reopened = await FileQueueStore.open(dir);
    expect((await reopened.get('conv/1:odd id'))!).to.include({ owner: 'assigned', agentId: 'ada', version: 2 });
    expect(await reopened.list()).to.have.length(2);
  });
});
