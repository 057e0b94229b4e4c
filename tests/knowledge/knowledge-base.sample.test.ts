import { expect } from 'chai';
import { fixedClock } from '../../src/clock.js';
import { KnowledgeBase } from '../../src/knowledge/knowledge-base.js';

/**
 * The sample knowledge is what a new user tries first: the phrases that ask for a person, the entries
 * that always go to a human, small talk and the time-limited offer must work through the real search.
 */
describe('sample knowledge (knowledge/)', () => {
  const clock = fixedClock('2026-11-23T10:00:00Z');
  let kb: KnowledgeBase;

  before(async () => {
    kb = await KnowledgeBase.open('knowledge', { clock, watch: false });
  });
  after(() => kb.close());

  for (const phrase of ['agent', 'human', 'talk to someone', 'real person', 'speak to a representative', 'can I talk to a real person please']) {
    it(`hands "${phrase}" to a human through the handoff-request entry`, () => {
      const decision = kb.decide(phrase, { channel: 'whatsapp' });
      expect(decision.kind).to.equal('answer');
      if (decision.kind !== 'answer') return;
      expect(decision.match.entry.id).to.equal('support/talk-to-a-human');
      expect(decision.match.entry.handoff).to.equal(true);
      expect(decision.match.entry.tags).to.include('handoff-request');
    });
  }

  it('always hands cancelling a contract and a formal complaint to a human', () => {
    expect(kb.get('contract/cancel-contract')?.handoff).to.equal(true);
    expect(kb.get('complaints/make-a-complaint')?.handoff).to.equal(true);
  });

  it('answers small talk from the knowledge', () => {
    for (const [text, id] of [
      ['hi', 'smalltalk/hello'],
      ['thanks', 'smalltalk/thanks'],
      ['bye', 'smalltalk/bye'],
    ] as const) {
      const decision = kb.decide(text);
      expect(decision.kind, text).to.equal('answer');
      if (decision.kind === 'answer') expect(decision.match.entry.id, text).to.equal(id);
    }
  });

  it('offers the winter deal on every channel from 20 November to 31 December 2026 only', () => {
    for (const channel of ['webchat', 'messenger', 'whatsapp']) {
      expect(kb.get('offers/winter-double-data', { channel, now: new Date('2026-11-20T00:00:00Z') }), channel).to.not.equal(undefined);
      expect(kb.get('offers/winter-double-data', { channel, now: new Date('2026-12-31T23:59:00Z') }), channel).to.not.equal(undefined);
      expect(kb.get('offers/winter-double-data', { channel, now: new Date('2026-11-19T23:59:00Z') }), channel).to.equal(undefined);
      expect(kb.get('offers/winter-double-data', { channel, now: new Date('2027-01-01T00:00:00Z') }), channel).to.equal(undefined);
    }
  });

  it('gives every entry alternates, tags and follow-ups that resolve', () => {
    for (const entry of kb.entries) {
      expect(entry.alternates.length, entry.id).to.be.at.least(3);
      expect(entry.tags.length, entry.id).to.be.at.least(1);
      for (const id of entry.followUps) expect(kb.entries.some((e) => e.id === id), `${entry.id} → ${id}`).to.equal(true);
    }
  });
});
