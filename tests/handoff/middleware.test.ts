import { expect } from 'chai';
import type { Activity, TurnContext } from 'botbuilder';
import { HANDOFF_REQUESTER, type HandoffRequest, type HandoffRequester } from '../../src/handoff/types.js';
import type { HubEvent } from '../../src/handoff/hub.js';
import { createFixture, settle, type Fixture } from './helpers.js';

const agentAda = { id: 'a1', name: 'Ada' };
const agentBob = { id: 'a2', name: 'Bob' };

/** A stand-in bot: answers "bot: <text>", and asks for a handoff on the words the real bot maps to each trigger. */
function botLogic(calls: string[], request: (text: string) => HandoffRequest | undefined = defaultTriggers) {
  return async (context: TurnContext) => {
    if (context.activity.type !== 'message') return;
    calls.push(context.activity.text ?? '');
    const req = request(context.activity.text ?? '');
    const requester = context.turnState.get(HANDOFF_REQUESTER) as HandoffRequester;
    if (req) await requester.requestHandoff(context, req);
    else await context.sendActivity(`bot: ${context.activity.text}`);
  };
}

function defaultTriggers(text: string): HandoffRequest | undefined {
  if (text === 'agent please') return { reason: 'customer-asked', question: 'where is my parcel?' };
  if (text === 'yes, a person') return { reason: 'two-misses', question: 'asdf qwer' };
  if (text === 'no it did not help, yes a person') return { reason: 'not-helpful', question: 'refund?', rejectedEntryIds: ['billing/refund'] };
  if (text === 'refund for order 55512') return { reason: 'entry-handoff', question: text, entryId: 'billing/refund' };
  return undefined;
}

const texts = (acts: Partial<Activity>[]) => acts.map((a) => a.text);

describe('HandoffMiddleware', () => {
  let f: Fixture;
  let events: HubEvent[];
  beforeEach(async () => {
    f = await createFixture();
    events = [];
    f.hub.subscribe((e) => events.push(e));
  });
  afterEach(() => f.close());

  for (const [text, reason, priority] of [
    ['agent please', 'customer-asked', 1],
    ['yes, a person', 'two-misses', 2],
    ['no it did not help, yes a person', 'not-helpful', 2],
    ['refund for order 55512', 'entry-handoff', 1],
  ] as const) {
    it(`queues the conversation when the bot asks for a ${reason} handoff, and says so in one message`, async () => {
      const release = f.hub.agentConnected('a1');
      const adapter = f.adapter(botLogic([]));
      await adapter.receiveActivity(text);
      expect(adapter.activeQueue).to.have.length(1);
      const message = adapter.activeQueue[0]!.text!;
      expect(message).to.include('can see this whole conversation').and.include('no need to repeat').and.include('number 1 in the queue');
      const record = (await f.store.get('conv-1'))!;
      expect(record).to.include({ owner: 'queued', reason, priority });
      expect(events.map((e) => e.type === 'conversation' && e.change)).to.include('queued');
      release();
    });
  }

  it('routes an entry-handoff to the team named by the entry tag and keeps the rejected answers', async () => {
    const adapter = f.adapter(botLogic([]));
    await adapter.receiveActivity('refund for order 55512');
    expect((await f.store.get('conv-1'))!.team).to.equal('billing');
    const other = f.adapter(botLogic([]), 'conv-2');
    await other.receiveActivity('no it did not help, yes a person');
    const record = (await f.store.get('conv-2'))!;
    expect(record.rejectedEntryIds).to.deep.equal(['billing/refund']);
    expect(record.question).to.equal('refund?');
  });

  it('records handoff.initiate with the transcript attached in the transcript store, never sending it to the customer', async () => {
    const adapter = f.adapter(botLogic([]));
    await adapter.receiveActivity('my email is ada@example.com');
    await settle(f.hub);
    await adapter.receiveActivity('agent please');
    await settle(f.hub);
    expect(adapter.activeQueue.every((a) => a.type === 'message')).to.equal(true);
    const page = await f.transcripts.getTranscriptActivities('test', 'conv-1');
    const initiate = page.items.find((a) => a.name === 'handoff.initiate')!;
    expect(initiate, 'handoff.initiate in the transcript').to.exist;
    const transcript = initiate.attachments!.find((a) => a.name === 'Transcript')!.content as { activities: Activity[] };
    expect(transcript.activities.map((a) => a.text)).to.include.members(['my email is ada@example.com', 'bot: my email is ada@example.com', 'agent please']);
    expect((initiate.value as any).summary).to.include('ada@example.com');
  });

  it('keeps the bot silent while the conversation waits and forwards the customer live to the hub', async () => {
    const calls: string[] = [];
    const adapter = f.adapter(botLogic(calls));
    await adapter.receiveActivity('agent please');
    adapter.activeQueue.splice(0);
    await adapter.receiveActivity('hello? anyone?');
    expect(adapter.activeQueue, 'nothing sent').to.have.length(0);
    expect(calls).to.deep.equal(['agent please']);
    const live = events.find((e) => e.type === 'message');
    expect(live && live.type === 'message' && live.activity.text).to.equal('hello? anyone?');
  });

  it('drops what a bot turn already in flight tries to send once an agent has taken over', async () => {
    const adapter = f.adapter(async (context) => {
      if (context.activity.text === 'first') return void (await context.sendActivity('hi there'));
      await f.hub.claim('conv-1', agentAda); // the agent takes over while the bot is still answering
      await context.sendActivity('bot: late answer');
    });
    await adapter.receiveActivity('first');
    adapter.activeQueue.splice(0);
    await adapter.receiveActivity('second');
    expect(texts(adapter.activeQueue)).to.deep.equal(['Ada from our team has joined and can see the whole conversation.']);
    expect((await f.store.get('conv-1'))!).to.include({ owner: 'assigned', agentId: 'a1', reason: 'agent-takeover' });
  });

  it('lets an agent take over a live bot conversation, recording handoff.initiate and accepted', async () => {
    const calls: string[] = [];
    const adapter = f.adapter(botLogic(calls));
    await adapter.receiveActivity('what are your opening hours?');
    adapter.activeQueue.splice(0);
    await f.hub.claim('conv-1', agentAda);
    await settle(f.hub);
    await adapter.receiveActivity('thanks for joining');
    expect(calls).to.deep.equal(['what are your opening hours?']);
    const names = (await f.transcripts.getTranscriptActivities('test', 'conv-1')).items.map((a) => a.name).filter(Boolean);
    expect(names).to.include.members(['handoff.initiate', 'handoff.status']);
  });

  it('delivers the agent reply, marked as the agent, while the bot stays silent', async () => {
    const calls: string[] = [];
    const adapter = f.adapter(botLogic(calls));
    await adapter.receiveActivity('agent please');
    await f.hub.claim('conv-1', agentAda);
    adapter.activeQueue.splice(0);
    await f.hub.sendAgentMessage('conv-1', agentAda, 'Hi, I see your order 55512.');
    expect(texts(adapter.activeQueue)).to.deep.equal(['Hi, I see your order 55512.']);
    expect(adapter.activeQueue[0]!.channelData.switchboard.agent).to.deep.equal({ agentId: 'a1', agentName: 'Ada' });
    await adapter.receiveActivity('great');
    expect(calls).to.deep.equal(['agent please']);
  });

  it('lets a waiting customer cancel with "never mind" and gives the conversation back to the bot', async () => {
    const calls: string[] = [];
    const adapter = f.adapter(botLogic(calls));
    await adapter.receiveActivity('agent please');
    adapter.activeQueue.splice(0);
    await adapter.receiveActivity('oh never mind');
    expect(texts(adapter.activeQueue)).to.deep.equal([f.hub.strings.cancelled]);
    expect((await f.store.get('conv-1'))!.owner).to.equal('bot');
    await adapter.receiveActivity('opening hours?');
    expect(calls).to.deep.equal(['agent please', 'opening hours?']);
  });

  it('passes "I want to cancel my order 55512" to the agent instead of cancelling the handoff', async () => {
    const adapter = f.adapter(botLogic([]));
    await adapter.receiveActivity('agent please');
    adapter.activeQueue.splice(0);
    await adapter.receiveActivity('I want to cancel my order 55512 please');
    expect(adapter.activeQueue).to.have.length(0);
    expect((await f.store.get('conv-1'))!.owner).to.equal('queued');
  });

  it('says no agent is online, takes the message and keeps the conversation queued', async () => {
    const adapter = f.adapter(botLogic([]));
    await adapter.receiveActivity('agent please');
    expect(adapter.activeQueue[0]!.text).to.include('No one from our team is online');
    await adapter.receiveActivity('my number is +49 151 23456789');
    expect((await f.store.get('conv-1'))!.owner).to.equal('queued');
  });

  it('says when the team is back outside business hours', async () => {
    f.clock.set('2026-11-28T12:00:00Z'); // a Saturday
    const release = f.hub.agentConnected('a1');
    const adapter = f.adapter(botLogic([]));
    await adapter.receiveActivity('agent please');
    expect(adapter.activeQueue[0]!.text).to.include('Mon-Fri 09:00-18:00 (UTC)').and.include('away right now');
    expect((await f.store.get('conv-1'))!.owner).to.equal('queued');
    release();
  });

  it('estimates the wait from recent handling times and the agents online', async () => {
    const release = f.hub.agentConnected('a1');
    const first = f.adapter(botLogic([]), 'conv-1');
    await first.receiveActivity('agent please');
    await f.hub.claim('conv-1', agentAda);
    f.clock.advance(12 * 60_000);
    await f.hub.resolve('conv-1', agentAda);
    const second = f.adapter(botLogic([]), 'conv-2');
    await second.receiveActivity('agent please');
    const third = f.adapter(botLogic([]), 'conv-3', 'customer-3');
    await third.receiveActivity('agent please');
    expect(second.activeQueue.at(-1)!.text).to.include('number 1 in the queue; the wait is about 12 minutes');
    expect(third.activeQueue.at(-1)!.text).to.include('number 2 in the queue; the wait is about 24 minutes');
    release();
  });

  it('hands the conversation back to the bot on resolve, with a message to the customer', async () => {
    const calls: string[] = [];
    const adapter = f.adapter(botLogic(calls));
    await adapter.receiveActivity('agent please');
    await f.hub.claim('conv-1', agentBob);
    adapter.activeQueue.splice(0);
    await f.hub.resolve('conv-1', agentBob);
    expect(texts(adapter.activeQueue)).to.deep.equal([f.hub.strings.resolved.replace('{agent}', 'Bob')]);
    adapter.activeQueue.splice(0);
    await adapter.receiveActivity('what are your opening hours?');
    expect(texts(adapter.activeQueue)).to.deep.equal(['bot: what are your opening hours?']);
  });

  it("gives the agent the customer's earlier conversations too", async () => {
    const old = f.adapter(botLogic([]), 'conv-old', 'customer-1');
    await old.receiveActivity('last week: order A-77812 never arrived');
    await settle(f.hub);
    const now = f.adapter(botLogic([]), 'conv-new', 'customer-1');
    await now.receiveActivity('agent please');
    await settle(f.hub);
    const transcript = await f.hub.transcript((await f.store.get('conv-new'))!);
    expect(texts(transcript)).to.include.members(['last week: order A-77812 never arrived', 'agent please']);
    expect((await f.store.get('conv-new'))!.summary!.orderNumbers).to.include('A-77812');
  });
});
