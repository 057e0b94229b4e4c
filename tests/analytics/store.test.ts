import { expect } from 'chai';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileAnalyticsStore } from '../../src/analytics/file-store.js';
import { PgAnalyticsStore } from '../../src/analytics/pg-store.js';
import { Database } from '../../src/storage/postgres/database.js';
import { usePostgres } from '../helpers/postgres.js';
import { analyticsStoreContract, scriptedFacts } from './store.contract.js';

/** The files store opens "on" the scripted days, so a repeat of their facts falls in its dedupe window. */
const NOW = new Date('2026-11-21T12:00:00Z');

analyticsStoreContract('FileAnalyticsStore', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'analytics-store-'));
  return {
    store: await FileAnalyticsStore.open(dir, { now: NOW }),
    reopen: () => FileAnalyticsStore.open(dir, { now: NOW }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('FileAnalyticsStore on disk', () => {
  it('appends one JSON line per fact to the file of its UTC day, and skips a torn last line when it reopens', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'analytics-files-'));
    try {
      const store = await FileAnalyticsStore.open(dir, { now: NOW });
      const facts = scriptedFacts();
      for (const f of facts) await store.record(f);
      await store.close();
      expect((await readdir(path.join(dir, 'analytics'))).sort()).to.deep.equal(['2026-11-20.jsonl', '2026-11-21.jsonl']);
      const day1 = (await readFile(path.join(dir, 'analytics', '2026-11-20.jsonl'), 'utf8')).trim().split('\n');
      expect(day1).to.have.length(facts.length - 1);
      expect(JSON.parse(day1[0]!)).to.deep.equal(facts[0]);
      const { appendFile } = await import('node:fs/promises');
      await appendFile(path.join(dir, 'analytics', '2026-11-21.jsonl'), '{"kind":"turn","id":"torn');
      const again = await FileAnalyticsStore.open(dir, { now: NOW });
      expect((await again.days('2026-11-21', '2026-11-21'))[0]).to.include({ conversations: 1, answers: 1 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('PgAnalyticsStore', function () {
  const pg = usePostgres();
  const instance = () => Database.open(pg.url, { migrate: false, max: 4 });
  const opened: Database[] = [];
  after(async () => Promise.all(opened.splice(0).map((db) => db.close())));

  analyticsStoreContract('PgAnalyticsStore', async () => {
    await pg.db.query('TRUNCATE analytics_facts, analytics_conversation_days, analytics_customer_days, analytics_customers, analytics_day_counts');
    return {
      store: new PgAnalyticsStore(pg.db),
      reopen: async () => {
        const db = await instance();
        opened.push(db);
        return new PgAnalyticsStore(db);
      },
    };
  });

  it('counts each fact once when several instances record the same facts at the same time', async () => {
    await pg.db.query('TRUNCATE analytics_facts, analytics_conversation_days, analytics_customer_days, analytics_customers, analytics_day_counts');
    const dbs = await Promise.all([1, 2, 3].map(instance));
    opened.push(...dbs);
    const stores = dbs.map((db) => new PgAnalyticsStore(db));
    const facts = scriptedFacts();
    await Promise.all(stores.flatMap((s) => facts.map((f) => s.record(f))));
    const web = (await stores[0]!.days('2026-11-20', '2026-11-20', 'webchat'))[0]!;
    expect(web).to.include({ conversations: 3, contained: 2, customers: 3, answers: 2, suggestions: 1, misses: 1, transfers: 1, resolved: 1 });
    expect(web.handoffs).to.deep.equal({ 'two-misses': 1 });
    expect(await stores[1]!.customersSince('2026-11-20')).to.deep.equal({ webchat: 3, whatsapp: 2 });
    expect(Number((await pg.db.query('SELECT count(*) AS n FROM analytics_facts')).rows[0].n)).to.equal(facts.length);
  });
});
