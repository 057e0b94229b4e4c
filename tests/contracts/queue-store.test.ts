import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileQueueStore, MemoryQueueStore } from '../../src/handoff/file-queue-store.js';
import { PgQueueStore } from '../../src/handoff/pg-queue-store.js';
import { VersionConflictError, type ConversationRecord } from '../../src/handoff/queue-store.js';
import { Database } from '../../src/storage/postgres/database.js';
import { usePostgres } from '../helpers/postgres.js';
import { queueStoreContract, record } from './queue-store.contract.js';

queueStoreContract('MemoryQueueStore', async () => ({ store: new MemoryQueueStore() }), { persistent: false });

queueStoreContract('FileQueueStore', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'queue-store-'));
  return { store: await FileQueueStore.open(dir), reopen: () => FileQueueStore.open(dir), dispose: () => rm(dir, { recursive: true, force: true }) };
});

describe('PgQueueStore', function () {
  const pg = usePostgres();
  /** A second `Database` on the same database: its own pool, as another instance has. */
  const instance = async () => {
    const db = await Database.open(pg.url, { migrate: false, max: 4 });
    await db.query('SELECT 1'); // connected before the race starts
    return db;
  };

  queueStoreContract('PgQueueStore', async () => {
    await pg.db.query('TRUNCATE handoff_conversations');
    return {
      store: new PgQueueStore(pg.db),
      reopen: async () => {
        const db = await instance();
        return Object.assign(new PgQueueStore(db), { close: () => db.close() });
      },
    };
  });

  it('lets exactly one of many claims from several instances win', async () => {
    await pg.db.query('TRUNCATE handoff_conversations');
    const dbs = await Promise.all([1, 2, 3, 4].map(instance));
    try {
      const stores = dbs.map((db) => new PgQueueStore(db));
      for (let round = 0; round < 5; round++) {
        const id = `race-${round}`;
        const queued = await stores[0]!.save(record(id, { owner: 'queued' }));
        const claims = stores.flatMap((store, s) => [0, 1, 2].map((c) => store.save({ ...queued, owner: 'assigned', agentId: `agent-${s}-${c}` })));
        const results = await Promise.allSettled(claims);
        const won = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<ConversationRecord>[];
        expect(won, `round ${round}`).to.have.length(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).to.be.instanceOf(VersionConflictError);
        // Every instance reads the winner.
        for (const store of stores) expect((await store.get(id))!).to.include({ owner: 'assigned', agentId: won[0]!.value.agentId, version: 2 });
      }
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });

  it('reads the queue through the indexes on owner and on channel and customer', async () => {
    const plans = await pg.db.transaction(async (client) => {
      await client.query('SET LOCAL enable_seqscan = off'); // a tiny table would be scanned anyway; this shows an index can serve it
      const plan = async (sql: string) => (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
      return [
        await plan(`SELECT record FROM handoff_conversations WHERE owner = 'queued' ORDER BY seq`),
        await plan(`SELECT record FROM handoff_conversations WHERE channel_id = 'whatsapp' AND customer_id = 'c1'`),
      ];
    });
    expect(plans[0]).to.include('handoff_conversations_owner');
    expect(plans[1]).to.include('handoff_conversations_customer');
  });
});
