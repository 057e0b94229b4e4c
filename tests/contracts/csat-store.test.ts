import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileCsatStore } from '../../src/bot/csat-store.js';
import { Database } from '../../src/storage/postgres/database.js';
import { PgCsatStore } from '../../src/storage/postgres/csat-store.js';
import { usePostgres } from '../helpers/postgres.js';
import { csatStoreContract } from './csat-store.contract.js';

csatStoreContract('FileCsatStore', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-csat-'));
  return {
    store: () => FileCsatStore.open(dir),
    sharedByInstances: false,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('PgCsatStore', function () {
  const pg = usePostgres();
  /** A second pool on the same database, as another instance would have. */
  let other: Database;
  before(async () => (other = await Database.open(pg.url, { migrate: false })));
  after(async () => other?.close());

  csatStoreContract('PgCsatStore', async () => {
    await pg.db.query('TRUNCATE csat');
    let stores = 0;
    return { store: async () => new PgCsatStore(stores++ % 2 ? other : pg.db), sharedByInstances: true, dispose: async () => undefined };
  });
});
