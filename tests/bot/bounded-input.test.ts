/**
 * Issue 13: what the bot reads and keeps of a customer's text is bounded. A long text is a new
 * question, never a yes/no or a pick; conversation state keeps the last few misses, each cut short;
 * the handoff question is bounded; a tap on a long title still picks it.
 */
import { expect } from 'chai';
import { MemoryStorage } from 'botbuilder';
import { MAX_PICK_WORDS, MAX_YES_NO_WORDS, recognizeDetail, recognizePick, recognizeYesNo, readsAsQuestion } from '../../src/bot/choices.js';
import { KEPT_TEXT_CHARS, MAX_KEPT_MISSES } from '../../src/bot/limits.js';
import { InsightsStore } from '../../src/bot/insights.js';
import { HANDOFF_QUESTION_CHARS, boundQuestion, clipText } from '../../src/handoff/limits.js';
import { FakeKnowledge, harness } from './helpers.js';

const words = (n: number, word = 'no') => Array.from({ length: n }, () => word).join(' ');

describe('bounded customer input', () => {
  describe('yes/no and picks read a short reply only', () => {
    it('reads "no no no …" of any length as a new question, not as "no"', () => {
      expect(recognizeYesNo(words(MAX_YES_NO_WORDS))?.value).to.equal(false);
      expect(recognizeYesNo(words(MAX_YES_NO_WORDS + 1))).to.equal(undefined);
      expect(recognizeYesNo(words(5000))).to.equal(undefined);
    });

    it('still understands a yes/no with a few words around it', () => {
      expect(recognizeYesNo('no, sorry, it did not work')).to.deep.include({ value: false });
      expect(recognizeYesNo('yes thanks')).to.deep.equal({ value: true, alone: true });
    });

    it('does not pick a suggestion out of a long text, but a tap on a long title still picks it', () => {
      const longTitle = `Why is ${words(MAX_PICK_WORDS, 'my')} bill higher than usual?`;
      const offered = [
        { value: 'billing/high', title: longTitle },
        { value: 'billing/refund', title: 'How do I get a refund?' },
      ];
      expect(recognizePick(longTitle, offered)).to.deep.equal({ kind: 'picked', value: 'billing/high', index: 0, by: 'title' });
      expect(recognizePick('2', offered)).to.deep.include({ kind: 'picked', value: 'billing/refund' });
      expect(recognizePick(`${words(3000)} How do I get a refund?`, offered)).to.deep.equal({ kind: 'no-pick' });
      expect(recognizePick(words(3000), offered), 'not "none of these" either').to.deep.equal({ kind: 'no-pick' });
    });

    it('finds a detail at the start of a long reply and keeps a free-text detail whole', () => {
      const long = `my email is ana@example.com and ${words(5000, 'blah')}`;
      expect(recognizeDetail(long, 'email')).to.equal('ana@example.com');
      expect(recognizeDetail(long, 'text')).to.equal(long);
      expect(readsAsQuestion(`how ${words(5000, 'long')}`)).to.equal(true);
    });
  });

  describe('conversation state and the handoff question', () => {
    const MISS = (i: number) => `question ${i} ${'x'.repeat(2000)}`;

    it(`keeps the last ${MAX_KEPT_MISSES} misses, each cut to ${KEPT_TEXT_CHARS} characters, however many the customer sends`, async () => {
      const h = harness(new FakeKnowledge([]));
      // Each second miss is answered with an offer of a person; the next question is a miss again.
      for (let i = 0; i < 60; i++) await h.say(MISS(i));
      const state = await h.storage.read(['webchat/conversations/conv-1/']);
      const data = (state['webchat/conversations/conv-1/'] as { faqBot: { misses: string[]; pending?: { question?: string } } }).faqBot;
      expect(data.misses).to.have.length(MAX_KEPT_MISSES);
      for (const m of data.misses) expect(m.length).to.be.at.most(KEPT_TEXT_CHARS);
      expect(data.misses.at(-1)).to.match(/^question 59 x+…$/);
      expect(JSON.stringify(state).length, 'the state document stays small').to.be.below(5 * KEPT_TEXT_CHARS + 2000);

      // Accepting the offer hands off with the recent questions, bounded.
      await h.say('yes');
      const request = h.requester.requestHandoff.lastCall.args[1] as { question: string };
      expect(request.question.length).to.be.at.most(HANDOFF_QUESTION_CHARS);
      expect(request.question).to.include('question 59').and.include('question 58');
      expect(request.question).not.to.include('question 50');
    });

    it('records a long unanswered question for the editors cut short', async () => {
      const storage = new MemoryStorage();
      const insights = new InsightsStore(storage);
      await insights.recordUnanswered({ query: `gift cards ${'y'.repeat(20_000)}`, channel: 'webchat' });
      const [day] = Object.values(await storage.read([`insights/unanswered/${new Date().toISOString().slice(0, 10)}`])) as { items: { query: string }[] }[];
      expect(day!.items[0]!.query).to.match(/^gift cards y+…$/);
      expect(day!.items[0]!.query.length).to.be.at.most(KEPT_TEXT_CHARS);
    });

    it('cuts a handoff question at a space and marks the cut', () => {
      expect(boundQuestion(undefined)).to.equal(undefined);
      expect(boundQuestion('short')).to.equal('short');
      const cut = boundQuestion(words(5000, 'refund'))!;
      expect(cut.length).to.be.at.most(HANDOFF_QUESTION_CHARS);
      expect(cut).to.match(/refund…$/);
      expect(clipText('x'.repeat(50), 10)).to.equal(`${'x'.repeat(9)}…`);
    });
  });
});
