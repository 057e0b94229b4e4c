import { expect } from 'chai';
import { ConversationState, MemoryStorage, TestAdapter, getTopScoringIntent, type TurnContext } from 'botbuilder';
import { DialogSet, Recognizer } from 'botbuilder-dialogs';
import { KnowledgeRecognizer, NONE_INTENT } from '../../src/knowledge/recognizer.js';
import { KnowledgeIndex } from '../../src/knowledge/search.js';
import type { KnowledgeSearcher } from '../../src/knowledge/types.js';
import { entry, helpCentre } from './search-fixtures.js';

describe('KnowledgeRecognizer', () => {
  const index = KnowledgeIndex.build([
    ...helpCentre(),
    entry('channels/whatsapp-voice', 'How do I send a voice note?', ['voice message'], { channels: ['whatsapp'] }),
    entry('channels/german-bill', 'Wie bezahle ich meine Rechnung?', ['Rechnung bezahlen'], { locale: 'de' }),
  ]);

  it('is a botbuilder-dialogs Recognizer', () => {
    expect(new KnowledgeRecognizer(index)).to.be.instanceOf(Recognizer);
  });

  it('answers inside a TestAdapter turn with the entry as top intent and the decision attached', async () => {
    const recognizer = new KnowledgeRecognizer(index);
    const adapter = new TestAdapter(async (context: TurnContext) => {
      const result = await recognizer.recognize(context);
      const { intent, score } = getTopScoringIntent(result);
      await context.sendActivity(`${result.decision.kind} ${intent} ${score >= 0.5}`);
    });
    await adapter.send('how can I pay my bill by card').assertReply('answer billing/pay-by-card true');
    await adapter.send('who won the football match yesterday').assertReply((a) => {
      expect(a.text).to.match(/^(none|suggest) None /);
    });
  });

  it('scores every ranked entry by its confidence and None by what is left', async () => {
    const result = new KnowledgeRecognizer(index).recognizeText('i forgot my password');
    expect(result.matches[0]!.entry.id).to.equal('account/reset-password');
    expect(result.intents['account/reset-password']!.score).to.equal(result.matches[0]!.confidence);
    expect(result.intents[NONE_INTENT]!.score).to.be.closeTo(1 - result.matches[0]!.confidence, 1e-9);
    expect(result.text).to.equal('i forgot my password');
  });

  it('filters by the channel of the activity', async () => {
    const recognizer = new KnowledgeRecognizer(index);
    const seen: string[] = [];
    const logic = async (context: TurnContext) => {
      const result = await recognizer.recognize(context);
      seen.push(`${context.activity.channelId}:${result.matches[0]?.entry.id}`);
    };
    await new TestAdapter(logic, { channelId: 'whatsapp' }).send('how do I send a voice note');
    await new TestAdapter(logic, { channelId: 'webchat' }).send('how do I send a voice note');
    expect(seen[0]).to.equal('whatsapp:channels/whatsapp-voice');
    expect(seen[1]).to.not.equal('webchat:channels/whatsapp-voice');
  });

  it('filters by the locale of the activity', async () => {
    const recognizer = new KnowledgeRecognizer(index);
    const ids: (string | undefined)[] = [];
    const adapter = new TestAdapter(async (context: TurnContext) => {
      ids.push((await recognizer.recognize(context)).matches[0]?.entry.id);
    });
    await adapter.send({ type: 'message', text: 'Rechnung bezahlen', locale: 'de-DE' });
    await adapter.send({ type: 'message', text: 'Rechnung bezahlen', locale: 'en-US' });
    expect(ids[0]).to.equal('channels/german-bill');
    expect(ids[1]).to.not.equal('channels/german-bill');
  });

  it('recognizes through a DialogContext as dialogs call it', async () => {
    const recognizer = new KnowledgeRecognizer(index, { id: 'knowledge' });
    const dialogs = new DialogSet(new ConversationState(new MemoryStorage()).createProperty('dialogState'));
    let top: string | undefined;
    const adapter = new TestAdapter(async (context: TurnContext) => {
      const dc = await dialogs.createContext(context);
      const result = await recognizer.recognize(dc, context.activity);
      top = getTopScoringIntent(result).intent;
    });
    await adapter.send('where is my order');
    expect(top).to.equal('delivery/track');
  });

  it('asks the searcher on every turn, so a reloaded knowledge base is used at once', async () => {
    let current: KnowledgeSearcher = KnowledgeIndex.build([entry('a/first', 'opening hours', [])]);
    const swapping: KnowledgeSearcher = {
      search: (q, o) => current.search(q, o),
      decide: (q, c) => current.decide(q, c),
      get: (id, c) => current.get(id, c),
    };
    const recognizer = new KnowledgeRecognizer(swapping);
    expect(recognizer.recognizeText('opening hours').matches[0]?.entry.id).to.equal('a/first');
    current = KnowledgeIndex.build([entry('b/second', 'opening hours', [])]);
    expect(recognizer.recognizeText('opening hours').matches[0]?.entry.id).to.equal('b/second');
  });

  it('returns no matches and a none decision for an empty message', async () => {
    const result = new KnowledgeRecognizer(index).recognizeText('   ');
    expect(result.matches).to.deep.equal([]);
    expect(result.decision.kind).to.equal('none');
    expect(result.intents[NONE_INTENT]!.score).to.equal(1);
  });
});
