import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MemoryStorage } from 'botbuilder';
import { InsightsStore } from '../../src/bot/insights.js';
import { LowdbStorage } from '../../src/storage/index.js';
import { ETagConflictError } from '../../src/storage/errors.js';
import { Database, DatabaseUnavailableError } from '../../src/storage/postgres/database.js';
import { PgStorage } from '../../src/storage/postgres/storage.js';
import { usePostgres } from '../helpers/postgres.js';
import { rejection, storageContract } from './storage.contract.js';

storageContract('botbuilder MemoryStorage', () => ({ storage: new MemoryStorage() }));

storageContract('LowdbStorage', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-storage-'));
  return { storage: new LowdbStorage({ dir }), dispose: () => rm(dir, { recursive: true, force: true }) };
});

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('PgStorage', () => {
  const pg = usePostgres();

  storageContract('PgStorage', async () => {
    await pg.db.query('TRUNCATE bot_state');
    return { storage: new PgStorage(pg.db) };
  });

  describe('on a database shared by several instances', () => {
    let second: Database;
    beforeEach(async () => {
      await pg.db.query('TRUNCATE bot_state');
      second = await Database.open(pg.url, { migrate: false });
    });
    afterEach(() => second.close());

    it('rejects a stale eTag written by another instance with ETagConflictError and keeps its write', async () => {
      const a = new PgStorage(pg.db);
      const b = new PgStorage(second);
      await a.write({ 'conversation/1': { step: 1 } });
      const onA = (await a.read(['conversation/1']))['conversation/1'];
      const onB = (await b.read(['conversation/1']))['conversation/1'];
      await b.write({ 'conversation/1': { ...onB, step: 2 } });
      const err = await rejection(() => a.write({ 'conversation/1': { ...onA, step: 3 } }));
      expect(err).to.be.instanceOf(ETagConflictError);
      expect(err.message).to.contain('conversation/1');
      expect((await a.read(['conversation/1']))['conversation/1'].step).to.equal(2);
    });

    // The entry's document exists first: two instances creating it at once can still lose the first
    // counts (InsightsStore writes a new document without an eTag, and botbuilder's Storage has no "create only").
    it('loses no insights count when two instances count the same answer at once', async () => {
      const one = new InsightsStore(new PgStorage(pg.db));
      const two = new InsightsStore(new PgStorage(second));
      await one.recordFeedback('billing/pay', true);
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).recordFeedback('billing/pay', i % 3 !== 0)));
      const [counts] = await two.feedback('billing/pay');
      expect(counts.helpful + counts.notHelpful).to.equal(21);
      expect(counts.notHelpful).to.equal(7);
    });
  });

  it('reports an unreachable database as DatabaseUnavailableError (a webhook answers 503)', async () => {
    const down = await Database.open(`postgres://postgres@127.0.0.1:${await closedPort()}/postgres`, { migrate: false, connectionTimeoutMillis: 2000 });
    try {
      const storage = new PgStorage(down);
      for (const call of [() => storage.read(['k']), () => storage.write({ k: { v: 1 } }), () => storage.delete(['k'])]) {
        const err = await rejection(call);
        expect(err).to.be.instanceOf(DatabaseUnavailableError);
        expect(err.message).to.match(/^PgStorage\.(read|write|delete): the database is unavailable/);
      }
    } finally {
      await down.close();
    }
  });
});
