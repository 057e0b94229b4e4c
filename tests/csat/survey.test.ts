import { expect } from 'chai';
import { ConversationState, MemoryStorage, UserState, type Activity } from 'botbuilder';
import { FaqBot } from '../../src/bot/faq-bot.js';
import { InsightsStore } from '../../src/bot/insights.js';
import { CSAT_SURVEY_TTL_MS, CsatSurvey, recognizeRating } from '../../src/bot/csat.js';
import { FileCsatStore } from '../../src/bot/csat-store.js';
import { csatStrings } from '../../src/bot/strings.js';
import { createFixture, settle, type Fixture } from '../handoff/helpers.js';
import { entry, FakeKnowledge } from '../bot/helpers.js';

const s = csatStrings('en');

describe('CSAT: typed ratings', () => {
  const cases: [string, number | undefined][] = [
    ['5', 5],
    ['five', 5],
    ['4 stars', 4],
    ['4/5', 4],
    ['I give it a 4', 4],
    ['5 – Very good', 5],
    ['1 – Very poor', 1],
    ['great', 5],
    ['the agent was great', 5],
    ['ok', 3],
    ['bad', 2],
    ['not good', 2],
    ['terrible', 1],
    ['Terrible!', 1],
    ['10', undefined],
    ['3.5', undefined],
    ['4 or 5', undefined],
    ['how do I pay by card?', undefined],
    ['my order 55512 has not arrived yet', undefined],
    ['thanks', undefined],
    ['great but this is a very long message that goes on and on', undefined],
  ];
  for (const [text, rating] of cases) {
    it(`reads "${text}" as ${rating ?? 'no rating'}`, () => {
      expect(recognizeRating(text, 'en-US')).to.equal(rating);
    });
  }

  it('never runs the recognizers on a very long reply', () => {
    expect(recognizeRating('5'.repeat(200_000))).to.equal(undefined);
    expect(recognizeRating('great '.repeat(50_000))).to.equal(undefined);
  });
});

describe('CSAT: the survey after a resolution', () => {
  let f: Fixture;
  let csatDir: Fixture;
  let store: FileCsatStore;
  let survey: CsatSurvey;
  let storage: MemoryStorage;
  const agent = { id: 'ada', name: 'Ada' };
  const knowledge = () => new FakeKnowledge([entry('billing/card', 'How can I pay my bill by card?', 'Card answer.')]).answers('how can i pay my bill by card?', 'billing/card');

  beforeEach(async () => {
    f = await createFixture({ hours: 'Mon-Sun 00:00-24:00' });
    csatDir = f;
    store = await FileCsatStore.open(f.dir);
    storage = new MemoryStorage();
  });
  afterEach(async () => {
    await store.close();
    await csatDir.close();
  });

  /** A customer on the fixture's channel talking to a FaqBot with the survey, handed to Ada. */
  async function customerWithAgent(options: { listen?: boolean } = {}) {
    const conversationState = new ConversationState(storage);
    survey = new CsatSurvey({ store, conversationState, knowledge: knowledge(), clock: f.clock });
    if (options.listen ?? true) f.hub.onResolved((record, continueWith) => survey.afterResolve(record, continueWith));
    const bot = new FaqBot({ knowledge: knowledge(), conversationState, userState: new UserState(storage), insights: new InsightsStore(storage, { clock: f.clock }), csat: survey, clock: f.clock });
    const customer = f.adapter((context) => bot.run(context), 'conv-1', 'customer-1');
    await customer.receiveActivity('hello');
    await f.hub.claim('conv-1', agent); // an agent takes over the live conversation
    await customer.receiveActivity('my router is broken');
    await settle(f.hub);
    customer.activeQueue.splice(0);
    const say = async (text: string) => {
      await customer.receiveActivity(text);
      await settle(f.hub);
      return customer.activeQueue.splice(0).map((a: Partial<Activity>) => a.text);
    };
    const surveys = () => f.transcripts.getTranscriptActivities('test', 'conv-1').then((p) => p.items.filter((a) => a.channelData?.switchboard?.csat === 'ask'));
    return { customer, say, surveys, sent: () => customer.activeQueue.splice(0) };
  }

  it('asks once with the five ratings as suggested actions, takes the rating and a comment', async () => {
    const c = await customerWithAgent();
    await f.hub.resolve('conv-1', agent);
    const sent = c.sent();
    const ask = sent.at(-1)!;
    expect(ask.text).to.equal(s.ask.replace('{agent}', 'Ada'));
    expect(ask.suggestedActions?.actions.map((a) => a.title)).to.deep.equal(s.ratingActions);
    expect(await c.say('4 stars')).to.deep.equal([s.askComment]);
    expect(await c.say('quick and kind')).to.deep.equal([s.thanks]);
    expect(await store.latest('conv-1')).to.include({ rating: 4, comment: 'quick and kind', agent: 'Ada', channelId: 'test' });
    // After the survey the bot is itself again.
    expect(await c.say('How can I pay my bill by card?')).to.include('Card answer.');
  });

  it('answers a question asked instead of the rating, records no rating and does not ask again', async () => {
    const c = await customerWithAgent();
    await f.hub.resolve('conv-1', agent);
    c.sent();
    expect(await c.say('How can I pay my bill by card?')).to.include('Card answer.');
    expect(await c.say('5')).to.not.include(s.askComment);
    const saved = await store.latest('conv-1');
    expect(saved?.askedAt).to.be.a('string');
    expect(saved).to.not.have.property('rating');
    expect(await c.surveys()).to.have.length(1);
  });

  it('answers a question asked instead of the comment, and keeps the rating', async () => {
    const c = await customerWithAgent();
    await f.hub.resolve('conv-1', agent);
    c.sent();
    expect(await c.say('great')).to.deep.equal([s.askComment]);
    expect(await c.say('How can I pay my bill by card?')).to.include('Card answer.');
    const saved = await store.latest('conv-1');
    expect(saved).to.include({ rating: 5 });
    expect(saved).to.not.have.property('comment');
  });

  it('takes a bare "no" to the comment prompt as no comment', async () => {
    const c = await customerWithAgent();
    await f.hub.resolve('conv-1', agent);
    c.sent();
    await c.say('terrible');
    expect(await c.say('no thanks')).to.deep.equal([s.thanks]);
    expect(await store.latest('conv-1')).to.include({ rating: 1 }).and.not.have.property('comment');
  });

  it('never asks twice for one resolution: a replayed resolve step sends nothing', async () => {
    const c = await customerWithAgent();
    const record = await f.hub.resolve('conv-1', agent);
    c.sent();
    // The step again, as after a crash or on a second instance sharing the store and the state.
    const again = new CsatSurvey({ store, conversationState: new ConversationState(storage), clock: f.clock });
    await again.afterResolve(record, (logic) => f.hub.continueWith(record, logic));
    expect(c.sent()).to.deep.equal([]);
    expect(await c.surveys()).to.have.length(1);
  });

  it('skips the survey when the customer wrote before it went out (never mid-question)', async () => {
    const c = await customerWithAgent({ listen: false });
    const record = await f.hub.resolve('conv-1', agent);
    expect(await c.say('How can I pay my bill by card?')).to.include('Card answer.');
    await survey.afterResolve(record, (logic) => f.hub.continueWith(record, logic));
    expect(c.sent()).to.deep.equal([]);
    expect(await store.latest('conv-1')).to.deep.equal({ conversationId: 'conv-1', channelId: 'test', agent: 'Ada', resolvedAt: record.resolvedAt });
  });

  it('sends no survey once the channel no longer lets the bot write (the 24-hour window has closed)', async () => {
    const c = await customerWithAgent({ listen: false });
    const record = await f.hub.resolve('conv-1', agent);
    c.sent();
    const closed = new CsatSurvey({
      store,
      conversationState: new ConversationState(storage),
      clock: f.clock,
      replyWindow: async () => ({ channelId: 'test', botClosesAt: new Date(f.clock.now().getTime() - 1000) }),
    });
    await closed.afterResolve(record, (logic) => f.hub.continueWith(record, logic));
    expect(c.sent()).to.deep.equal([]);
    expect(await store.latest('conv-1')).to.not.have.property('askedAt');
  });

  it('lets an unanswered survey expire: a "5" the next week is a new question', async () => {
    const c = await customerWithAgent();
    await f.hub.resolve('conv-1', agent);
    c.sent();
    f.clock.advance(CSAT_SURVEY_TTL_MS + 1000);
    expect(await c.say('5')).to.not.include(s.askComment);
    expect(await store.latest('conv-1')).to.not.have.property('rating');
  });

  it('asks again after the next resolution', async () => {
    const c = await customerWithAgent();
    await f.hub.resolve('conv-1', agent);
    c.sent();
    await c.say('How can I pay my bill by card?'); // ignores the first survey
    f.clock.advance(60_000);
    await f.hub.claim('conv-1', agent);
    await f.hub.resolve('conv-1', agent);
    const second = c.sent().at(-1)!;
    expect(second.channelData?.switchboard?.csat).to.equal('ask');
    expect(await c.say('ok')).to.deep.equal([s.askComment]);
    expect(await store.latest('conv-1')).to.include({ rating: 3 });
  });
});
