import { expect } from 'chai';
import { ConversationState, MemoryStorage, UserState } from 'botbuilder';
import { FaqBot } from '../../src/bot/faq-bot.js';
import { InsightsStore } from '../../src/bot/insights.js';
import { t } from '../../src/bot/strings.js';
import { loadKnowledge } from '../../src/knowledge/loader.js';
import { KnowledgeIndex } from '../../src/knowledge/search.js';
import { createFixture, settle, type Fixture } from '../handoff/helpers.js';
import { actionTitles, harness, joined } from './helpers.js';

const en = (key: Parameters<typeof t>[1], params: Record<string, string> = {}) => t('en', key, params);

/**
 * What a new user tried on the demo page, through the real search over the sample knowledge (knowledge/):
 * the questions that got a confident wrong answer, the answer that asked for a postcode it could not take,
 * the weather, and asking for a person out of hours.
 */
describe('FaqBot on the sample knowledge', () => {
  let index: KnowledgeIndex;

  before(async () => {
    const loaded = await loadKnowledge('knowledge');
    expect(loaded.problems).to.deep.equal([]);
    index = KnowledgeIndex.build(loaded.entries);
  });

  const answerOf = (id: string) => index.get(id)!.answer;

  describe('questions that used to get a confident wrong answer', () => {
    it('answers roaming in the US with the Travel Pass, not order tracking', async () => {
      const h = harness(index);
      const texts = await h.texts('how much is it to use my phone in the states');
      expect(texts[1]).to.equal(answerOf('roaming/roaming-outside-europe'));
      expect(texts[1]).to.include('Travel Pass');
    });

    it('answers "is there free parking at the store" with parking, not opening hours', async () => {
      const h = harness(index);
      const texts = await h.texts('is there free parking at the store');
      expect(texts[1]).to.equal(answerOf('stores/parking'));
      expect(texts[1]).not.to.equal(answerOf('stores/opening-hours'));
    });

    it('answers freezing a contract with the pause, and does not queue the customer as if leaving', async () => {
      const h = harness(index);
      const texts = await h.texts('can i freeze my contract for 2 months while im travelling');
      expect(texts[1]).to.equal(answerOf('contract/pause-contract'));
      expect(texts).to.include(en('didThisHelp'));
      expect(h.requester.requestHandoff.called, 'no handoff').to.equal(false);
    });

    it('still hands a plain "I want to cancel my contract" to a person', async () => {
      const h = harness(index);
      await h.say('I want to cancel my contract');
      expect(h.requester.requestHandoff.calledOnce).to.equal(true);
      expect(h.requester.requestHandoff.firstCall.args[1]).to.include({ reason: 'entry-handoff', entryId: 'contract/cancel-contract' });
    });
  });

  describe('questions outside what it knows', () => {
    for (const query of ['whats the weather in paris tomorrow', 'what about the weather in rome']) {
      it(`says plainly what it can help with for "${query}", with no suggestions`, async () => {
        const h = harness(index);
        await h.say(joined('customer-1'));
        const replies = await h.say(query);
        // The topics are the knowledge folder's own folders, most entries first.
        expect(replies.map((r) => r.text)).to.deep.equal([en('outOfScope', { topics: '**billing**, **plans**, **sim**, **account**, **upgrades**, and **contract**' })]);
        expect(actionTitles(replies[0])).to.deep.equal([]);
        expect(h.requester.requestHandoff.called).to.equal(false);
      });
    }
  });

  describe('an answer that asks for a detail', () => {
    async function noSignal() {
      const h = harness(index);
      await h.say(joined('customer-1'));
      const texts = await h.texts('I have no signal');
      expect(texts[0]).to.equal(answerOf('sim/no-signal'));
      expect(texts[0]).to.include('postcode');
      return h;
    }

    it('takes the postcode it asked for and hands off to a person with it', async () => {
      const h = await noSignal();
      const texts = await h.texts('SW1A 1AA');
      expect(texts).to.deep.equal([en('detailTaken', { detail: 'postcode', value: 'SW1A 1AA' })]);
      expect(texts.join(' ')).not.to.include(en('rephrase'));
      expect(h.requester.requestHandoff.calledOnce).to.equal(true);
      expect(h.requester.requestHandoff.firstCall.args[1]).to.deep.equal({
        reason: 'entry-handoff',
        entryId: 'sim/no-signal',
        question: 'I have no signal\nSW1A 1AA',
      });
    });

    it('takes a postcode inside a sentence, also after "No" to "Did this help?"', async () => {
      const h = await noSignal();
      expect(await h.texts('No')).to.deep.equal([en('sorryOfferHuman')]);
      await h.say("it's m1 1ae");
      expect(h.requester.requestHandoff.calledOnce).to.equal(true);
      expect(h.requester.requestHandoff.firstCall.args[1]).to.include({ entryId: 'sim/no-signal', question: "I have no signal\nit's m1 1ae" });
    });

    it('answers a new question instead of taking it as the detail', async () => {
      const h = await noSignal();
      const texts = await h.texts('how do i pay my bill');
      expect(texts[0]).to.equal(answerOf('billing/pay-bill'));
      expect(h.requester.requestHandoff.called).to.equal(false);
    });

    it('takes a free-text detail even when it mentions another topic, but not a new question or thanks', async () => {
      const refund = async () => {
        const h = harness(index);
        await h.say(joined('customer-1'));
        expect((await h.texts('How do I get a refund?'))[0]).to.include('date and amount');
        return h;
      };
      const h = await refund();
      expect(await h.texts('charged £12.50 on 14 Nov for a data add-on I never bought')).to.deep.equal([en('detailTakenText')]);
      expect(h.requester.requestHandoff.firstCall.args[1]).to.deep.equal({
        reason: 'entry-handoff',
        entryId: 'billing/refund',
        question: 'How do I get a refund?\ncharged £12.50 on 14 Nov for a data add-on I never bought',
      });

      const asking = await refund();
      expect((await asking.texts('how do i pay my bill?'))[0]).to.equal(answerOf('billing/pay-bill'));
      const thanking = await refund();
      expect(await thanking.texts('thanks')).to.deep.equal([answerOf('smalltalk/thanks')]);
      expect(asking.requester.requestHandoff.called || thanking.requester.requestHandoff.called).to.equal(false);
    });

    it('takes the order number that order tracking asks for', async () => {
      const h = harness(index);
      await h.say(joined('customer-1'));
      expect((await h.texts('where is my order'))[0]).to.include('order number');
      expect(await h.texts('NM-558812')).to.deep.equal([en('detailTaken', { detail: 'number', value: 'NM-558812' })]);
      expect(h.requester.requestHandoff.firstCall.args[1]).to.include({ entryId: 'delivery/track-order' });
    });

    it('does not promise a person on a channel without one', async () => {
      const h = harness(index, { withHandoff: false });
      await h.say(joined('customer-1'));
      await h.say('I have no signal');
      expect(await h.texts('SW1A 1AA')).to.deep.equal([en('humanUnavailable')]);
    });
  });

  describe('asking for a person, with HandoffMiddleware and business hours', () => {
    let f: Fixture;
    beforeEach(async () => {
      f = await createFixture();
    });
    afterEach(async () => f.close());

    function customer(conversationId: string) {
      const storage = new MemoryStorage();
      const bot = new FaqBot({
        knowledge: index,
        conversationState: new ConversationState(storage),
        userState: new UserState(storage),
        insights: new InsightsStore(storage, { clock: f.clock }),
        clock: f.clock,
      });
      return f.adapter((context) => bot.run(context), conversationId, `${conversationId}-customer`);
    }

    it('says one consistent thing out of hours: the team is away, nobody is joining now', async () => {
      f.clock.set('2026-11-28T12:00:00Z'); // a Saturday
      const release = f.hub.agentConnected('a1');
      const adapter = customer('conv-closed');
      await adapter.receiveActivity('can I talk to a real person please');
      await settle(f.hub);
      const texts = adapter.activeQueue.splice(0).map((a) => a.text ?? '');
      expect(texts.join(' ')).to.include('away right now');
      // Nothing claims someone is coming now, before or after the notice that says the team is away.
      for (const text of texts) expect(text.replace('away right now', '')).not.to.match(/\bnow\b|bringing|joining|take over/i);
      expect((await f.store.get('conv-closed'))!.owner).to.equal('queued');
      release();
    });

    it('has no handoff entry in the sample that promises a person "now" (the notice says when)', () => {
      const handoffs = index.entries.filter((e) => e.handoff);
      expect(handoffs.length).to.be.at.least(3);
      for (const e of handoffs) expect(e.answer, e.id).not.to.match(/\bnow\b|right away|straight away|bringing in/i);
    });

    it('says the same opening within hours, followed by the place in the queue', async () => {
      const release = f.hub.agentConnected('a1');
      const adapter = customer('conv-open');
      await adapter.receiveActivity('can I talk to a real person please');
      await settle(f.hub);
      const texts = adapter.activeQueue.splice(0).map((a) => a.text ?? '');
      expect(texts).to.include(answerOf('support/talk-to-a-human'));
      expect(texts.join(' ')).to.include(f.hub.strings.queued).and.include('number 1 in the queue');
      release();
    });
  });
});
