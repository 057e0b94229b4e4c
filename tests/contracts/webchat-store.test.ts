import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileConversationStore } from '../../adapters/webchat/store.js';
import { Database } from '../../src/storage/postgres/database.js';
import { PgConversationStore } from '../../src/storage/postgres/webchat-store.js';
import { usePostgres } from '../helpers/postgres.js';
import { webChatStoreContract } from './webchat-store.contract.js';

webChatStoreContract('FileConversationStore', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-webchat-'));
  return {
    store: async () => new FileConversationStore({ dir, tailSize: 4 }),
    sharedByInstances: false,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('PgConversationStore', function () {
  const pg = usePostgres();
  /** A second pool on the same database, as another instance would have. */
  let other: Database;
  before(async () => (other = await Database.open(pg.url, { migrate: false })));
  after(async () => other?.close());

  webChatStoreContract('PgConversationStore', async () => {
    // A fresh backing store per test: the suite's database emptied.
    await pg.db.query('TRUNCATE webchat_conversations, webchat_activities');
    let stores = 0;
    return { store: async () => new PgConversationStore(stores++ % 2 ? other : pg.db), sharedByInstances: true, dispose: async () => undefined };
  });

  it('keeps nothing of an append whose activity could not be built', async () => {
    const store = new PgConversationStore(pg.db);
    await store.append('conv-build', () => ({ type: 'message', text: 'first' }));
    await store
      .append('conv-build', () => {
        throw new Error('build failed');
      })
      .then(
        () => expect.fail('expected the append to fail'),
        (err: Error) => expect(err.message).to.equal('build failed'),
      );
    const next = await store.append('conv-build', (p) => ({ type: 'message', text: `at ${p}` }));
    expect(next.watermark).to.equal(2);
    expect((await store.read('conv-build', 0, 10)).activities.map((a) => a.text)).to.deep.equal(['first', 'at 1']);
  });
});
