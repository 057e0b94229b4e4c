import { expect } from 'chai';
import { ActivityEventNames, ActivityTypes, MemoryTranscriptStore, TestAdapter, TranscriptLoggerMiddleware, TurnContext, type Activity } from 'botbuilder';
import { TurnSafeTranscriptLogger } from '../../src/storage/index.js';

/** The activities the store holds for the test conversation, as "role: text". */
async function logged(store: MemoryTranscriptStore, adapter: TestAdapter): Promise<string[]> {
  const conv = adapter.conversation.conversation.id;
  const page = await store.getTranscriptActivities(adapter.conversation.channelId!, conv);
  return page.items.filter((a: Activity) => a.type === ActivityTypes.Message).map((a: Activity) => `${a.from.role === 'user' ? 'user' : 'bot'}: ${a.text}`);
}

const failingBot = async (context: TurnContext) => {
  await context.sendActivity('Let me look up order 12345 ...');
  throw new Error('the order system is down');
};

describe('TurnSafeTranscriptLogger', () => {
  it('keeps the message, the replies so far and the apology of a turn that throws', async () => {
    const store = new MemoryTranscriptStore();
    const adapter = new TestAdapter(failingBot).use(new TurnSafeTranscriptLogger(store));
    adapter.onTurnError = async (context) => {
      await context.sendActivity('Sorry, something went wrong.');
    };
    await adapter.send('where is my order 12345?').assertReply('Let me look up order 12345 ...').assertReply('Sorry, something went wrong.');
    expect(await logged(store, adapter)).to.deep.equal([
      'user: where is my order 12345?',
      'bot: Let me look up order 12345 ...',
      'bot: Sorry, something went wrong.',
    ]);
  });

  it('where botbuilder’s own middleware loses that whole turn', async () => {
    const store = new MemoryTranscriptStore();
    const adapter = new TestAdapter(failingBot).use(new TranscriptLoggerMiddleware(store));
    adapter.onTurnError = async (context) => {
      await context.sendActivity('Sorry, something went wrong.');
    };
    await adapter.send('where is my order 12345?').assertReply('Let me look up order 12345 ...').assertReply('Sorry, something went wrong.');
    expect(await logged(store, adapter)).to.deep.equal([]);
  });

  it('writes the turn and then re-throws when there is no onTurnError', async () => {
    const store = new MemoryTranscriptStore();
    const adapter = new TestAdapter(failingBot).use(new TurnSafeTranscriptLogger(store));
    let thrown: Error | undefined;
    await adapter
      .send('where is my order 12345?')
      .startTest()
      .catch((err: Error) => (thrown = err));
    expect(thrown?.message).to.include('the order system is down');
    expect(await logged(store, adapter)).to.deep.equal(['user: where is my order 12345?', 'bot: Let me look up order 12345 ...']);
  });

  it('logs an ordinary turn exactly like botbuilder’s', async () => {
    const store = new MemoryTranscriptStore();
    const adapter = new TestAdapter(async (context) => void (await context.sendActivity(`echo: ${context.activity.text}`))).use(new TurnSafeTranscriptLogger(store));
    await adapter.send('hi').assertReply('echo: hi');
    expect(await logged(store, adapter)).to.deep.equal(['user: hi', 'bot: echo: hi']);
  });
});

describe('TurnSafeTranscriptLogger in a proactive turn', () => {
  it('writes what was sent and gives the error to continueConversation’s caller, not onTurnError', async () => {
    const store = new MemoryTranscriptStore();
    const adapter = new TestAdapter(async () => {});
    let handled = 0;
    adapter.onTurnError = async () => {
      handled++;
    };
    // A proactive turn as the channel adapters run it: the middleware with a ContinueConversation event.
    const reference = adapter.conversation;
    const context = new TurnContext(adapter, TurnContext.applyConversationReference({ type: ActivityTypes.Event, name: ActivityEventNames.ContinueConversation }, reference, true));
    const failure = await new TurnSafeTranscriptLogger(store)
      .onTurn(context, async () => {
        await context.sendActivity('An agent writes: your order left the warehouse.');
        throw new Error('the reply window has closed');
      })
      .then(
        () => undefined,
        (err: Error) => err,
      );
    expect(failure?.message).to.equal('the reply window has closed');
    expect(handled).to.equal(0);
    expect(await logged(store, adapter)).to.deep.equal(['bot: An agent writes: your order left the warehouse.']);
  });
});
