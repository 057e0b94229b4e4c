import { expect } from 'chai';
import { ConversationState, MemoryStorage, UserState } from 'botbuilder';
import { FaqBot } from '../../src/bot/faq-bot.js';
import { InsightsStore } from '../../src/bot/insights.js';
import { t } from '../../src/bot/strings.js';
import type { HandoffRequester } from '../../src/handoff/types.js';
import { createFixture, settle, type Fixture } from '../handoff/helpers.js';
import { entry, FakeKnowledge, harness } from './helpers.js';

const en = (key: Parameters<typeof t>[1]) => t('en', key);

const entries = [
  entry('billing/card', 'How can I pay my bill by card?', 'Card answer.', { followUps: ['billing/due'] }),
  entry('billing/due', 'When is my bill due?', 'Due answer.'),
  entry('billing/refund', 'How do I get a refund?', 'Refund answer.'),
];
const knowledge = () =>
  new FakeKnowledge(entries).answers('pay by card', 'billing/card').suggests('bill', ['billing/card', 'billing/due', 'billing/refund']);

describe('FaqBot after a person had the conversation', () => {
  it('does not read the next "no" as the answer to a "Did this help?" asked before the handoff', async () => {
    const h = harness(knowledge());
    (h.requester as HandoffRequester).handoffCount = 0;
    await h.say('pay by card');
    (h.requester as HandoffRequester).handoffCount = 1; // an agent took over and resolved it meanwhile
    expect(await h.texts('no')).to.deep.equal([en('outOfScopeNoTopics')]);
    expect(await h.insights.feedback()).to.deep.equal([]);
  });

  it('does not read a "2" as a pick from suggestions offered before the handoff, nor a follow-up tap', async () => {
    const h = harness(knowledge());
    (h.requester as HandoffRequester).handoffCount = 3;
    await h.say('bill');
    (h.requester as HandoffRequester).handoffCount = 4;
    expect(await h.texts('2')).to.deep.equal([en('outOfScopeNoTopics')]);

    await h.say('pay by card');
    (h.requester as HandoffRequester).handoffCount = 5;
    expect(await h.texts('When is my bill due?')).to.deep.equal([en('outOfScopeNoTopics')]);
  });

  it('keeps its prompt while no person has been involved', async () => {
    const h = harness(knowledge());
    (h.requester as HandoffRequester).handoffCount = 2;
    await h.say('pay by card');
    expect(await h.texts('no')).to.deep.equal([en('sorryOfferHuman')]);
  });

  describe('with HandoffMiddleware and the hub', () => {
    let f: Fixture;
    beforeEach(async () => {
      f = await createFixture();
    });
    afterEach(async () => f.close());

    it('answers afresh after an agent took over a "Did this help?" and resolved the conversation', async () => {
      const storage = new MemoryStorage();
      const insights = new InsightsStore(storage, { clock: f.clock });
      const bot = new FaqBot({ knowledge: knowledge(), conversationState: new ConversationState(storage), userState: new UserState(storage), insights, clock: f.clock });
      const customer = f.adapter((context) => bot.run(context), 'conv-after', 'customer-after');
      await customer.receiveActivity('pay by card');
      expect(customer.activeQueue.splice(0).map((a) => a.text)).to.include(en('didThisHelp'));

      const agent = { id: 'ada', name: 'Ada' };
      await f.hub.claim('conv-after', agent); // takes over the live bot conversation
      await customer.receiveActivity('actually I have a question about my contract');
      await f.hub.resolve('conv-after', agent);
      await settle(f.hub);
      customer.activeQueue.splice(0);

      await customer.receiveActivity('no');
      expect(customer.activeQueue.splice(0).map((a) => a.text)).to.deep.equal([en('outOfScopeNoTopics')]);
      expect(await insights.feedback()).to.deep.equal([]);
    });
  });
});
