/**
 * A channel on the turn engine for the limit tests: items come from `post`, replies land in `sent`;
 * and an in-memory `Inbox` (no fsync), so tests can push ten thousand conversations through quickly.
 */
import type { Activity, TurnContext } from 'botbuilder';
import type { Server } from 'restify';
import { TurnEngineAdapter, type AcceptOptions, type TurnEngineOptions } from '../../src/engine/turn-engine.js';
import type { BotLogic } from '../../src/engine/channel.js';
import type { AcceptResult, Inbox, InboxItem, TurnSend } from '../../src/engine/inbox.js';

export class LimitTestChannel extends TurnEngineAdapter {
  readonly channelId = 'test';
  readonly sent: { conversationId: string; text?: string }[] = [];
  constructor(inbox: Inbox, options: TurnEngineOptions = {}) {
    super(inbox, options);
  }
  mount(_server: Server, logic: BotLogic): void {
    this.logic = logic;
  }
  post(items: InboxItem[], options?: AcceptOptions) {
    return this.accept(items, options);
  }
  protected async deliver(context: TurnContext, activity: Partial<Activity>): Promise<string[]> {
    this.sent.push({ conversationId: activity.conversation?.id ?? context.activity.conversation!.id, text: activity.text });
    return [`out-${this.sent.length}`];
  }
  async updateActivity(): Promise<void> {}
  async deleteActivity(): Promise<void> {}
}

/** The `Inbox` contract in memory, one process: `stored` lists every item ever accepted. */
export class MemoryInbox implements Inbox {
  readonly stored: InboxItem[] = [];
  private readonly seen = new Map<string, string>();
  private readonly pending = new Map<string, InboxItem[]>();
  private readonly sends = new Map<string, TurnSend[]>();
  async open(): Promise<void> {}
  async close(): Promise<void> {}
  async accept(items: InboxItem[]): Promise<AcceptResult[]> {
    return items.map((item) => {
      if (this.seen.has(item.id)) return { fresh: false, activityId: item.id };
      this.seen.set(item.id, item.conversationId);
      this.stored.push(item);
      this.pending.set(item.conversationId, [...(this.pending.get(item.conversationId) ?? []), item]);
      return { fresh: true };
    });
  }
  async lease(): Promise<boolean> {
    return true;
  }
  async release(): Promise<void> {}
  async nextPending(conversationId: string): Promise<InboxItem | undefined> {
    return this.pending.get(conversationId)?.[0];
  }
  async pendingConversations(limit = 200): Promise<string[]> {
    return [...this.pending.keys()].slice(0, limit);
  }
  async done(id: string): Promise<void> {
    const conv = this.seen.get(id) ?? '';
    const rest = (this.pending.get(conv) ?? []).filter((i) => i.id !== id);
    if (rest.length) this.pending.set(conv, rest);
    else this.pending.delete(conv);
    this.sends.delete(id);
  }
  async recordSend(inbound: string, send: TurnSend): Promise<void> {
    this.sends.set(inbound, [...(this.sends.get(inbound) ?? []), send]);
  }
  async sentInTurn(inbound: string): Promise<TurnSend[]> {
    return this.sends.get(inbound) ?? [];
  }
}

let at = 1000;
/** One customer message `id` in `conversationId`. */
export const item = (id: string, conversationId: string, text = id): InboxItem => ({
  id,
  conversationId,
  at: at++,
  activity: { type: 'message', id, text, channelId: 'test', conversation: { id: conversationId } as never, from: { id: 'u', role: 'user' } as never, recipient: { id: 'bot' } as never },
  opensWindow: true,
});

/** A promise and the function that resolves it. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

export async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
