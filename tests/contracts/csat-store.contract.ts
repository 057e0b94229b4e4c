/**
 * The contract every `CsatStore` (src/bot/csat-store.ts) must pass, on files and on PostgreSQL: one
 * record per resolution, each survey step kept once ("first one wins") so a replayed resolve or two
 * instances never ask twice or count a rating twice, `latest` per conversation, and `between` by
 * `resolvedAt` for the analytics.
 */
import { expect } from 'chai';
import { MAX_CSAT_COMMENT_CHARS, type CsatResolution, type CsatStore } from '../../src/bot/csat-store.js';

/** What a factory hands the suite: stores on one fresh, empty backing store. */
export interface CsatStoreUnderTest {
  /** A store on the backing store; called again after the previous one was closed, it is a restart. */
  store(): Promise<CsatStore>;
  /** Several instances may use the backing store at once (PostgreSQL); false for one process's files. */
  sharedByInstances: boolean;
  dispose(): Promise<void>;
}

/** Registers the contract under `describe(name)`; `make` returns a fresh, empty backing store each time. */
export function csatStoreContract(name: string, make: () => Promise<CsatStoreUnderTest>): void {
  describe(`CsatStore contract: ${name}`, () => {
    let sut: CsatStoreUnderTest;
    const open: CsatStore[] = [];
    const store = async () => {
      const s = await sut.store();
      open.push(s);
      return s;
    };
    const restart = async (s: CsatStore) => {
      await s.close();
      open.splice(open.indexOf(s), 1);
      return store();
    };
    const resolution = (conversationId: string, resolvedAt: string, extra: Partial<CsatResolution> = {}): CsatResolution => ({
      conversationId,
      channelId: 'whatsapp',
      agent: 'Alice',
      resolvedAt,
      ...extra,
    });

    beforeEach(async () => {
      sut = await make();
    });
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
      await sut.dispose();
    });

    it('knows no survey of a conversation never resolved', async () => {
      const s = await store();
      expect(await s.latest('conv1')).to.equal(undefined);
      expect(await s.between(new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z'))).to.deep.equal([]);
    });

    it('keeps a survey asked, rated and commented, across a restart', async () => {
      let s = await store();
      const r = resolution('conv1', '2026-12-01T10:00:00.000Z');
      expect(await s.recordAsked(r, '2026-12-01T10:00:01.000Z')).to.equal(true);
      expect(await s.recordRating('conv1', r.resolvedAt, 4, '2026-12-01T10:01:00.000Z')).to.equal(true);
      expect(await s.recordComment('conv1', r.resolvedAt, '  quick and kind ')).to.equal(true);
      s = await restart(s);
      expect(await s.latest('conv1')).to.deep.equal({
        conversationId: 'conv1',
        channelId: 'whatsapp',
        agent: 'Alice',
        rating: 4,
        comment: 'quick and kind',
        resolvedAt: '2026-12-01T10:00:00.000Z',
        askedAt: '2026-12-01T10:00:01.000Z',
        answeredAt: '2026-12-01T10:01:00.000Z',
      });
    });

    it('asks once per resolution: a replayed resolve (or a second instance) is told it was already asked', async () => {
      const s = await store();
      const other = sut.sharedByInstances ? await store() : s;
      const r = resolution('conv1', '2026-12-01T10:00:00.000Z');
      const results = await Promise.all([s.recordAsked(r, '2026-12-01T10:00:01.000Z'), other.recordAsked(r, '2026-12-01T10:00:02.000Z'), s.recordAsked(r, '2026-12-01T10:00:03.000Z')]);
      expect(results.filter(Boolean)).to.have.length(1);
      expect((await other.latest('conv1'))?.askedAt).to.equal('2026-12-01T10:00:01.000Z');
    });

    it('counts the first rating and the first comment only', async () => {
      const s = await store();
      const other = sut.sharedByInstances ? await store() : s;
      const r = resolution('conv1', '2026-12-01T10:00:00.000Z');
      await s.recordAsked(r, '2026-12-01T10:00:01.000Z');
      const ratings = await Promise.all([s.recordRating('conv1', r.resolvedAt, 5, '2026-12-01T10:01:00.000Z'), other.recordRating('conv1', r.resolvedAt, 1, '2026-12-01T10:01:01.000Z')]);
      expect(ratings.filter(Boolean)).to.have.length(1);
      expect(await s.recordComment('conv1', r.resolvedAt, 'first')).to.equal(true);
      expect(await other.recordComment('conv1', r.resolvedAt, 'second')).to.equal(false);
      const saved = await other.latest('conv1');
      expect([1, 5]).to.include(saved?.rating);
      expect(saved?.comment).to.equal('first');
    });

    it('takes no comment before a rating and no rating for a resolution it does not know', async () => {
      const s = await store();
      const r = resolution('conv1', '2026-12-01T10:00:00.000Z');
      expect(await s.recordRating('conv1', r.resolvedAt, 3, '2026-12-01T10:01:00.000Z')).to.equal(false);
      await s.recordAsked(r, '2026-12-01T10:00:01.000Z');
      expect(await s.recordComment('conv1', r.resolvedAt, 'no rating yet')).to.equal(false);
      expect(await s.latest('conv1')).to.not.have.property('comment');
    });

    it('refuses a rating off the 1–5 scale', async () => {
      const s = await store();
      const r = resolution('conv1', '2026-12-01T10:00:00.000Z');
      await s.recordAsked(r, '2026-12-01T10:00:01.000Z');
      for (const bad of [0, 6, 2.5]) {
        await s.recordRating('conv1', r.resolvedAt, bad as 1, '2026-12-01T10:01:00.000Z').then(
          () => expect.fail(`accepted ${bad}`),
          (err: Error) => expect(err).to.be.instanceOf(RangeError),
        );
      }
      expect(await s.latest('conv1')).to.not.have.property('rating');
    });

    it('cuts a very long comment to MAX_CSAT_COMMENT_CHARS', async () => {
      const s = await store();
      const r = resolution('conv1', '2026-12-01T10:00:00.000Z');
      await s.recordAsked(r, '2026-12-01T10:00:01.000Z');
      await s.recordRating('conv1', r.resolvedAt, 2, '2026-12-01T10:01:00.000Z');
      await s.recordComment('conv1', r.resolvedAt, 'ü'.repeat(MAX_CSAT_COMMENT_CHARS * 3));
      expect((await s.latest('conv1'))?.comment).to.equal('ü'.repeat(MAX_CSAT_COMMENT_CHARS));
    });

    it('keeps a resolution whose survey was skipped, and a replay does not add a second one', async () => {
      const s = await store();
      const r = resolution('conv1', '2026-12-01T10:00:00.000Z', { agent: undefined, channelId: 'messenger' });
      await s.recordResolved(r);
      await s.recordResolved(r);
      const all = await s.between(new Date('2026-12-01T00:00:00Z'), new Date('2026-12-02T00:00:00Z'));
      expect(all).to.deep.equal([{ conversationId: 'conv1', channelId: 'messenger', resolvedAt: '2026-12-01T10:00:00.000Z' }]);
      // A survey asked after all (the rule changed, another instance) still marks the same record.
      expect(await s.recordAsked(r, '2026-12-01T10:00:05.000Z')).to.equal(true);
      expect(await s.between(new Date('2026-12-01T00:00:00Z'), new Date('2026-12-02T00:00:00Z'))).to.have.length(1);
    });

    it('gives the latest resolution of a conversation resolved twice, and each one by period', async () => {
      const s = await store();
      await s.recordAsked(resolution('conv1', '2026-12-01T10:00:00.000Z'), '2026-12-01T10:00:01.000Z');
      await s.recordRating('conv1', '2026-12-01T10:00:00.000Z', 2, '2026-12-01T10:02:00.000Z');
      await s.recordAsked(resolution('conv1', '2026-12-03T09:00:00.000Z', { agent: 'Bob' }), '2026-12-03T09:00:01.000Z');
      await s.recordResolved(resolution('conv2', '2026-12-02T12:00:00.000Z', { channelId: 'webchat' }));
      const latest = await s.latest('conv1');
      expect(latest?.resolvedAt).to.equal('2026-12-03T09:00:00.000Z');
      expect(latest?.agent).to.equal('Bob');
      expect(latest).to.not.have.property('rating');
      const all = await s.between(new Date('2026-12-01T00:00:00Z'), new Date('2026-12-04T00:00:00Z'));
      expect(all.map((r) => [r.conversationId, r.resolvedAt])).to.deep.equal([
        ['conv1', '2026-12-01T10:00:00.000Z'],
        ['conv2', '2026-12-02T12:00:00.000Z'],
        ['conv1', '2026-12-03T09:00:00.000Z'],
      ]);
      // [from, to): a resolution exactly at `to` belongs to the next period.
      const firstTwoDays = await s.between(new Date('2026-12-01T10:00:00.000Z'), new Date('2026-12-02T12:00:00.000Z'));
      expect(firstTwoDays.map((r) => r.conversationId)).to.deep.equal(['conv1']);
    });
  });
}
