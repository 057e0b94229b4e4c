import { expect } from 'chai';
import { main } from '../../src/analytics/cli.js';
import type { AnalyticsReport, Figures } from '../../src/analytics/report.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { testSettings } from '../../src/config.js';
import { EXPECTED, scriptedServer, type ScriptedServer } from './scripted.js';

/** Checks a report against the script's known figures. */
export function expectScriptedFigures(r: AnalyticsReport): void {
  for (const ch of ['webchat', 'messenger', 'whatsapp'] as const) {
    const f: Figures = r.channels[ch]!;
    const e = EXPECTED[ch];
    expect(f, ch).to.deep.include({ conversations: e.conversations, customers: e.customers, contained: e.contained, answers: e.answers, suggestions: e.suggestions, misses: e.misses, transfers: e.transfers });
    expect(f.handoffs.byReason, `${ch} handoffs`).to.deep.equal(e.handoffs);
    expect(f.waitMs, `${ch} wait`).to.deep.include({ count: 1, p50Ms: e.waitMs, meanMs: e.waitMs });
    expect(f.handleMs, `${ch} handle`).to.deep.include({ count: 1, p50Ms: e.handleMs });
    expect(f.csat, `${ch} CSAT`).to.deep.include({ count: 1, average: e.csat });
    expect(f.replyMs.count, `${ch} reply times`).to.equal(e.replies);
    expect(f.replyMs.p50Ms).to.be.at.least(0);
  }
  const t = EXPECTED.totals;
  expect(r.totals).to.deep.include({ conversations: t.conversations, customers: t.customers, contained: t.contained, containment: t.containment });
  expect(r.totals.handoffs.total).to.equal(t.handoffs);
  expect(r.totals.waitMs).to.deep.include({ p50Ms: t.waitP50, p90Ms: t.waitP90 });
  expect(r.totals.handleMs).to.deep.include({ p50Ms: t.handleP50, p90Ms: t.handleP90 });
  expect(r.totals.csat).to.deep.include({ average: t.csatAverage, count: t.csatCount });
  expect(r.csatByAgent).to.deep.equal(EXPECTED.csatByAgent);
  expect(r.topEntries[0]).to.deep.include({ entryId: 'billing/pay-bill', count: 3 });
  expect(r.gaps.map((g) => [g.query, g.count])).to.deep.include.members([['xyzzy plugh', 2]]);
}

for (const backend of ['files', 'postgresql'] as const) {
  describe(`analytics of a scripted set of conversations through the real server (${backend})`, function () {
    this.timeout(120_000);
    let s: ScriptedServer;
    let dropDb: (() => Promise<void>) | undefined;

    before(async function () {
      let databaseUrl: string | undefined;
      if (backend === 'postgresql') {
        const { testDatabaseUrl, requirePostgres } = testSettings();
        if (!testDatabaseUrl) {
          if (requirePostgres) throw new Error('TEST_DATABASE_URL is not set');
          return this.skip();
        }
        const db = await createTestDatabase(testDatabaseUrl);
        databaseUrl = db.url;
        dropDb = db.drop;
      }
      s = await scriptedServer(databaseUrl);
    });
    after(async () => {
      await s?.close();
      await dropDb?.();
    });

    it('GET /api/agent/analytics gives the known figures per channel and in total', async () => {
      const r = await s.call('GET', '/api/agent/analytics?days=7', undefined, s.token);
      expect(r.status).to.equal(200);
      expectScriptedFigures(r.body);
      expect(r.body.daily).to.have.length(7);
      expect(r.body.daily.reduce((n: number, d: { totals: Figures }) => n + d.totals.conversations, 0)).to.equal(EXPECTED.totals.conversations);
    });

    it('keeps to one channel with channel=', async () => {
      const r = await s.call('GET', '/api/agent/analytics?days=30&channel=messenger', undefined, s.token);
      expect(r.status).to.equal(200);
      expect(Object.keys(r.body.channels)).to.deep.equal(['messenger']);
      expect(r.body.totals).to.deep.include({ conversations: 2, contained: 1 });
      expect(r.body.totals.handoffs.byReason).to.deep.equal({ 'two-misses': 1 });
    });

    it('refuses a bad period or channel with a 400 that says why, and anyone not signed in with a 401', async () => {
      for (const q of ['days=0', 'days=366', 'days=seven', 'days=7&channel=telegram']) {
        const r = await s.call('GET', `/api/agent/analytics?${q}`, undefined, s.token);
        expect(r.status, q).to.equal(400);
        expect(r.body.message, q).to.match(/agent API analytics: (days|channel)/);
      }
      expect((await s.call('GET', '/api/agent/analytics?days=7')).status).to.equal(401);
    });

    it('npm run report -- --json says the same as the API, and the table shows the same figures', async () => {
      const out: string[] = [];
      const err: string[] = [];
      const target = { dataDir: s.dataDir, databaseUrl: s.databaseUrl };
      expect(await main(['--days', '7', '--json'], target, { out: (l) => out.push(l), err: (l) => err.push(l) }, s.clock)).to.equal(0);
      expect(err).to.deep.equal([]);
      const fromCli = JSON.parse(out.join('\n')) as AnalyticsReport;
      expectScriptedFigures(fromCli);
      const fromApi = (await s.call('GET', '/api/agent/analytics?days=7', undefined, s.token)).body as AnalyticsReport;
      expect({ ...fromCli, to: '', topEntries: fromCli.topEntries.map((e) => e.entryId) }).to.deep.equal({ ...fromApi, to: '', topEntries: fromApi.topEntries.map((e) => e.entryId) });

      out.length = 0;
      expect(await main(['--days', '7'], target, { out: (l) => out.push(l), err: (l) => err.push(l) }, s.clock)).to.equal(0);
      const row = (name: string) => out.find((l) => l.startsWith(name))!.split(/\s{2,}/);
      expect(row('conversations')).to.deep.equal(['conversations', '3', '2', '2', '7']);
      expect(row('contained')).to.deep.equal(['contained', '2 (66.7%)', '1 (50.0%)', '1 (50.0%)', '4 (57.1%)']);
      expect(row('queue wait p50 / p90')).to.deep.equal(['queue wait p50 / p90', '2.0 min / 2.0 min', '1.0 min / 1.0 min', '4.0 min / 4.0 min', '2.0 min / 4.0 min']);
      expect(row('CSAT average (ratings)')).to.deep.equal(['CSAT average (ratings)', '5.00 (1)', '2.00 (1)', '4.00 (1)', '3.67 (3)']);
    });
  });
}
