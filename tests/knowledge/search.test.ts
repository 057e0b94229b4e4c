import { expect } from 'chai';
import { fixedClock } from '../../src/clock.js';
import {
  ANSWER_THRESHOLD,
  KnowledgeIndex,
  SUGGEST_THRESHOLD,
  calibrate,
  decideFrom,
  plausibleCorrection,
  stem,
  tokenize,
} from '../../src/knowledge/search.js';
import { entry, helpCentre } from './search-fixtures.js';

const top = (index: KnowledgeIndex, q: string, ctx = {}) => index.search(q, ctx)[0]?.entry.id;

describe('knowledge search', () => {
  const index = KnowledgeIndex.build(helpCentre());

  describe('text handling', () => {
    it('folds case, accents and apostrophes into plain words', () => {
      expect(tokenize("Where's my CAFÉ order?!")).to.deep.equal(['wheres', 'my', 'cafe', 'order']);
    });

    it('stems inflections of a word to the same stem', () => {
      expect(new Set(['charge', 'charged', 'charging', 'charges'].map(stem)).size).to.equal(1);
      expect(stem('deliveries')).to.equal(stem('delivery'));
    });
  });

  describe('ranking', () => {
    it('puts the right entry first for a paraphrase', () => {
      expect(top(index, 'is it possible to settle my invoice using a credit card')).to.equal('billing/pay-by-card');
      expect(top(index, 'my package still has not arrived')).to.equal('delivery/track');
      expect(top(index, 'are you open on sundays')).to.equal('stores/hours');
    });

    it('finds the entry despite typos', () => {
      expect(top(index, 'i forgot my pasword')).to.equal('account/reset-password');
      expect(top(index, 'how do i turn on roamign')).to.equal('roaming/activate');
    });

    it('corrects typos and word starts, but never turns an unknown word into an unrelated known one', () => {
      expect(plausibleCorrection('pasword', 'password')).to.equal(true);
      expect(plausibleCorrection('roamign', 'roaming')).to.equal(true);
      expect(plausibleCorrection('refun', 'refund')).to.equal(true);
      expect(plausibleCorrection('match', 'manchester')).to.equal(false);
      expect(plausibleCorrection('peru', 'person')).to.equal(false);
      expect(plausibleCorrection('rain', 'ran')).to.equal(false);
    });

    it('finds the entry from a partial word', () => {
      expect(top(index, 'refun')).to.equal('billing/refund');
      expect(top(index, 'passw')).to.equal('account/reset-password');
    });

    it('returns matches best first with confidences between 0 and 1', () => {
      const matches = index.search('pay my bill', { limit: 5 });
      expect(matches.length).to.be.within(2, 5);
      for (let i = 1; i < matches.length; i++) expect(matches[i - 1]!.confidence).to.be.at.least(matches[i]!.confidence);
      for (const m of matches) expect(m.confidence).to.be.within(0, 1);
    });

    it('honours the limit', () => {
      expect(index.search('my phone', { limit: 2 })).to.have.length.at.most(2);
      expect(index.search('my phone', { limit: 0 })).to.deep.equal([]);
    });

    it('returns nothing for an empty or punctuation-only query', () => {
      expect(index.search('')).to.deep.equal([]);
      expect(index.decide('?!').kind).to.equal('none');
    });
  });

  describe('deciding', () => {
    it('answers a clear question with the matching entry', () => {
      const d = index.decide('how can I pay my bill by card');
      expect(d.kind).to.equal('answer');
      if (d.kind === 'answer') {
        expect(d.match.entry.id).to.equal('billing/pay-by-card');
        expect(d.match.confidence).to.be.at.least(ANSWER_THRESHOLD);
      }
    });

    it('says nothing fits for unrelated questions', () => {
      for (const q of ['who won the football match yesterday', 'recommend a pasta recipe', 'is it going to rain in lima tomorrow']) {
        const d = index.decide(q);
        expect(d.kind, q).to.not.equal('answer');
      }
      expect(index.decide('xqzv blorp').kind).to.equal('none');
    });

    it('suggests up to three close entries when it is unsure, and answers when it is sure', () => {
      const match = (id: string, confidence: number) => ({ entry: entry(id, id, []), confidence });
      const unsure = decideFrom([match('a', 0.45), match('b', 0.4), match('c', 0.35), match('d', 0.31), match('e', 0.1)]);
      expect(unsure.kind).to.equal('suggest');
      expect(unsure.matches.map((m) => m.entry.id)).to.deep.equal(['a', 'b', 'c']);
      expect(decideFrom([match('a', 0.9), match('b', 0.4)]).kind).to.equal('answer');
      expect(decideFrom([match('a', SUGGEST_THRESHOLD - 0.01)]).kind).to.equal('none');
    });

    it('calibrates to 0 without evidence and to 1 for a certain, exact match', () => {
      expect(calibrate(0, 0.9)).to.equal(0);
      expect(calibrate(0.9, 0)).to.equal(0);
      expect(calibrate(1, 1)).to.equal(1);
      expect(calibrate(0.2, 0.3)).to.be.lessThan(calibrate(0.8, 0.9));
    });
  });

  describe('availability', () => {
    const offer = entry('offers/black-friday', 'Black Friday offer', ['black friday discount', 'is there a sale this week'], {
      validFrom: '2026-11-20',
      validUntil: '2026-11-30',
    });
    const clock = fixedClock('2026-11-10T12:00:00Z');
    const dated = KnowledgeIndex.build([...helpCentre(), offer], { clock });

    it('hides an entry before its first day and after its last day, following the clock', () => {
      clock.set('2026-11-19T23:59:59Z');
      expect(dated.search('black friday offer').map((m) => m.entry.id)).to.not.include('offers/black-friday');
      expect(dated.get('offers/black-friday')).to.equal(undefined);
      clock.set('2026-11-20T00:00:00Z');
      expect(top(dated, 'black friday offer')).to.equal('offers/black-friday');
      clock.set('2026-11-30T23:59:59Z');
      expect(top(dated, 'black friday offer')).to.equal('offers/black-friday');
      expect(dated.get('offers/black-friday')?.id).to.equal('offers/black-friday');
      clock.set('2026-12-01T00:00:00Z');
      expect(dated.search('black friday offer').map((m) => m.entry.id)).to.not.include('offers/black-friday');
      expect(dated.decide('black friday offer').kind).to.not.equal('answer');
    });

    it('takes the time from the search options over the clock', () => {
      clock.set('2026-12-15T00:00:00Z');
      expect(top(dated, 'black friday offer', { now: new Date('2026-11-25T08:00:00Z') })).to.equal('offers/black-friday');
    });

    const channelled = KnowledgeIndex.build([
      ...helpCentre(),
      entry('channels/whatsapp-only', 'How do I send a voice note?', ['voice message'], { channels: ['whatsapp'] }),
      entry('channels/german', 'Wie bezahle ich meine Rechnung?', ['Rechnung bezahlen'], { locale: 'de' }),
    ]);

    it('returns an entry only on the channels it is meant for', () => {
      expect(top(channelled, 'how do i send a voice note', { channel: 'whatsapp' })).to.equal('channels/whatsapp-only');
      expect(channelled.search('how do i send a voice note', { channel: 'webchat' }).map((m) => m.entry.id)).to.not.include('channels/whatsapp-only');
      expect(channelled.get('channels/whatsapp-only', { channel: 'messenger' })).to.equal(undefined);
      expect(channelled.get('channels/whatsapp-only', { channel: 'whatsapp' })?.id).to.equal('channels/whatsapp-only');
    });

    it('returns an entry only for its locale, English by default', () => {
      expect(channelled.search('Rechnung bezahlen').map((m) => m.entry.id)).to.not.include('channels/german');
      expect(top(channelled, 'Rechnung bezahlen', { locale: 'de-DE' })).to.equal('channels/german');
      expect(channelled.search('pay my bill by card', { locale: 'de' }).map((m) => m.entry.id)).to.not.include('billing/pay-by-card');
      expect(top(channelled, 'pay my bill by card', { locale: 'en-GB' })).to.equal('billing/pay-by-card');
    });
  });

  it('keeps the entries it was built from', () => {
    expect(index.entries.map((e) => e.id)).to.include('contract/cancel');
    expect(index.get('contract/cancel')?.handoff).to.equal(true);
    expect(index.get('nope')).to.equal(undefined);
  });

  it('builds an index over no entries that finds nothing', () => {
    const empty = KnowledgeIndex.build([]);
    expect(empty.search('anything')).to.deep.equal([]);
    expect(empty.decide('anything').kind).to.equal('none');
  });
});
