/**
 * The contract every `ChannelJournal` (a channel's inbox and delivery log, src/engine/inbox.ts) must
 * pass, run on the file backend and on PostgreSQL. Backends that several instances share (PostgreSQL)
 * also run the cases with two instances on one store: dedupe across instances, lease exclusivity and
 * takeover after expiry.
 */
import { expect } from 'chai';
import type { ChannelJournal, InboxItem, SendFailure, TurnSend } from '../../src/engine/inbox.js';

/** What a factory hands the suite: journals on one fresh, empty store of one channel. */
export interface JournalUnderTest {
  /**
   * An opened journal on the store as instance `instanceId`, reading time from `now`. Called again
   * after the previous journal was closed, it is a restart; called while another is open (only when
   * `sharedByInstances`), it is a second instance on the same store.
   */
  journal(instanceId: string, now: () => number): Promise<ChannelJournal>;
  /** Several instances may use the store at once (PostgreSQL); false for one process's files. */
  sharedByInstances: boolean;
  /** The signed bodies the store keeps, oldest first, read after every journal was closed (the contract has no reader). */
  keptUnparsed?(): Promise<{ reason: string; body: string }[]>;
  dispose(): Promise<void>;
}

/** Registers the contract under `describe(name)`; `make` returns a fresh, empty store each time. */
export function channelJournalContract(name: string, make: () => Promise<JournalUnderTest>): void {
  describe(`ChannelJournal contract: ${name}`, () => {
    let sut: JournalUnderTest;
    let clock: { t: number };
    const now = () => clock.t;
    const open: ChannelJournal[] = [];
    /** An instance of the journal, closed after the test. */
    const instance = async (id = 'i1') => {
      const j = await sut.journal(id, now);
      open.push(j);
      return j;
    };
    const restart = async (j: ChannelJournal, id = 'i1') => {
      await j.close();
      open.splice(open.indexOf(j), 1);
      return instance(id);
    };
    const item = (id: string, conversationId = 'c1', at = clock.t, extra: Partial<InboxItem> = {}): InboxItem => ({
      id,
      conversationId,
      at,
      activity: { type: 'message', id: `act-${id}`, text: `text of ${id}` },
      opensWindow: true,
      ...extra,
    });
    const send = (n: number, ids: string[], text = `reply ${n}`): TurnSend => ({ n, h: `hash-${text}`, ids, at: clock.t, activity: { type: 'message', text } });
    /** Skips a test that needs two instances on one store (the file backend is one process's). */
    const needsInstances = (ctx: Mocha.Context) => {
      if (!sut.sharedByInstances) ctx.skip();
    };

    beforeEach(async () => {
      clock = { t: 1_700_000_000_000 };
      sut = await make();
    });
    afterEach(async () => {
      for (const j of open.splice(0)) await j.close();
      await sut.dispose();
    });

    describe('accept', () => {
      it('stores new items and answers repeats, earlier or in the same batch, with the first delivery’s activity id', async () => {
        const j = await instance();
        expect((await j.accept([item('m1'), item('m2')])).map((r) => r.fresh)).to.deep.equal([true, true]);
        const again = await j.accept([item('m3'), { ...item('m1'), activity: { type: 'message', id: 'act-other' } }, item('m3')]);
        expect(again.map((r) => r.fresh)).to.deep.equal([true, false, false]);
        expect(again[1]!.activityId).to.equal('act-m1');
        expect(again[2]!.activityId).to.equal('act-m3');
        expect(await j.accept([])).to.deep.equal([]);
      });

      it('answers one result per input, in order, fresh for new ids', async () => {
        const j = await instance();
        const results = await j.accept([item('a'), item('b'), item('a')]);
        expect(results.map((r) => r.fresh)).to.deep.equal([true, true, false]);
        expect(results[2]!.activityId).to.equal('act-a');
      });

      it('remembers ids, pending items and their activities across a restart', async () => {
        let j = await instance();
        await j.accept([item('m1', 'c1'), item('m2', 'c1')]);
        await j.done('m1');
        j = await restart(j);
        const again = await j.accept([item('m1'), item('m2')]);
        expect(again.map((r) => r.fresh)).to.deep.equal([false, false]);
        expect(again.map((r) => r.activityId)).to.deep.equal(['act-m1', 'act-m2']);
        const next = await j.nextPending('c1');
        expect(next).to.deep.equal(item('m2', 'c1', clock.t));
      });

      it('keeps an activity whose text holds characters databases and JSON find awkward', async () => {
        const j = await instance();
        const text = 'nul\u0000 quote" backslash\\ emoji 🔑 newline\n ' + 'x'.repeat(20_000);
        await j.accept([{ ...item('odd'), activity: { type: 'message', id: 'act-odd', text, channelData: { nested: [1, { deep: true }] } } }]);
        const next = await j.nextPending('c1');
        expect(next?.activity).to.deep.equal({ type: 'message', id: 'act-odd', text, channelData: { nested: [1, { deep: true }] } });
      });

      it('recognises a repeat first delivered to another instance', async function () {
        needsInstances(this);
        const a = await instance('a');
        const b = await instance('b');
        expect((await a.accept([item('m1')]))[0]!.fresh).to.equal(true);
        const r = await b.accept([{ ...item('m1'), activity: { type: 'message', id: 'act-from-b' } }]);
        expect(r).to.deep.equal([{ fresh: false, activityId: 'act-m1' }]);
      });

      it('stores an id delivered to two instances at the same moment once', async function () {
        needsInstances(this);
        const a = await instance('a');
        const b = await instance('b');
        for (let k = 0; k < 10; k++) {
          const [ra, rb] = await Promise.all([
            a.accept([{ ...item(`m${k}`, `c${k}`), activity: { type: 'message', id: `from-a-${k}` } }]),
            b.accept([{ ...item(`m${k}`, `c${k}`), activity: { type: 'message', id: `from-b-${k}` } }]),
          ]);
          expect([ra[0]!.fresh, rb[0]!.fresh].filter(Boolean), `delivery ${k}`).to.have.length(1);
          const winner = ra[0]!.fresh ? `from-a-${k}` : `from-b-${k}`;
          expect([ra[0]!.activityId, rb[0]!.activityId]).to.deep.equal([winner, winner]);
          expect((await a.nextPending(`c${k}`))?.activity.id).to.equal(winner);
        }
      });
    });

    describe('order and leases', () => {
      it('gives a conversation’s items in accept order, the next one after each is done', async () => {
        const j = await instance();
        await j.accept([item('m1', 'c1')]);
        clock.t += 10;
        await j.accept([item('m2', 'c2'), item('m3', 'c1')]);
        clock.t += 10;
        await j.accept([item('m4', 'c1')]);
        const order: string[] = [];
        for (let next = await j.nextPending('c1'); next; next = await j.nextPending('c1')) {
          order.push(next.id);
          await j.done(next.id);
        }
        expect(order).to.deep.equal(['m1', 'm3', 'm4']);
        expect((await j.nextPending('c2'))?.id).to.equal('m2');
        expect(await j.nextPending('nobody')).to.equal(undefined);
      });

      it('does not run an item again once it is done, even if it is delivered again', async () => {
        const j = await instance();
        await j.accept([item('m1')]);
        await j.done('m1');
        expect((await j.accept([item('m1')]))[0]!.fresh).to.equal(false);
        expect(await j.nextPending('c1')).to.equal(undefined);
        expect(await j.pendingConversations()).to.deep.equal([]);
      });

      it('lists conversations with work left, longest waiting first, leaving out leased ones until the lease runs out', async () => {
        const j = await instance();
        await j.accept([item('m1', 'c1')]);
        clock.t += 10;
        await j.accept([item('m2', 'c2')]);
        clock.t += 10;
        await j.accept([item('m3', 'c3')]);
        await j.done('m3');
        expect(await j.pendingConversations()).to.deep.equal(['c1', 'c2']);
        expect(await j.pendingConversations(1)).to.deep.equal(['c1']);
        expect(await j.lease('c1', 1000)).to.equal(true);
        expect(await j.pendingConversations()).to.deep.equal(['c2']);
        clock.t += 1001;
        expect(await j.pendingConversations()).to.deep.equal(['c1', 'c2']);
        await j.lease('c2', 1000);
        await j.release('c2');
        expect(await j.pendingConversations()).to.deep.equal(['c1', 'c2']);
      });

      it('lets one instance hold a conversation’s lease; another takes it only once it runs out or is released', async function () {
        needsInstances(this);
        const a = await instance('a');
        const b = await instance('b');
        expect(await a.lease('c1', 1000)).to.equal(true);
        expect(await b.lease('c1', 1000)).to.equal(false);
        clock.t += 900;
        expect(await a.lease('c1', 1000), 'renewing its own').to.equal(true);
        clock.t += 900;
        expect(await b.lease('c1', 1000), 'the renewal still holds').to.equal(false);
        expect(await b.lease('c2', 1000), 'other conversations are free').to.equal(true);
        clock.t += 101;
        expect(await b.lease('c1', 1000), 'after it ran out').to.equal(true);
        expect(await a.lease('c1', 1000), 'the old holder lost it').to.equal(false);
        await b.release('c1');
        expect(await a.lease('c1', 1000), 'after a release').to.equal(true);
        await b.release('c1'); // not b's any more: nothing happens
        expect(await b.lease('c1', 1000)).to.equal(false);
      });

      it('grants a conversation to exactly one of two instances asking at once', async function () {
        needsInstances(this);
        const a = await instance('a');
        const b = await instance('b');
        for (let k = 0; k < 20; k++) {
          const got = await Promise.all([a.lease(`c${k}`, 5000), b.lease(`c${k}`, 5000)]);
          expect(got.filter(Boolean), `conversation c${k}`).to.have.length(1);
        }
      });

      it('leaves a conversation held by a live instance out of the others’ pending list, and gives it back when that instance closes', async function () {
        needsInstances(this);
        const a = await instance('a');
        const b = await instance('b');
        await a.accept([item('m1', 'c1'), item('m2', 'c2')]);
        expect(await a.lease('c1', 60_000)).to.equal(true);
        expect(await b.pendingConversations()).to.deep.equal(['c2']);
        await a.close();
        open.splice(open.indexOf(a), 1);
        expect(await b.pendingConversations()).to.deep.equal(['c1', 'c2']);
        expect(await b.lease('c1', 1000)).to.equal(true);
      });

      it('lets another instance finish what a dead one left, after its lease runs out', async function () {
        needsInstances(this);
        const a = await instance('a');
        await a.accept([item('m1', 'c1'), item('m2', 'c1')]);
        expect(await a.lease('c1', 5000)).to.equal(true);
        await a.recordSend('m1', send(0, ['out-1']));
        // a dies here: no release, no close
        const b = await instance('b');
        expect(await b.lease('c1', 5000)).to.equal(false);
        clock.t += 5000;
        expect(await b.pendingConversations()).to.deep.equal(['c1']);
        expect(await b.lease('c1', 5000)).to.equal(true);
        expect((await b.nextPending('c1'))?.id).to.equal('m1');
        expect((await b.sentInTurn('m1')).map((s) => s.ids)).to.deep.equal([['out-1']]);
      });
    });

    describe('sends of a turn', () => {
      it('keeps what a turn sent, in order, through a restart, and forgets it once the item is done', async () => {
        let j = await instance();
        await j.accept([item('m1'), item('m2')]);
        await j.recordSend('m1', send(0, ['out-a']));
        await j.recordSend('m1', send(1, ['out-b', 'out-c']));
        await j.recordSend('m2', send(0, ['out-d']));
        j = await restart(j);
        const sent = await j.sentInTurn('m1');
        expect(sent).to.deep.equal([send(0, ['out-a']), send(1, ['out-b', 'out-c'])]);
        await j.done('m1');
        expect(await j.sentInTurn('m1')).to.deep.equal([]);
        expect((await j.sentInTurn('m2')).map((s) => s.ids)).to.deep.equal([['out-d']]);
        expect(await j.sentInTurn('never')).to.deep.equal([]);
      });

      it('adds the parts of one long message recorded one by one to the same send', async () => {
        const j = await instance();
        await j.accept([item('m1')]);
        await j.recordSend('m1', send(0, ['part-1']));
        await j.recordSend('m1', send(0, ['part-1', 'part-2']));
        await j.recordSend('m1', send(0, ['part-3']));
        expect((await j.sentInTurn('m1')).map((s) => s.ids)).to.deep.equal([['part-1', 'part-2', 'part-3']]);
      });
    });

    describe('delivery log', () => {
      it('opens the reply window from accepted customer messages only, and never moves it back', async () => {
        const j = await instance();
        expect(await j.lastCustomerMessageAt('c1')).to.equal(undefined);
        await j.accept([item('m1', 'c1', 5000)]);
        expect(await j.lastCustomerMessageAt('c1')).to.equal(5000);
        await j.accept([item('r1', 'c1', 6000, { opensWindow: false })]);
        expect(await j.lastCustomerMessageAt('c1'), 'a reaction does not open it').to.equal(5000);
        await j.accept([item('m0', 'c1', 4000)]);
        expect(await j.lastCustomerMessageAt('c1'), 'an older message does not move it back').to.equal(5000);
        await j.accept([item('m1', 'c1', 9000)]);
        expect(await j.lastCustomerMessageAt('c1'), 'a repeat does not move it').to.equal(5000);
        await j.accept([item('m2', 'c1', 7000), item('m3', 'c1', 8000), item('m4', 'c2', 100)]);
        expect(await j.lastCustomerMessageAt('c1')).to.equal(8000);
        expect(await j.lastCustomerMessageAt('c2')).to.equal(100);
      });

      it('moves a message’s status forward only: sent < delivered < read < failed', async () => {
        const j = await instance();
        await j.recordOutbound('c1', 'mid-1');
        expect(await j.statusOf('mid-1')).to.equal('sent');
        expect(await j.recordStatus('mid-1', 'read')).to.equal('c1');
        expect(await j.recordStatus('mid-1', 'delivered'), 'a late delivered receipt').to.equal(undefined);
        expect(await j.recordStatus('mid-1', 'read'), 'the same status again').to.equal(undefined);
        expect(await j.statusOf('mid-1')).to.equal('read');
        expect(await j.recordStatus('mid-1', 'failed')).to.equal('c1');
        expect(await j.recordStatus('mid-1', 'sent')).to.equal(undefined);
        expect(await j.statusOf('mid-1')).to.equal('failed');
        expect(await j.recordStatus('unknown', 'read')).to.equal(undefined);
        expect(await j.statusOf('unknown')).to.equal(undefined);
      });

      it('marks the messages sent at or before a watermark, once', async () => {
        const j = await instance();
        const t0 = clock.t;
        await j.recordOutbound('c1', 'm-a');
        clock.t += 1000;
        await j.recordOutbound('c1', 'm-b');
        clock.t += 1000;
        await j.recordOutbound('c1', 'm-c');
        await j.recordOutbound('c2', 'other');
        expect(await j.recordWatermark('c1', t0 + 1000, 'delivered')).to.deep.equal(['m-a', 'm-b']);
        expect(await j.recordWatermark('c1', t0 + 1000, 'delivered')).to.deep.equal([]);
        expect(await j.recordWatermark('c1', t0 + 2000, 'read')).to.deep.equal(['m-a', 'm-b', 'm-c']);
        expect(await j.recordWatermark('c1', t0 + 2000, 'delivered'), 'never backwards').to.deep.equal([]);
        const list = await j.outboundOf('c1');
        expect(list.map((o) => [o.mid, o.status, o.at.getTime()])).to.deep.equal([
          ['m-a', 'read', t0],
          ['m-b', 'read', t0 + 1000],
          ['m-c', 'read', t0 + 2000],
        ]);
        expect(await j.statusOf('other')).to.equal('sent');
      });

      it('keeps the most recent 50 outbound messages of a conversation', async () => {
        const j = await instance();
        for (let i = 0; i < 55; i++) {
          await j.recordOutbound('c1', `mid-${i}`);
          clock.t += 1;
        }
        const list = await j.outboundOf('c1');
        expect(list).to.have.length(50);
        expect(list[0]!.mid).to.equal('mid-5');
        expect(list[49]!.mid).to.equal('mid-54');
      });

      it('keeps the most recent 50 final failures of a conversation, oldest first, as they were recorded', async () => {
        const j = await instance();
        const failure = (i: number, conversationId = 'c1'): SendFailure => ({
          channelId: 'test',
          conversationId,
          at: new Date(clock.t + i).toISOString(),
          code: i % 2 ? 131047 : 'REPLY_WINDOW_CLOSED',
          ...(i % 2 ? { subcode: 2018278, fbtraceId: `trace-${i}` } : {}),
          message: `failure ${i}`,
          activity: { type: 'message', text: `undelivered ${i}` },
        });
        for (let i = 0; i < 55; i++) await j.recordFailure(failure(i));
        await j.recordFailure(failure(0, 'c2'));
        const kept = await j.failuresOf('c1');
        expect(kept).to.have.length(50);
        expect(kept[0]).to.deep.equal(failure(5));
        expect(kept[49]).to.deep.equal(failure(54));
        expect(await j.failuresOf('c2')).to.deep.equal([failure(0, 'c2')]);
        expect(await j.failuresOf('nobody')).to.deep.equal([]);
      });

      it('keeps the customer’s profile name, the latest one', async () => {
        let j = await instance();
        expect(await j.profileName('c1')).to.equal(undefined);
        await j.recordProfile('c1', 'Ana');
        await j.recordProfile('c1', 'Ana María');
        j = await restart(j);
        expect(await j.profileName('c1')).to.equal('Ana María');
      });

      it('keeps the most recent 200 bodies it could not read', async function () {
        if (!sut.keptUnparsed) this.skip();
        const j = await instance();
        for (let i = 0; i < 205; i++) await j.recordUnparsed(`{"body":${i}}`, `reason ${i}`);
        await j.close();
        open.splice(open.indexOf(j), 1);
        const kept = await sut.keptUnparsed!();
        expect(kept).to.have.length(200);
        expect(kept[0]).to.include({ reason: 'reason 5', body: '{"body":5}' });
        expect(kept[199]).to.include({ reason: 'reason 204', body: '{"body":204}' });
      });

      it('keeps one unreadable event of a POST beside the POST’s accepted items, which stay pending', async function () {
        if (!sut.keptUnparsed) this.skip();
        let j = await instance();
        const event = JSON.stringify({ sender: { id: 'c1' }, message: { mid: { odd: true } } });
        await j.recordUnparsed(event, 'entry[0].messaging[1]: message.mid: expected string');
        await j.accept([item('m2', 'c1')]);
        j = await restart(j);
        expect((await j.nextPending('c1'))?.id).to.equal('m2');
        expect(await j.lastCustomerMessageAt('c1')).to.equal(clock.t);
        await j.close();
        open.splice(open.indexOf(j), 1);
        const kept = await sut.keptUnparsed!();
        expect(kept).to.have.length(1);
        expect(kept[0]).to.include({ reason: 'entry[0].messaging[1]: message.mid: expected string', body: event });
      });

      it('shows one instance the statuses recorded by another', async function () {
        needsInstances(this);
        const a = await instance('a');
        const b = await instance('b');
        await a.recordOutbound('c1', 'mid-1');
        await a.accept([item('m1', 'c1', 5000)]);
        expect(await b.recordStatus('mid-1', 'delivered')).to.equal('c1');
        expect(await a.statusOf('mid-1')).to.equal('delivered');
        expect(await b.lastCustomerMessageAt('c1')).to.equal(5000);
      });
    });
  });
}
