import { expect } from 'chai';
import { ActivityTypes, MemoryStorage, TestAdapter, ConversationState, UserState } from 'botbuilder';
import { fixedClock } from '../../src/clock.js';
import { KnowledgeIndex } from '../../src/knowledge/search.js';
import { FaqBot } from '../../src/bot/faq-bot.js';
import { InsightsStore } from '../../src/bot/insights.js';
import { t } from '../../src/bot/strings.js';
import { actionTitles, entry, FakeKnowledge, harness, joined } from './helpers.js';

const en = (key: Parameters<typeof t>[1], params?: Record<string, string>) => t('en', key, params);

/** The out-of-scope answer names the folders of these entries, most entries first. */
const OUT_OF_SCOPE = t('en', 'outOfScope', { topics: '**billing**, **offers**, and **whatsapp**' });
const entries = [
  entry('billing/pay-by-card', 'How can I pay my bill by card?', 'Pay in the app under **Billing → Pay now**.', {
    alternates: ['pay invoice with credit card', 'can I use my visa to pay'],
    tags: ['billing'],
    followUps: ['billing/due-date', 'offers/black-friday', 'whatsapp/opt-out', 'billing/missing'],
  }),
  entry('billing/due-date', 'When is my bill due?', 'Bills are due on the 15th.', { tags: ['billing'] }),
  entry('offers/black-friday', 'What is the Black Friday offer?', 'Half price!', { validUntil: '2026-11-30' }),
  entry('whatsapp/opt-out', 'How do I stop WhatsApp messages?', 'Reply STOP.', { channels: ['whatsapp'] }),
  entry('smalltalk/hello', 'Hello', 'Hello! What can I do for you?', { alternates: ['hi', 'hey there'], tags: ['smalltalk'] }),
  entry('people/human', 'Talk to a human', 'Sure, let me find someone for you.', {
    alternates: ['agent', 'real person', 'talk to someone'],
    tags: ['handoff-request'],
    handoff: true,
  }),
  entry('billing/dispute', 'I want to dispute a charge', 'I will pass this to our billing team.', { tags: ['billing'], handoff: true }),
];
const clock = fixedClock('2026-12-01T10:00:00Z');
const index = () => KnowledgeIndex.build(entries, { clock });

describe('FaqBot', () => {
  describe('answers', () => {
    it('answers a question with the matching entry, as markdown', async () => {
      const h = harness(index());
      await h.say(joined('customer-1'));
      const replies = await h.say('how can I pay my bill by card');
      expect(replies[0]!.text).to.equal('Pay in the app under **Billing → Pay now**.');
      expect(replies[0]!.textFormat).to.equal('markdown');
      expect(replies[1]!.text).to.equal(en('didThisHelp'));
    });

    it('offers the follow-ups once, after Yes/No on "Did this help?", skipping expired and other-channel entries', async () => {
      const h = harness(index(), { channelId: 'webchat' });
      await h.say(joined('customer-1'));
      const [answer, feedback] = await h.say('how can I pay my bill by card');
      expect(answer!.suggestedActions, 'the answer goes as plain Markdown').to.equal(undefined);
      expect(answer!.textFormat).to.equal('markdown');
      expect(actionTitles(feedback)).to.deep.equal([en('yesAction'), en('noAction'), 'When is my bill due?']);
      expect(feedback!.suggestedActions!.actions[2]).to.include({ type: 'imBack', value: 'When is my bill due?' });
    });

    it('sends one message with choices per answer on WhatsApp (one interactive list, not two)', async () => {
      const h = harness(index(), { channelId: 'whatsapp' });
      await h.say('hello');
      const replies = await h.say('how can I pay my bill by card');
      expect(replies.map((r) => r.text)).to.deep.equal(['Pay in the app under **Billing → Pay now**.', en('didThisHelp')]);
      expect(replies.filter((r) => r.suggestedActions?.actions.length)).to.have.length(1);
    });

    it('keeps the follow-ups on a small-talk answer, which gets no "Did this help?"', async () => {
      const knowledge = new FakeKnowledge([
        entry('smalltalk/thanks', 'Thank you', 'You are welcome!', { tags: ['smalltalk'], followUps: ['billing/due-date'] }),
        entry('billing/due-date', 'When is my bill due?', 'Bills are due on the 15th.'),
      ]).answers('thanks', 'smalltalk/thanks');
      const h = harness(knowledge);
      await h.say(joined('customer-1'));
      const replies = await h.say('thanks');
      expect(replies).to.have.length(1);
      expect(actionTitles(replies[0])).to.deep.equal(['When is my bill due?']);
      expect(await h.texts('When is my bill due?')).to.deep.equal(['Bills are due on the 15th.', en('didThisHelp')]);
    });

    it('shows a channel-only follow-up on its channel', async () => {
      const h = harness(index(), { channelId: 'whatsapp' });
      const replies = await h.say('how can I pay my bill by card');
      const feedback = replies.find((r) => r.text === en('didThisHelp'));
      expect(actionTitles(feedback)).to.deep.equal([en('yesAction'), en('noAction'), 'When is my bill due?', 'How do I stop WhatsApp messages?']);
    });

    it('answers a tapped follow-up with that entry', async () => {
      const h = harness(index());
      await h.say('how can I pay my bill by card');
      const texts = await h.texts('When is my bill due?');
      expect(texts[0]).to.equal('Bills are due on the 15th.');
    });

    it('answers a channel-specific entry only on its channel', async () => {
      const onWhatsApp = harness(index(), { channelId: 'whatsapp' });
      expect(await onWhatsApp.texts('how do I stop whatsapp messages')).to.include('Reply STOP.');
      const onWebChat = harness(index(), { channelId: 'webchat' });
      expect(await onWebChat.texts('how do I stop whatsapp messages')).not.to.include('Reply STOP.');
    });

    it('does not ask "Did this help?" after small talk', async () => {
      const h = harness(index());
      await h.say(joined('customer-1'));
      expect(await h.texts('hello')).to.deep.equal(['Hello! What can I do for you?']);
    });
  });

  describe('welcome', () => {
    it('welcomes a web chat customer once, when the conversation starts', async () => {
      const h = harness(index());
      expect(await h.texts(joined('customer-1'))).to.deep.equal([en('welcome')]);
      expect(await h.texts(joined('bot'))).to.deep.equal([]);
      expect(await h.texts(joined('customer-1'))).to.deep.equal([]);
      const replies = await h.texts('how can I pay my bill by card');
      expect(replies).not.to.include(en('welcome'));
    });

    it('welcomes a WhatsApp customer on the first message and answers it too', async () => {
      const h = harness(index(), { channelId: 'whatsapp' });
      const first = await h.texts('how can I pay my bill by card');
      expect(first.slice(0, 2)).to.deep.equal([en('welcome'), 'Pay in the app under **Billing → Pay now**.']);
      const second = await h.texts('when is my bill due');
      expect(second).not.to.include(en('welcome'));
    });

    it('greets a returning customer with a shorter welcome in a new conversation', async () => {
      const storage = new MemoryStorage();
      await harness(index(), { channelId: 'messenger', storage, conversationId: 'first' }).say('when is my bill due');
      const again = await harness(index(), { channelId: 'messenger', storage, conversationId: 'second' }).texts('when is my bill due');
      expect(again[0]).to.equal(en('welcomeBack'));
    });

    it('lets a greeting entry answer a first "hello" on Messenger instead of greeting twice', async () => {
      const h = harness(index(), { channelId: 'messenger' });
      expect(await h.texts('hello')).to.deep.equal(['Hello! What can I do for you?']);
      expect(await h.texts('when is my bill due')).not.to.include(en('welcome'));
    });

    it('sends the welcome through botbuilder\'s TestFlow as well', async () => {
      const storage = new MemoryStorage();
      const bot = new FaqBot({
        knowledge: index(),
        conversationState: new ConversationState(storage),
        userState: new UserState(storage),
        insights: new InsightsStore(storage),
      });
      const adapter = new TestAdapter((context) => bot.run(context));
      await adapter
        .send(joined('user'))
        .assertReply(en('welcome'))
        .send('hello')
        .assertReply('Hello! What can I do for you?');
    });
  });

  describe('unsupported messages', () => {
    it('asks a WhatsApp customer who sent a photo to type instead', async () => {
      const h = harness(index(), { channelId: 'whatsapp' });
      await h.say('hello');
      const texts = await h.texts({ type: ActivityTypes.Message, attachments: [{ contentType: 'image/jpeg', contentUrl: 'https://example.test/p.jpg' }] });
      expect(texts).to.deep.equal([en('unsupportedMessage')]);
    });

    it('treats a message the channel adapter marked unsupported as media even when it has text', async () => {
      const h = harness(index(), { channelId: 'messenger' });
      await h.say('hello');
      const texts = await h.texts({ type: ActivityTypes.Message, text: 'sticker', channelData: { unsupported: 'sticker' } });
      expect(texts).to.deep.equal([en('unsupportedMessage')]);
    });
  });

  describe('suggestions', () => {
    const suggestEntries = [
      entry('billing/card', 'How can I pay my bill by card?', 'Card answer.'),
      entry('billing/due', 'When is my bill due?', 'Due answer.'),
      entry('billing/refund', 'How do I get a refund?', 'Refund answer.'),
    ];
    const knowledge = () =>
      new FakeKnowledge(suggestEntries).suggests('bill', ['billing/card', 'billing/due', 'billing/refund']).answers('where is my parcel', 'billing/due');
    const suggested = async () => {
      const h = harness(knowledge());
      await h.say(joined('customer-1'));
      const replies = await h.say('bill');
      return { h, replies };
    };

    it('offers up to three close entries, numbered, as suggested actions', async () => {
      const { replies } = await suggested();
      expect(replies).to.have.length(1);
      expect(replies[0]!.text).to.contain('1. How can I pay my bill by card?').and.contain('3. How do I get a refund?');
      expect(actionTitles(replies[0])).to.deep.equal([...suggestEntries.map((e) => e.question), en('noneOfTheseAction')]);
    });

    const picks: [string, string][] = [
      ['a tap (the action value)', 'When is my bill due?'],
      ['the number', '2'],
      ['an ordinal', 'the second one'],
      ['part of the title', 'when is it due'],
    ];
    for (const [how, reply] of picks) {
      it(`answers the suggestion picked by ${how}`, async () => {
        const { h } = await suggested();
        expect((await h.texts(reply))[0]).to.equal('Due answer.');
      });
    }

    it('picks the third by "third" and the first by its word "card"', async () => {
      const a = await suggested();
      expect((await a.h.texts('third'))[0]).to.equal('Refund answer.');
      const b = await suggested();
      expect((await b.h.texts('card'))[0]).to.equal('Card answer.');
    });

    it('offers a single close entry in the singular', async () => {
      const h = harness(new FakeKnowledge(suggestEntries).suggests('refunds?', ['billing/refund']));
      await h.say(joined('customer-1'));
      const [reply] = await h.say('refunds?');
      expect(reply!.text).to.equal(en('didYouMeanOne', { list: '1. How do I get a refund?' }));
      expect((await h.texts('yes'))[0]).to.equal('Refund answer.');
    });

    it('treats a reply that matches no suggestion as a new question', async () => {
      const { h } = await suggested();
      expect(await h.texts('where is my parcel')).to.deep.equal(['Due answer.', en('didThisHelp')]);
      const unrelated = harness(knowledge());
      await unrelated.say('bill');
      expect(await unrelated.texts('opening hours')).to.deep.equal([en('outOfScopeNoTopics')]);
    });

    it('does not read a "2" sent hours after the suggestions as a pick', async () => {
      const { h } = await suggested();
      h.clock.advance(3 * 60 * 60 * 1000);
      expect(await h.texts('2')).to.deep.equal([en('outOfScopeNoTopics')]);
    });

    it('reads a bare "no" to the suggestions as none of these', async () => {
      const { h } = await suggested();
      expect(await h.texts('nope')).to.deep.equal([en('rephrase')]);
    });

    it('counts "none of these" as a miss of the original question', async () => {
      const { h } = await suggested();
      expect(await h.texts('none of these')).to.deep.equal([en('rephrase')]);
      const unanswered = await h.insights.unanswered();
      expect(unanswered.map((q) => q.query)).to.deep.equal(['bill']);
      expect(unanswered[0]).to.include({ channel: 'webchat' });
    });

    it('passes the declined suggestions to the handoff after a second miss', async () => {
      const { h } = await suggested();
      await h.say('None of these');
      expect(await h.texts('something odd')).to.deep.equal([en('stillNoAnswerOfferHuman')]);
      await h.say('yes');
      expect(h.requester.requestHandoff.calledOnce).to.equal(true);
      expect(h.requester.requestHandoff.firstCall.args[1]).to.deep.equal({
        reason: 'two-misses',
        question: 'bill\nsomething odd',
        rejectedEntryIds: ['billing/card', 'billing/due', 'billing/refund'],
      });
    });
  });

  describe('feedback', () => {
    const knowledge = () =>
      new FakeKnowledge([entry('billing/card', 'How can I pay my bill by card?', 'Card answer.'), entry('billing/due', 'When is my bill due?', 'Due answer.')])
        .answers('pay by card', 'billing/card')
        .answers('when is my bill due', 'billing/due');
    const answered = async () => {
      const h = harness(knowledge());
      await h.say(joined('customer-1'));
      await h.say('pay by card');
      return h;
    };

    it('counts a tapped "Yes" as helpful for the entry', async () => {
      const h = await answered();
      expect(await h.texts('Yes')).to.deep.equal([en('gladItHelped')]);
      expect(await h.insights.feedback('billing/card')).to.deep.include({ entryId: 'billing/card', helpful: 1, notHelpful: 0, lastAt: '2026-12-01T10:00:00.000Z' });
    });

    it('understands "yes thanks" and "nope" typed as free text', async () => {
      const yes = await answered();
      expect(await yes.texts('yes thanks')).to.deep.equal([en('gladItHelped')]);
      const no = await answered();
      expect(await no.texts('nope')).to.deep.equal([en('sorryOfferHuman')]);
      const fb = await no.insights.feedback('billing/card');
      expect(fb[0]).to.include({ helpful: 0, notHelpful: 1 });
    });

    it('after "no", offers a person and requests a handoff with the rejected answer when accepted', async () => {
      const h = await answered();
      const [offer] = await h.say('No');
      expect(offer!.text).to.equal(en('sorryOfferHuman'));
      expect(actionTitles(offer)).to.deep.equal([en('yesAction'), en('noAction')]);
      await h.say('yes please');
      expectHandoff(h.requester.requestHandoff, { reason: 'not-helpful', question: 'pay by card', rejectedEntryIds: ['billing/card'] });
    });

    it('says so politely when the customer declines the person', async () => {
      const h = await answered();
      await h.say('no');
      expect(await h.texts('no thanks')).to.deep.equal([en('offerDeclined')]);
      expect(h.requester.requestHandoff.called).to.equal(false);
    });

    it('answers a new question instead of forcing a yes or no', async () => {
      const h = await answered();
      expect(await h.texts('when is my bill due')).to.deep.equal(['Due answer.', en('didThisHelp')]);
      expect(await h.insights.feedback()).to.deep.equal([]);
    });

    it('takes a bare "yes" as the reply to its question even when an entry matches "yes"', async () => {
      const h = harness(knowledge().answers('yes', 'billing/due').answers('no', 'billing/due'));
      await h.say('pay by card');
      expect(await h.texts('no')).to.deep.equal([en('sorryOfferHuman')]);
      await h.say('yes');
      expect(h.requester.requestHandoff.calledOnce).to.equal(true);
    });

    it('reads "no, <a question the knowledge answers>" as that new question', async () => {
      const h = harness(knowledge().answers('no, when is my bill due', 'billing/due'));
      await h.say('pay by card');
      expect((await h.texts('no, when is my bill due'))[0]).to.equal('Due answer.');
      expect(await h.insights.feedback()).to.deep.equal([]);
    });

    it('says a person is not available when no handoff plugin runs', async () => {
      const h = harness(knowledge(), { withHandoff: false });
      await h.say('pay by card');
      await h.say('no');
      expect(await h.texts('yes')).to.deep.equal([en('humanUnavailable')]);
    });
  });

  describe('misses', () => {
    it('says what it can help with after one miss and records the question for editors', async () => {
      const h = harness(index(), { channelId: 'messenger' });
      await h.say('hello');
      expect(await h.texts('quantum entanglement')).to.deep.equal([OUT_OF_SCOPE]);
      expect(await h.insights.unanswered()).to.deep.equal([
        { query: 'quantum entanglement', channel: 'messenger', locale: 'en-US', conversationId: 'conv-1', at: '2026-12-01T10:00:00.000Z' },
      ]);
    });

    it('offers a person after two misses in a row and hands off with both questions', async () => {
      const h = harness(index());
      await h.say('hello');
      await h.say('quantum entanglement');
      const [offer] = await h.say('zebra migration');
      expect(offer!.text).to.equal(en('stillNoAnswerOfferHuman'));
      expect(actionTitles(offer)).to.deep.equal([en('yesAction'), en('noAction')]);
      await h.say('Yes');
      expectHandoff(h.requester.requestHandoff, { reason: 'two-misses', question: 'quantum entanglement\nzebra migration' });
    });

    it('starts counting again after an answer', async () => {
      const h = harness(index());
      await h.say('hello');
      await h.say('quantum entanglement');
      await h.say('when is my bill due');
      expect(await h.texts('zebra migration')).to.deep.equal([OUT_OF_SCOPE]);
    });
  });

  describe('handoff entries', () => {
    it('answers an entry marked handoff, then requests a handoff for it', async () => {
      const h = harness(index());
      await h.say('hello');
      expect(await h.texts('I want to dispute a charge')).to.deep.equal(['I will pass this to our billing team.']);
      expectHandoff(h.requester.requestHandoff, { reason: 'entry-handoff', entryId: 'billing/dispute', question: 'I want to dispute a charge' });
    });

    it('hands off with reason customer-asked for the knowledge folder\'s "talk to a human" phrases, with the earlier unanswered question', async () => {
      const h = harness(index());
      await h.say('hello');
      await h.say('quantum entanglement');
      expect(await h.texts('can I talk to a real person')).to.deep.equal(['Sure, let me find someone for you.']);
      expectHandoff(h.requester.requestHandoff, { reason: 'customer-asked', question: 'quantum entanglement\ncan I talk to a real person' });
    });

    it('gives the agent the customer\'s own message as the question when they ask for a person straight away', async () => {
      const message = 'my order 558812 never arrived, i want to talk to a real person';
      const knowledge = new FakeKnowledge(entries).answers('hello', 'smalltalk/hello').answers(message, 'people/human');
      const h = harness(knowledge, { channelId: 'whatsapp' });
      await h.say('hello');
      expect(await h.texts(message)).to.deep.equal(['Sure, let me find someone for you.']);
      expectHandoff(h.requester.requestHandoff, { reason: 'customer-asked', question: message });
    });
  });
});

function expectHandoff(stub: { calledOnce: boolean; firstCall: { args: unknown[] } }, request: object): void {
  expect(stub.calledOnce, 'requestHandoff called once').to.equal(true);
  expect(stub.firstCall.args[1]).to.deep.equal(request);
}
