import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fixedClock } from '../../src/clock.js';
import { bucketOf } from '../../src/analytics/facts.js';
import { FileAnalyticsStore } from '../../src/analytics/file-store.js';
import { buildReport, percentile, type CsatRecord } from '../../src/analytics/report.js';
import { formatReport, main } from '../../src/analytics/cli.js';
import { scriptedFacts } from './store.contract.js';

describe('analytics report', () => {
  it('counts durations in buckets of two significant figures, never more than 10 % low', () => {
    expect([0, 7, 99, 100, 1234, 56_789, 120_000].map(bucketOf)).to.deep.equal([0, 7, 99, 100, 1200, 56_000, 120_000]);
    for (const ms of [101, 999, 1999, 8_765_432]) expect(bucketOf(ms)).to.be.within(ms * 0.9, ms);
  });

  it('takes nearest-rank percentiles of a histogram', () => {
    expect(percentile({ '100': 5, '200': 4, '900': 1 }, 0.5)).to.equal(100);
    expect(percentile({ '100': 5, '200': 4, '900': 1 }, 0.9)).to.equal(200);
    expect(percentile({ '100': 5, '200': 4, '900': 2 }, 0.9)).to.equal(900);
    expect(percentile({}, 0.5)).to.equal(null);
  });

  describe('over a scripted period', () => {
    let dir: string;
    let store: FileAnalyticsStore;
    const clock = fixedClock('2026-11-21T18:00:00Z');
    const csat: CsatRecord[] = [
      { conversationId: 'c2', channelId: 'webchat', agent: 'Bob', rating: 2, resolvedAt: '2026-11-20T10:08:00.000Z', askedAt: '2026-11-20T10:08:01.000Z', answeredAt: '2026-11-20T10:09:00.000Z' },
      { conversationId: 'x1', channelId: 'whatsapp', agent: 'Ada', rating: 5, resolvedAt: '2026-11-21T09:00:00.000Z', askedAt: '2026-11-21T09:00:01.000Z', answeredAt: '2026-11-21T09:01:00.000Z' },
      { conversationId: 'x2', channelId: 'whatsapp', agent: 'Ada', resolvedAt: '2026-11-21T09:30:00.000Z', askedAt: '2026-11-21T09:30:01.000Z' },
    ];
    const insights = {
      unanswered: async () => [
        { query: 'Do you sell gift cards?', channel: 'webchat', at: '2026-11-20T10:00:00.000Z' },
        { query: 'do you sell  gift cards?', channel: 'whatsapp', at: '2026-11-21T10:00:00.000Z' },
        { query: 'Where is the moon', channel: 'webchat', at: '2026-11-21T11:00:00.000Z' },
      ],
    };
    const sources = () => ({ store, clock, insights, csat: { between: async () => csat } });

    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'analytics-report-'));
      store = await FileAnalyticsStore.open(dir, { now: clock.now() });
      for (const f of scriptedFacts()) await store.record(f);
    });
    after(async () => rm(dir, { recursive: true, force: true }));

    it('gives totals, channels side by side and every day of the period', async () => {
      const r = await buildReport(sources(), { days: 2 });
      expect(r.from).to.equal('2026-11-20T00:00:00.000Z');
      expect(r.daily.map((d) => d.day)).to.deep.equal(['2026-11-20', '2026-11-21']);
      expect(r.totals).to.deep.include({ conversations: 6, customers: 5, contained: 4, containment: 0.6667, answers: 5, suggestions: 1, misses: 1, transfers: 1, cancelled: 1, resolved: 1 });
      expect(r.totals.handoffs).to.deep.equal({ total: 2, byReason: { 'two-misses': 1, 'entry-handoff': 1 } });
      expect(r.totals.waitMs).to.deep.equal({ count: 1, p50Ms: 120_000, p90Ms: 120_000, meanMs: 120_000 });
      expect(r.totals.handleMs).to.deep.equal({ count: 1, p50Ms: 240_000, p90Ms: 240_000, meanMs: 240_000 });
      // reply times 90 120 130 140 200 250 3400: the 4th and the 7th of seven
      expect(r.totals.replyMs).to.deep.equal({ count: 7, p50Ms: 140, p90Ms: 3400 });
      expect(r.channels.webchat).to.deep.include({ conversations: 4, contained: 3, containment: 0.75 });
      expect(r.channels.whatsapp).to.deep.include({ conversations: 2, contained: 1, containment: 0.5 });
      expect(r.channels.messenger).to.deep.include({ conversations: 0, containment: null });
      expect(r.daily[1]!.channels.webchat).to.deep.include({ conversations: 1, contained: 1 });
      expect(r.topEntries).to.deep.equal([{ entryId: 'billing/pay-bill', question: undefined, count: 3 }, { entryId: 'contract/cancel-contract', question: undefined, count: 1 }, { entryId: 'sim/no-signal', question: undefined, count: 1 }]);
      expect(r.gaps.map((g) => [g.query, g.count])).to.deep.equal([['Do you sell gift cards?', 2], ['Where is the moon', 1]]);
    });

    it('gives CSAT as average, count, distribution, per channel, per day and per agent; a question not answered counts as asked only', async () => {
      const r = await buildReport(sources(), { days: 2 });
      expect(r.totals.csat).to.deep.equal({ asked: 3, count: 2, average: 3.5, distribution: { '1': 0, '2': 1, '3': 0, '4': 0, '5': 1 } });
      expect(r.channels.whatsapp!.csat).to.deep.include({ asked: 2, count: 1, average: 5 });
      expect(r.daily[0]!.totals.csat).to.deep.include({ count: 1, average: 2 });
      expect(r.csatByAgent).to.deep.equal([{ agent: 'Ada', count: 1, average: 5 }, { agent: 'Bob', count: 1, average: 2 }]);
    });

    it('keeps to one channel when asked', async () => {
      const r = await buildReport(sources(), { days: 2, channel: 'whatsapp' });
      expect(Object.keys(r.channels)).to.deep.equal(['whatsapp']);
      expect(r.totals).to.deep.include({ conversations: 2, contained: 1, customers: 2 });
      expect(r.totals.csat.count).to.equal(1);
      expect(r.gaps.map((g) => g.count)).to.deep.equal([1]);
    });

    it('prints the same figures as tables', async () => {
      const lines = formatReport(await buildReport(sources(), { days: 2 }));
      const row = (name: string) => lines.find((l) => l.startsWith(name))!.split(/\s{2,}/);
      expect(row('conversations')).to.deep.equal(['conversations', '4', '0', '2', '6']);
      expect(row('contained')).to.deep.equal(['contained', '3 (75.0%)', '0 (–)', '1 (50.0%)', '4 (66.7%)']);
      expect(row('queue wait p50 / p90')).to.deep.equal(['queue wait p50 / p90', '2.0 min / 2.0 min', '– / –', '– / –', '2.0 min / 2.0 min']);
      expect(row('two-misses')).to.deep.equal(['two-misses', '1', '0', '0', '1']);
    });
  });

  describe('npm run report', () => {
    const run = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(args, { dataDir: path.join(os.tmpdir(), 'analytics-nothing-here') }, { out: (l) => out.push(l), err: (l) => err.push(l) });
      return { code, out, err };
    };
    for (const [args, says] of [
      [['--days', '0'], /--days must be a whole number of days from 1 to 365, got 0/],
      [['--days', '3.5'], /--days must be a whole number/],
      [['--days', '366'], /--days must be a whole number/],
      [['--channel', 'telegram'], /--channel must be one of webchat, messenger, whatsapp, got telegram/],
      [['--frobnicate'], /report: Unknown option '--frobnicate'/],
    ] as const) {
      it(`refuses ${args.join(' ')} with one line and exit 2`, async () => {
        const r = await run([...args]);
        expect(r.code).to.equal(2);
        expect(r.err).to.have.length(1);
        expect(r.err[0]).to.match(says);
        expect(r.out).to.deep.equal([]);
      });
    }
  });
});
