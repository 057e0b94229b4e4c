/** Shared set-up for the handoff tests: a TestAdapter that can continue conversations, a hub over a temp folder. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  MemoryTranscriptStore,
  TestAdapter,
  TranscriptLoggerMiddleware,
  TurnContext,
  type Activity,
  type ConversationReference,
} from 'botbuilder';
import { fixedClock } from '../../src/clock.js';
import { BusinessHours } from '../../src/handoff/business-hours.js';
import { FileQueueStore } from '../../src/handoff/file-queue-store.js';
import { HandoffHub, type ChannelAdapter } from '../../src/handoff/hub.js';
import { HandoffMiddleware } from '../../src/handoff/middleware.js';
import type { KnowledgeSearcher } from '../../src/knowledge/types.js';

/** botbuilder's TestAdapter does not implement proactive sends; ours run them through the middleware like real adapters. */
export class ProactiveTestAdapter extends TestAdapter {
  override async continueConversationAsync(_botAppId: any, reference: Partial<ConversationReference>, logic: any): Promise<void> {
    const activity = TurnContext.applyConversationReference({ type: 'event', name: 'ContinueConversation' }, reference, true);
    const context = new TurnContext(this, activity as Activity);
    await this.runMiddleware(context, logic);
  }
}

/** A Monday at 10:00 UTC, inside "Mon-Fri 09:00-18:00". */
export const MONDAY_10 = '2026-11-23T10:00:00Z';

export const fakeKnowledge: KnowledgeSearcher = {
  search: (q) =>
    q.includes('refund')
      ? [{ confidence: 0.9, entry: { id: 'billing/refund', question: 'How do I get a refund?', answer: 'Refunds take 5 days.', alternates: [], tags: ['billing'], locale: 'en', handoff: true, followUps: [], source: { path: 'x.md', line: 1 } } }]
      : [],
  decide: () => ({ kind: 'none', matches: [] }),
  get: (id) =>
    id === 'billing/refund'
      ? { id, question: 'How do I get a refund?', answer: 'Refunds take 5 days.', alternates: [], tags: ['billing'], locale: 'en', handoff: true, followUps: [], source: { path: 'x.md', line: 1 } }
      : undefined,
};

export interface Fixture {
  dir: string;
  hub: HandoffHub;
  store: FileQueueStore;
  transcripts: MemoryTranscriptStore;
  clock: ReturnType<typeof fixedClock>;
  /** Adapter for one customer conversation, with TranscriptLogger → HandoffMiddleware → logic. */
  adapter(logic: (c: TurnContext) => Promise<void>, conversationId?: string, userId?: string): ProactiveTestAdapter;
  close(): Promise<void>;
}

export async function createFixture(options: { hours?: string; timeZone?: string; channelId?: string } = {}): Promise<Fixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'handoff-'));
  const store = await FileQueueStore.open(dir);
  const transcripts = new MemoryTranscriptStore();
  const clock = fixedClock(MONDAY_10);
  const adapters: Record<string, ChannelAdapter> = {};
  const channelId = options.channelId ?? 'test';
  const hub = new HandoffHub({
    store,
    transcripts,
    adapters,
    knowledge: fakeKnowledge,
    clock,
    businessHours: new BusinessHours(options.hours ?? 'Mon-Fri 09:00-18:00', options.timeZone ?? 'UTC'),
  });
  const middleware = new HandoffMiddleware(hub);
  return {
    dir,
    hub,
    store,
    transcripts,
    clock,
    adapter(logic, conversationId = 'conv-1', userId = 'customer-1') {
      const a = new ProactiveTestAdapter(logic, { channelId, conversation: { id: conversationId } as any, from: { id: userId, name: 'Ada Customer' } });
      a.use(new TranscriptLoggerMiddleware(transcripts));
      a.use(middleware);
      adapters[channelId] = a; // one customer conversation per test adapter; the latest one serves proactive sends
      return a;
    },
    // The summary of a handoff is made in a worker thread after the turn: let it land before the folder goes.
    close: async () => {
      await hub.settled();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Lets botbuilder's transcript logger (which does not await its writes) and the hub's background work finish. */
export async function settle(hub?: HandoffHub): Promise<void> {
  await new Promise((r) => setTimeout(r, 5));
  await hub?.settled();
}
