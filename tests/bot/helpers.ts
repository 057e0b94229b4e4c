/**
 * Test helpers for the bot: hand-built knowledge entries, a fake `KnowledgeSearcher` whose decisions
 * the test dictates (for exact control of answer vs suggest vs none), and a conversation driver over
 * botbuilder's `TestAdapter` that returns the bot's replies to each customer message.
 */
import { ActivityTypes, ConversationState, MemoryStorage, TestAdapter, UserState, type Activity, type Middleware } from 'botbuilder';
import sinon from 'sinon';
import { fixedClock } from '../../src/clock.js';
import { FaqBot } from '../../src/bot/faq-bot.js';
import { InsightsStore } from '../../src/bot/insights.js';
import { HANDOFF_REQUESTER, type HandoffRequester } from '../../src/handoff/types.js';
import type { Decision, KnowledgeEntry, KnowledgeSearcher, SearchContext, SearchMatch } from '../../src/knowledge/types.js';
import { isAvailable } from '../../src/knowledge/search.js';
import { entry as knowledgeEntry } from '../knowledge/search-fixtures.js';

export function entry(id: string, question: string, answer: string, extra: Partial<KnowledgeEntry> = {}): KnowledgeEntry {
  return knowledgeEntry(id, question, [], { answer, ...extra });
}

/** A KnowledgeSearcher whose decide() returns what the test set for a query (else 'none'). */
export class FakeKnowledge implements KnowledgeSearcher {
  private readonly byId = new Map<string, KnowledgeEntry>();
  private readonly decisions = new Map<string, Decision>();
  constructor(entries: KnowledgeEntry[]) {
    for (const e of entries) this.byId.set(e.id, e);
  }
  answers(query: string, id: string): this {
    const match: SearchMatch = { entry: this.byId.get(id)!, confidence: 0.9 };
    this.decisions.set(query.toLowerCase(), { kind: 'answer', match, matches: [match] });
    return this;
  }
  suggests(query: string, ids: string[]): this {
    this.decisions.set(query.toLowerCase(), { kind: 'suggest', matches: ids.map((id) => ({ entry: this.byId.get(id)!, confidence: 0.4 })) });
    return this;
  }
  search(): SearchMatch[] {
    return [];
  }
  decide(query: string): Decision {
    return this.decisions.get(query.trim().toLowerCase()) ?? { kind: 'none', matches: [] };
  }
  get(id: string, context: SearchContext = {}): KnowledgeEntry | undefined {
    const e = this.byId.get(id);
    return e && isAvailable(e, context, context.now ?? new Date('2026-12-01T10:00:00Z')) ? e : undefined;
  }
}

export interface Harness {
  adapter: TestAdapter;
  insights: InsightsStore;
  storage: MemoryStorage;
  clock: ReturnType<typeof fixedClock>;
  requester: sinon.SinonStubbedInstance<HandoffRequester> & { requestHandoff: sinon.SinonStub; ownerOf: sinon.SinonStub };
  /** Sends a customer message (text or partial activity) and returns the bot's replies to it. */
  say(message: string | Partial<Activity>): Promise<Partial<Activity>[]>;
  /** Texts only. */
  texts(message: string | Partial<Activity>): Promise<string[]>;
}

/**
 * A FaqBot on a TestAdapter for `channelId`; `withHandoff` registers a sinon-stubbed HandoffRequester
 * in turnState the way HandoffMiddleware does. Each harness is a fresh conversation; pass `storage`
 * to continue with the same state (a new conversation of the same customer via `conversationId`).
 */
export function harness(
  knowledge: KnowledgeSearcher,
  options: { channelId?: string; withHandoff?: boolean; storage?: MemoryStorage; conversationId?: string; locale?: string } = {},
): Harness {
  const storage = options.storage ?? new MemoryStorage();
  const clock = fixedClock('2026-12-01T10:00:00Z');
  const insights = new InsightsStore(storage, { clock });
  const bot = new FaqBot({
    knowledge,
    conversationState: new ConversationState(storage),
    userState: new UserState(storage),
    insights,
    clock,
  });
  const reference = TestAdapter.createConversation(options.conversationId ?? 'conv-1', 'customer-1', 'bot');
  reference.channelId = options.channelId ?? 'webchat';
  const adapter = new TestAdapter(async (context) => bot.run(context), { channelId: reference.channelId, locale: options.locale ?? 'en-US' });
  adapter.conversation = reference;
  const requester = {
    requestHandoff: sinon.stub().resolves(),
    ownerOf: sinon.stub().resolves('bot'),
  };
  if (options.withHandoff !== false) {
    const registerRequester: Middleware = {
      onTurn: async (context, next) => {
        context.turnState.set(HANDOFF_REQUESTER, requester);
        await next();
      },
    };
    adapter.use(registerRequester);
  }
  const say = async (message: string | Partial<Activity>) => {
    const activity: Partial<Activity> = typeof message === 'string' ? { type: ActivityTypes.Message, text: message } : message;
    await adapter.processActivity(activity);
    return adapter.activeQueue.splice(0);
  };
  return {
    adapter,
    insights,
    storage,
    clock,
    requester: requester as unknown as Harness['requester'],
    say,
    texts: async (message) => (await say(message)).map((a) => a.text ?? ''),
  };
}

/** The titles of an activity's suggested actions. */
export function actionTitles(activity: Partial<Activity> | undefined): string[] {
  return (activity?.suggestedActions?.actions ?? []).map((a) => String(a.title));
}

/** A conversationUpdate announcing that `id` joined (web chat sends one when a conversation starts). */
export function joined(id: string): Partial<Activity> {
  return { type: ActivityTypes.ConversationUpdate, membersAdded: [{ id, name: id }] };
}
