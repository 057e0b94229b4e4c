import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sinon from 'sinon';
import { MemoryTranscriptStore } from 'botbuilder';
import { fixedClock } from '../../src/clock.js';
import { LowdbTranscriptStore } from '../../src/storage/index.js';
import { DatabaseUnavailableError } from '../../src/storage/postgres/database.js';
import { PgTranscriptStore } from '../../src/storage/postgres/transcript-store.js';
import { usePostgres } from '../helpers/postgres.js';
import { rejection } from './storage.contract.js';
import { message, switchboardTranscriptStoreContract, transcriptStoreContract } from './transcript-store.contract.js';

transcriptStoreContract('botbuilder MemoryTranscriptStore', () => ({ store: new MemoryTranscriptStore() }));

transcriptStoreContract('LowdbTranscriptStore', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-transcripts-'));
  return { store: new LowdbTranscriptStore({ dir }), dispose: () => rm(dir, { recursive: true, force: true }) };
});

switchboardTranscriptStoreContract('LowdbTranscriptStore', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-transcripts-'));
  return {
    store: new LowdbTranscriptStore({ dir, fsync: false }),
    another: () => new LowdbTranscriptStore({ dir, fsync: false }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('PgTranscriptStore', () => {
  const pg = usePostgres();
  const empty = () => pg.db.query('TRUNCATE transcript_activities, transcript_conversations, transcript_customers');

  transcriptStoreContract('PgTranscriptStore', async () => {
    await empty();
    return { store: new PgTranscriptStore(pg.db) };
  });

  switchboardTranscriptStoreContract('PgTranscriptStore', async () => {
    await empty();
    return { store: new PgTranscriptStore(pg.db), another: () => new PgTranscriptStore(pg.db) };
  });

  describe('writes', () => {
    beforeEach(empty);
    afterEach(() => sinon.restore());

    it('rejects whenWritten while the database is unreachable, and resolves once a later write is stored', async () => {
      const store = new PgTranscriptStore(pg.db);
      sinon.stub(pg.db, 'query').onFirstCall().rejects(new DatabaseUnavailableError('PgTranscriptStore.logActivity', { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' })).callThrough();
      const lost = await rejection(() => store.logActivity(message('test', 'c1', 'a', 1)));
      expect(lost).to.be.instanceOf(DatabaseUnavailableError);
      expect(await rejection(() => store.whenWritten('test', 'c1'))).to.equal(lost);
      await store.logActivity(message('test', 'c1', 'a', 1)); // the channel runs the message again
      await store.whenWritten('test', 'c1');
      expect((await store.getTranscriptActivities('test', 'c1')).items.map((x) => x.id)).to.deep.equal(['a']);
    });

    it('writes what a turn logs at once in one statement, in call order', async () => {
      const store = new PgTranscriptStore(pg.db);
      const query = sinon.spy(pg.db, 'query');
      const ids = ['in', 'out-1', 'out-2', 'out-3'];
      await Promise.all(ids.map((id) => store.logActivity(message('test', 'c1', id, 7))));
      expect(query.callCount).to.be.at.most(2); // the first activity alone, then the rest together
      query.restore();
      expect((await store.getTranscriptActivities('test', 'c1')).items.map((x) => x.id)).to.deep.equal(ids);
    });

    it('fills in a missing timestamp from its clock and keeps odd text intact', async () => {
      const store = new PgTranscriptStore(pg.db, { clock: fixedClock('2026-12-24T18:00:00.000Z') });
      const a = message('test', 'c1', 'odd', 0, 'nul\u0000 ünïcødé 🔑 "quote" \\ back');
      delete a.timestamp;
      await store.logActivity(a);
      const [back] = (await store.getTranscriptActivities('test', 'c1')).items;
      expect(back.text).to.equal(a.text);
      expect(back.timestamp).to.deep.equal(new Date('2026-12-24T18:00:00.000Z'));
    });

    it('accepts a plain activity id as continuation token (botbuilder style) and an unknown one gives an empty page', async () => {
      const store = new PgTranscriptStore(pg.db, { pageSize: 2 });
      for (let i = 0; i < 5; i++) await store.logActivity(message('test', 'c1', `m${i}`, i));
      expect((await store.getTranscriptActivities('test', 'c1', 'm1')).items.map((x) => x.id)).to.deep.equal(['m2', 'm3']);
      expect((await store.getTranscriptActivities('test', 'c1', 'nope')).items).to.deep.equal([]);
      expect((await store.listTranscripts('test', 'nope')).items).to.deep.equal([]);
    });
  });
});
