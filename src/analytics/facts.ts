/**
 * The analytics facts: one small record per thing that happened (a bot turn's decision, a handoff, a
 * claim, a transfer, a resolution, a cancelled wait), written as it happens, so the figures never come
 * from scanning transcripts. Both stores (files and PostgreSQL) keep the same per-day aggregates, built
 * by the functions here, and answer with the same `DayChannelCounts`; `report.ts` turns those into
 * the figures the API, the CLI and the console show.
 *
 * Counting rules (README "Analytics"):
 * - A conversation counts once on each UTC day the bot took a turn in it or it was handed off. A
 *   Messenger or WhatsApp thread never ends, so a customer writing on three days is three conversations.
 * - Contained: on that day the bot replied at least once and nothing was handed to a person.
 * - Durations are kept as histograms of `bucketOf` values (two significant figures), so percentiles
 *   over any period come from summed counts, the same way on both backends.
 */
import type { HandoffReason } from '../handoff/types.js';

/** The channels the analytics break down by (the query and the CLI accept only these). */
export const ANALYTICS_CHANNELS = ['webchat', 'messenger', 'whatsapp'] as const;
export type AnalyticsChannel = (typeof ANALYTICS_CHANNELS)[number];

/** What the bot did with a customer's question. */
export type BotDecision = 'answer' | 'suggest' | 'miss';

interface FactBase {
  /** Unique per event: a turn replayed after a crash, or the same event seen twice, is counted once. */
  id: string;
  /** ISO time of the event; its UTC day is the day it counts on. */
  at: string;
  channelId: string;
  conversationId: string;
}

/** One fact; `kind` says which. */
export type AnalyticsFact =
  | (FactBase & { kind: 'turn'; customerId: string; decision: BotDecision; entryId?: string; replyMs?: number })
  | (FactBase & { kind: 'handoff'; customerId: string; reason: HandoffReason })
  | (FactBase & { kind: 'claim'; agent?: string; waitMs?: number })
  | (FactBase & { kind: 'transfer' })
  | (FactBase & { kind: 'resolve'; agent?: string; handleMs?: number })
  | (FactBase & { kind: 'cancel'; waitMs?: number });

/** A histogram: bucket value (ms, see `bucketOf`) → count. */
export type Histogram = Record<string, number>;

/** What one channel did on one UTC day, as both stores return it. */
export interface DayChannelCounts {
  day: string;
  channelId: string;
  conversations: number;
  contained: number;
  /** Distinct customers that day. */
  customers: number;
  answers: number;
  suggestions: number;
  misses: number;
  handoffs: Partial<Record<HandoffReason, number>>;
  transfers: number;
  cancelled: number;
  reply: Histogram;
  wait: Histogram;
  waitTotalMs: number;
  handle: Histogram;
  handleTotalMs: number;
  /** Resolutions (with or without a known handle time). */
  resolved: number;
  /** Answers per knowledge entry id. */
  entries: Record<string, number>;
}

/** Everything a store must answer for a period. */
export interface AnalyticsStore {
  /** Records one fact; a fact whose id is already stored changes nothing. */
  record(fact: AnalyticsFact): Promise<void>;
  /** Per day and channel, for UTC days `fromDay`..`toDay` (YYYY-MM-DD, inclusive); days without facts are left out. */
  days(fromDay: string, toDay: string, channelId?: string): Promise<DayChannelCounts[]>;
  /**
   * Distinct customers per channel with a conversation on `fromDay` or later (a report's period always
   * ends today): not the sum of the days, a customer who wrote on several counts once.
   */
  customersSince(fromDay: string, channelId?: string): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/**
 * The bucket a duration is counted in: the value rounded down to two significant figures (1 234 ms →
 * 1 200, 56 → 56), at most 10 % below the true value, and about 90 buckets per power of ten.
 */
export function bucketOf(ms: number): number {
  const v = Math.max(0, Math.round(ms));
  if (v < 100) return v;
  const scale = 10 ** (Math.floor(Math.log10(v)) - 1);
  return Math.floor(v / scale) * scale;
}

/** The UTC day of an ISO time. */
export const dayOf = (iso: string): string => iso.slice(0, 10);

/** A counter a fact adds to: `metric` with `key` (a bucket, a reason, an entry id), and a duration to sum. */
export interface CountChange {
  metric: 'decision' | 'reply' | 'entry' | 'handoff' | 'wait' | 'transfer' | 'resolve' | 'handle' | 'cancel';
  key: string;
  ms: number;
}

/** The counters one fact adds one to. */
export function countsOf(fact: AnalyticsFact): CountChange[] {
  const out: CountChange[] = [];
  const add = (metric: CountChange['metric'], key: string, ms = 0) => out.push({ metric, key, ms });
  switch (fact.kind) {
    case 'turn':
      add('decision', fact.decision);
      if (fact.replyMs !== undefined) add('reply', String(bucketOf(fact.replyMs)), fact.replyMs);
      if (fact.decision === 'answer' && fact.entryId) add('entry', fact.entryId);
      break;
    case 'handoff':
      add('handoff', fact.reason);
      break;
    case 'claim':
      if (fact.waitMs !== undefined) add('wait', String(bucketOf(fact.waitMs)), fact.waitMs);
      break;
    case 'transfer':
      add('transfer', '');
      break;
    case 'resolve':
      add('resolve', '');
      if (fact.handleMs !== undefined) add('handle', String(bucketOf(fact.handleMs)), fact.handleMs);
      break;
    case 'cancel':
      add('cancel', '');
      break;
  }
  return out;
}

/** What a fact adds to its conversation's row of the day; undefined for facts that do not make a conversation count. */
export interface ConversationChange {
  customerId: string;
  turns: number;
  handoffs: number;
}

export function conversationChangeOf(fact: AnalyticsFact): ConversationChange | undefined {
  if (fact.kind === 'turn') return { customerId: fact.customerId, turns: 1, handoffs: 0 };
  if (fact.kind === 'handoff') return { customerId: fact.customerId, turns: 0, handoffs: 1 };
  return undefined;
}

/** Whether a conversation's day so far counts as contained: the bot replied and no person was asked for. */
export const isContained = (c: { turns: number; handoffs: number }): boolean => c.turns > 0 && c.handoffs === 0;

/** An empty day of one channel. */
export function emptyCounts(day: string, channelId: string): DayChannelCounts {
  return {
    day,
    channelId,
    conversations: 0,
    contained: 0,
    customers: 0,
    answers: 0,
    suggestions: 0,
    misses: 0,
    handoffs: {},
    transfers: 0,
    cancelled: 0,
    reply: {},
    wait: {},
    waitTotalMs: 0,
    handle: {},
    handleTotalMs: 0,
    resolved: 0,
    entries: {},
  };
}

/** Counters that are one number of the day, by metric. */
const PLAIN = { conversation: 'conversations', contained: 'contained', customer: 'customers', transfer: 'transfers', resolve: 'resolved', cancel: 'cancelled' } as const;
/** Counters kept per key (a bucket, an entry id, a reason), by metric; waits and handle times also sum their milliseconds. */
const KEYED = { reply: 'reply', wait: 'wait', handle: 'handle', entry: 'entries', handoff: 'handoffs' } as const;
const TOTALS = { wait: 'waitTotalMs', handle: 'handleTotalMs' } as const;
const DECISIONS = { answer: 'answers', suggest: 'suggestions', miss: 'misses' } as const;

/** Adds `n` of one counter (a `CountChange` or a stored counter row) to a day's counts. */
export function applyCount(c: DayChannelCounts, metric: string, key: string, n: number, totalMs: number): void {
  if (Object.hasOwn(PLAIN, metric)) c[PLAIN[metric as keyof typeof PLAIN]] += n;
  else if (metric === 'decision' && Object.hasOwn(DECISIONS, key)) c[DECISIONS[key as BotDecision]] += n;
  else if (Object.hasOwn(KEYED, metric)) {
    const into = c[KEYED[metric as keyof typeof KEYED]] as Record<string, number>;
    into[key] = (into[key] ?? 0) + n;
    if (Object.hasOwn(TOTALS, metric)) c[TOTALS[metric as keyof typeof TOTALS]] += totalMs;
  }
}
