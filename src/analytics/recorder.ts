/**
 * Records analytics facts where they happen: `FaqBot` tells it each turn's decision (`noteDecision`,
 * from the places that answer, suggest or miss) and the recorder measures the time from the message's
 * acceptance to the bot's first reply; the hub tells it its own conversation changes (handoff, claim,
 * transfer, resolve, cancel) — only the instance that made a change hears it as its own, so every
 * change is recorded once. A fact that cannot be stored is logged and dropped: analytics never cost a
 * customer a reply.
 */
import { randomUUID } from 'node:crypto';
import type { TurnContext } from 'botbuilder';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import type { ConversationRecord } from '../handoff/queue-store.js';
import { TURN_ACCEPTED_AT } from '../engine/turn-engine.js';
import type { AnalyticsFact, AnalyticsStore, BotDecision } from './facts.js';

const DECISION = Symbol('switchboard.analytics.decision');

/** Called where the bot decides: the turn's fact says what it did (the last call of a turn wins). */
export function noteDecision(context: TurnContext, decision: BotDecision, entryId?: string): void {
  context.turnState.set(DECISION, { decision, entryId });
}

/** The decision noted during this turn so far (`noteDecision`), e.g. for the metrics at the turn's end. */
export function notedDecision(context: TurnContext): BotDecision | undefined {
  return (context.turnState.get(DECISION) as { decision: BotDecision } | undefined)?.decision;
}

/** A hub conversation change, as `HandoffHub` reports its own. */
export type HubChange = 'seen' | 'queued' | 'summarized' | 'claimed' | 'transferred' | 'resolved' | 'cancelled' | 'noted';

const since = (from: string | undefined, to: string | undefined) => (from && to ? Math.max(0, Date.parse(to) - Date.parse(from)) : undefined);

export class AnalyticsRecorder {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    readonly store: AnalyticsStore,
    options: { clock?: Clock; logger?: Logger } = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * Starts watching a message turn: remembers when the first reply goes out. The returned function,
   * called when the turn ends, records the decision noted during it (nothing if none was).
   */
  botTurn(context: TurnContext): () => void {
    const started = this.clock.now().getTime();
    const accepted = context.turnState.get(TURN_ACCEPTED_AT) as number | undefined;
    let repliedAt: number | undefined;
    context.onSendActivities(async (_ctx, activities, next) => {
      const responses = await next();
      if (repliedAt === undefined && activities.some((a) => a.type === 'message')) repliedAt = this.clock.now().getTime();
      return responses;
    });
    return () => {
      const noted = context.turnState.get(DECISION) as { decision: BotDecision; entryId?: string } | undefined;
      const a = context.activity;
      if (!noted || !a.conversation?.id) return;
      const fact: AnalyticsFact = {
        kind: 'turn',
        id: `turn:${a.channelId}:${a.conversation.id}:${a.id ?? randomUUID()}`,
        at: new Date(started).toISOString(),
        channelId: a.channelId,
        conversationId: a.conversation.id,
        customerId: a.from?.id ?? 'unknown',
        decision: noted.decision,
        ...(noted.entryId ? { entryId: noted.entryId } : {}),
        ...(repliedAt !== undefined ? { replyMs: repliedAt - (accepted ?? started) } : {}),
      };
      this.record(fact);
    };
  }

  /** The hub's own conversation changes (`HandoffHubOptions.observe`). */
  readonly hubChange = (change: HubChange, r: ConversationRecord): void => {
    const base = { channelId: r.channelId, conversationId: r.id, at: this.clock.now().toISOString() };
    const n = r.handoffs;
    switch (change) {
      case 'queued':
        return this.record({ ...base, kind: 'handoff', id: `handoff:${r.id}:${n}`, customerId: r.customer.id, reason: r.reason ?? 'customer-asked' });
      case 'claimed': {
        // A take-over of a live bot conversation is a handoff nobody waited for.
        const takeover = r.reason === 'agent-takeover' && r.queuedAt === r.assignedAt;
        if (takeover) this.record({ ...base, kind: 'handoff', id: `handoff:${r.id}:${n}`, customerId: r.customer.id, reason: 'agent-takeover' });
        return this.record({ ...base, kind: 'claim', id: `claim:${r.id}:${n}`, agent: r.agentName, ...(takeover ? {} : { waitMs: since(r.queuedAt, r.assignedAt) }) });
      }
      case 'transferred':
        return this.record({ ...base, kind: 'transfer', id: `transfer:${r.id}:${n}:${r.version}` });
      case 'resolved':
        return this.record({ ...base, kind: 'resolve', id: `resolve:${r.id}:${n}`, agent: r.agentName, handleMs: since(r.assignedAt, r.resolvedAt) });
      case 'cancelled':
        return this.record({ ...base, kind: 'cancel', id: `cancel:${r.id}:${n}`, waitMs: since(r.queuedAt, base.at) });
      default:
        return;
    }
  };

  /** Resolves once the facts recorded so far are stored (a report reads this instance's latest then). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private record(fact: AnalyticsFact): void {
    if (fact.kind === 'claim' && fact.waitMs === undefined) delete fact.waitMs;
    if (fact.kind === 'resolve' && fact.handleMs === undefined) delete fact.handleMs;
    const p = this.store.record(fact).catch((err) => this.logger.warn('analytics fact not recorded', { kind: fact.kind, error: (err as Error).message }));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}
