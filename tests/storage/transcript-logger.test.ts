import { expect } from 'chai';
import { ActivityTypes, MemoryTranscriptStore, TestAdapter, TranscriptLoggerMiddleware, type Activity, type TurnContext } from 'botbuilder';
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
