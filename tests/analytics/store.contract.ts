/**
 * What every analytics store must do (files and PostgreSQL): count a scripted set of facts whose
 * figures are known, per day and channel; count a repeated fact once; keep what it counted across a
 * reopen (a restart, or another instance on the same database).
 */
import { expect } from 'chai';
import type { AnalyticsFact, AnalyticsStore, DayChannelCounts } from '../../src/analytics/facts.js';

export interface StoreHandle {
  store: AnalyticsStore;
  /** The same data opened again (files: read back from disk; PostgreSQL: another instance). */
  reopen(): Promise<AnalyticsStore>;
  dispose?(): Promise<void>;
}

const D1 = '2026-11-20';
const D2 = '2026-11-21';
const at = (day: string, time = '10:00:00') => `${day}T${time}.000Z`;
let seq = 0;
const turn = (day: string, channelId: string, conversationId: string, decision: 'answer' | 'suggest' | 'miss', extra: Partial<AnalyticsFact> = {}): AnalyticsFact =>
  ({ kind: 'turn', id: `t${++seq}`, at: at(day), channelId, conversationId, customerId: `cust-${conversationId}`, decision, ...extra }) as AnalyticsFact;

/** The scripted facts: day 1 on web chat and WhatsApp, day 2 on web chat. */
export function scriptedFacts(): AnalyticsFact[] {
  seq = 0;
  return [
    // web chat, day 1: c1 contained (two answers), c2 a miss then a handoff, c3 a suggestion then contained
    turn(D1, 'webchat', 'c1', 'answer', { entryId: 'billing/pay-bill', replyMs: 120 }),
    turn(D1, 'webchat', 'c1', 'answer', { entryId: 'billing/pay-bill', replyMs: 140 }),
    turn(D1, 'webchat', 'c2', 'miss', { replyMs: 90 }),
    { kind: 'handoff', id: 'h-c2', at: at(D1, '10:01:00'), channelId: 'webchat', conversationId: 'c2', customerId: 'cust-c2', reason: 'two-misses' },
    { kind: 'claim', id: 'cl-c2', at: at(D1, '10:03:00'), channelId: 'webchat', conversationId: 'c2', agent: 'Ada', waitMs: 120_000 },
    { kind: 'transfer', id: 'tr-c2', at: at(D1, '10:04:00'), channelId: 'webchat', conversationId: 'c2' },
    { kind: 'resolve', id: 'r-c2', at: at(D1, '10:08:00'), channelId: 'webchat', conversationId: 'c2', agent: 'Bob', handleMs: 240_000 },
    turn(D1, 'webchat', 'c3', 'suggest', { replyMs: 3_400 }),
    // WhatsApp, day 1: w1 handed off by its entry, cancelled while waiting; w2 contained
    turn(D1, 'whatsapp', 'w1', 'answer', { entryId: 'contract/cancel-contract', replyMs: 200 }),
    { kind: 'handoff', id: 'h-w1', at: at(D1, '11:00:00'), channelId: 'whatsapp', conversationId: 'w1', customerId: 'cust-w1', reason: 'entry-handoff' },
    { kind: 'cancel', id: 'ca-w1', at: at(D1, '11:02:00'), channelId: 'whatsapp', conversationId: 'w1', waitMs: 120_000 },
    turn(D1, 'whatsapp', 'w2', 'answer', { entryId: 'billing/pay-bill', replyMs: 250 }),
    // web chat, day 2: c1's customer again (the same conversation counts again on a new day), contained
    turn(D2, 'webchat', 'c1', 'answer', { entryId: 'sim/no-signal', replyMs: 130 }),
  ];
}

const find = (rows: DayChannelCounts[], day: string, channelId: string) => {
  const r = rows.find((x) => x.day === day && x.channelId === channelId);
  expect(r, `${day} ${channelId}`).to.exist;
  return r!;
};

export function analyticsStoreContract(name: string, open: () => Promise<StoreHandle>): void {
  describe(`${name} (analytics store contract)`, function () {
    this.timeout(20_000);
    let h: StoreHandle;
    beforeEach(async () => {
      h = await open();
      for (const f of scriptedFacts()) await h.store.record(f);
    });
    afterEach(async () => {
      await h.store.close();
      await h.dispose?.();
    });

    it('counts conversations, containment, decisions and handoffs per day and channel', async () => {
      const rows = await h.store.days(D1, D2);
      expect(rows.map((r) => `${r.day} ${r.channelId}`)).to.deep.equal([`${D1} webchat`, `${D1} whatsapp`, `${D2} webchat`]);
      const web = find(rows, D1, 'webchat');
      expect(web).to.include({ conversations: 3, contained: 2, customers: 3, answers: 2, suggestions: 1, misses: 1, transfers: 1, resolved: 1, cancelled: 0 });
      expect(web.handoffs).to.deep.equal({ 'two-misses': 1 });
      expect(web.wait).to.deep.equal({ '120000': 1 });
      expect(web.handle).to.deep.equal({ '240000': 1 });
      expect(web.reply).to.deep.equal({ '120': 1, '140': 1, '90': 1, '3400': 1 });
      expect(web.entries).to.deep.equal({ 'billing/pay-bill': 2 });
      const wa = find(rows, D1, 'whatsapp');
      expect(wa).to.include({ conversations: 2, contained: 1, answers: 2, cancelled: 1 });
      expect(wa.handoffs).to.deep.equal({ 'entry-handoff': 1 });
      expect(find(rows, D2, 'webchat')).to.include({ conversations: 1, contained: 1, answers: 1 });
    });

    it('keeps to the days and the channel asked for', async () => {
      expect((await h.store.days(D2, D2)).map((r) => r.channelId)).to.deep.equal(['webchat']);
      expect((await h.store.days(D1, D2, 'whatsapp')).map((r) => `${r.day} ${r.channelId}`)).to.deep.equal([`${D1} whatsapp`]);
      expect(await h.store.days('2026-10-01', '2026-10-31')).to.deep.equal([]);
    });

    it('counts a customer once over a period they wrote on two days of', async () => {
      expect(await h.store.customersSince(D1)).to.deep.equal({ webchat: 3, whatsapp: 2 });
      expect(await h.store.customersSince(D1, 'webchat')).to.deep.equal({ webchat: 3 });
      expect(await h.store.customersSince(D2)).to.deep.equal({ webchat: 1 });
    });

    it('counts a fact recorded again (a turn re-run after a crash) once', async () => {
      for (const f of scriptedFacts().slice(0, 4)) await h.store.record(f);
      const web = find(await h.store.days(D1, D1), D1, 'webchat');
      expect(web).to.include({ conversations: 3, answers: 2, misses: 1 });
      expect(web.handoffs).to.deep.equal({ 'two-misses': 1 });
    });

    it('finds what it counted after reopening', async () => {
      const again = await h.reopen();
      try {
        expect(await again.days(D1, D2)).to.deep.equal(await h.store.days(D1, D2));
        // A repeat of a fact stored before the reopen is still counted once.
        await again.record(scriptedFacts()[0]!);
        expect(find(await again.days(D1, D1), D1, 'webchat').answers).to.equal(2);
      } finally {
        await again.close();
      }
    });
  });
}
