import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEDUPE_RETENTION_MS, type InboxItem } from '../../src/engine/inbox.js';
import { FileChannelJournal } from '../../src/engine/file-journal.js';
import { PgChannelJournal } from '../../src/storage/postgres/channel-journal.js';
import { Database, DatabaseUnavailableError } from '../../src/storage/postgres/database.js';
import { usePostgres } from '../helpers/postgres.js';
import { channelJournalContract } from './channel-journal.contract.js';

channelJournalContract('FileChannelJournal', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-journal-'));
  return {
    journal: async (_instanceId, now) => {
      const j = new FileChannelJournal(dir, now);
      await j.open();
      return j;
    },
    sharedByInstances: false,
    keptUnparsed: async () => {
      // Opening compacts the file down to what the journal keeps.
      const j = new FileChannelJournal(dir);
      await j.open();
      await j.close();
      const lines = (await readFile(path.join(dir, 'journal.jsonl'), 'utf8')).split('\n').filter(Boolean);
      return lines.map((l) => JSON.parse(l)).filter((r) => r.t === 'unparsed');
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('PgChannelJournal', function () {
  const pg = usePostgres();
  let n = 0;
  /** A second pool on the same database, as another instance would have: instance `b` uses it. */
  let other: Database;
  before(async () => (other = await Database.open(pg.url, { migrate: false })));
  after(async () => other?.close());

  /** Each test gets its own channel on the suite's database: an empty store without a new database. */
  channelJournalContract('PgChannelJournal', async () => {
    const channelId = `test-${++n}`;
    return {
      journal: async (instanceId, now) => {
        const j = new PgChannelJournal(instanceId === 'b' ? other : pg.db, { channelId, instanceId, now });
        await j.open();
        return j;
      },
      sharedByInstances: true,
      keptUnparsed: () => new PgChannelJournal(pg.db, { channelId, instanceId: 'reader' }).recentUnparsed(),
      dispose: async () => undefined,
    };
  });

  const item = (id: string, conversationId = 'c1', at = Date.now()): InboxItem => ({ id, conversationId, at, activity: { type: 'message', id: `act-${id}` }, opensWindow: true });

  it('keeps channels apart: the same provider id in two channels is two items', async () => {
    const messenger = new PgChannelJournal(pg.db, { channelId: 'apart-messenger', instanceId: 'a' });
    const whatsapp = new PgChannelJournal(pg.db, { channelId: 'apart-whatsapp', instanceId: 'a' });
    expect((await messenger.accept([item('same')]))[0]!.fresh).to.equal(true);
    expect((await whatsapp.accept([item('same')]))[0]!.fresh).to.equal(true);
    await messenger.done('same');
    expect((await whatsapp.nextPending('c1'))?.id).to.equal('same');
  });

  it('throws DatabaseUnavailableError, naming the journal, when the database cannot be reached', async () => {
    const down = await Database.open('postgres://postgres@127.0.0.1:1/postgres', { migrate: false, connectionTimeoutMillis: 1000 });
    try {
      const j = new PgChannelJournal(down, { channelId: 'down', instanceId: 'a' });
      let error: unknown;
      await j.accept([item('m1')]).catch((err) => (error = err));
      expect(error).to.be.instanceOf(DatabaseUnavailableError);
      expect((error as Error).message).to.match(/^PgChannelJournal\.accept \(down\): the database is unavailable/);
      await j.close(); // shutting down while the database is away does not throw
    } finally {
      await down.close();
    }
  });

  it('stores nothing of a batch that fails', async () => {
    const j = new PgChannelJournal(pg.db, { channelId: 'atomic', instanceId: 'a' });
    const bad = { ...item('m2'), at: Number.NaN }; // not a bigint: the statement fails
    await j.accept([item('m1'), bad]).then(
      () => expect.fail('expected the batch to fail'),
      () => undefined,
    );
    expect(await j.pendingConversations()).to.deep.equal([]);
    expect((await j.accept([item('m1')]))[0]!.fresh).to.equal(true);
  });

  it('uses the database clock for leases when no clock is given', async () => {
    const a = new PgChannelJournal(pg.db, { channelId: 'dbclock', instanceId: 'a' });
    const b = new PgChannelJournal(pg.db, { channelId: 'dbclock', instanceId: 'b' });
    expect(await a.lease('c1', 150)).to.equal(true);
    expect(await b.lease('c1', 150)).to.equal(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(await b.lease('c1', 150)).to.equal(true);
  });

  it('prunes done items past the dedupe retention and run-out leases, never pending items', async () => {
    let t = 1_700_000_000_000;
    const j = new PgChannelJournal(pg.db, { channelId: 'prune', instanceId: 'a', now: () => t });
    await j.accept([item('old-done', 'c1', t), item('old-pending', 'c2', t)]);
    await j.done('old-done');
    await j.lease('c3', 1000);
    t += DEDUPE_RETENTION_MS / 2;
    await j.accept([item('recent-done', 'c1', t)]);
    await j.done('recent-done');
    t += DEDUPE_RETENTION_MS / 2 + 1;
    expect(await j.prune()).to.deep.equal({ items: 1, leases: 1 });
    expect((await j.accept([item('old-done', 'c1', t)]))[0]!.fresh, 'forgotten after the retention').to.equal(true);
    expect((await j.accept([item('recent-done', 'c1', t)]))[0]!.fresh).to.equal(false);
    expect((await j.accept([item('old-pending', 'c2', t)]))[0]!.fresh).to.equal(false);
    expect((await j.nextPending('c2'))?.id).to.equal('old-pending');
  });
});
