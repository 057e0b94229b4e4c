/**
 * What content editors need to improve the knowledge: which answers customers found helpful or not,
 * and which questions the bot could not answer. Kept in any botbuilder `Storage` (LowdbStorage by
 * default, MemoryStorage in tests, a database later), so it follows the bot's state wherever it lives.
 *
 * Layout (keys under `prefix`, default `insights`):
 * - `insights/feedback/<entryId>`   — `{ entryId, helpful, notHelpful, lastAt }`
 * - `insights/unanswered/<day>`      — the unanswered questions of one UTC day, so no document grows without bound
 * - `insights/index`                 — the days and entry ids that have documents, for the read API
 *
 * Every update is read → change → write with the document's eTag, retried on a conflict, so two
 * server instances (or two turns) counting at once never lose a count. Within one process, updates
 * of the same key are also queued, so conflicts only happen between processes.
 *
 * `knowledgeGaps()` turns the records into the editors' report: `npm run kb -- gaps` prints it and the
 * agent console's knowledge view shows it (`GET /api/agent/knowledge`).
 */
import type { Storage, StoreItem } from 'botbuilder';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { keptText } from './limits.js';

/** One document change of a batch: gets the document so far, returns it changed. */
type Change = (doc: StoreItem | undefined) => StoreItem;

/** How many times an update is retried after an eTag conflict before giving up. */
export const DEFAULT_MAX_RETRIES = 8;

/** Feedback counts for one knowledge entry. */
export interface EntryFeedback {
  entryId: string;
  helpful: number;
  notHelpful: number;
  /** ISO time of the latest feedback. */
  lastAt: string;
}

/** A question the bot could not answer. */
export interface UnansweredQuestion {
  query: string;
  channel: string;
  /** ISO time. */
  at: string;
  locale?: string;
  conversationId?: string;
}

/** What the bot records; `InsightsStore` implements it (tests may pass a fake). */
export interface InsightsRecorder {
  recordFeedback(entryId: string, helpful: boolean): Promise<void>;
  recordUnanswered(question: Omit<UnansweredQuestion, 'at'> & { at?: string }): Promise<void>;
}

/** Thrown when an update keeps conflicting; the message names the key. */
export class InsightsConflictError extends Error {
  constructor(key: string, attempts: number, cause: unknown) {
    super(`InsightsStore: could not update "${key}" after ${attempts} attempts because of eTag conflicts; another writer keeps changing it — retry later`, { cause });
    this.name = 'InsightsConflictError';
  }
}

interface IndexDoc extends StoreItem {
  days: string[];
  entryIds: string[];
}
interface DayDoc extends StoreItem {
  day: string;
  items: UnansweredQuestion[];
}
interface FeedbackDoc extends StoreItem, EntryFeedback {}

export interface InsightsStoreOptions {
  clock?: Clock;
  logger?: Logger;
  /** Key prefix (default `insights`), to share one storage with bot state. */
  prefix?: string;
  maxRetries?: number;
}

/** Feedback and unanswered questions over a botbuilder `Storage`, with a read API for the console and CLI. */
export class InsightsStore implements InsightsRecorder {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly prefix: string;
  private readonly maxRetries: number;
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Per key, the changes waiting for the next write (see `update`). */
  private readonly batches = new Map<string, { changes: Change[]; done: Promise<void> }>();

  constructor(
    private readonly storage: Storage,
    options: InsightsStoreOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.prefix = options.prefix ?? 'insights';
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  }

  /** Counts one "did this help?" answer for an entry. */
  async recordFeedback(entryId: string, helpful: boolean): Promise<void> {
    const at = this.clock.now().toISOString();
    await this.update<FeedbackDoc>(this.feedbackKey(entryId), (doc) => {
      const d = doc ?? { entryId, helpful: 0, notHelpful: 0, lastAt: at };
      if (helpful) d.helpful += 1;
      else d.notHelpful += 1;
      d.lastAt = at;
      return d;
    });
    await this.addToIndex('entryIds', entryId);
  }

  /** Keeps a question the bot could not answer, in the document of its UTC day. */
  async recordUnanswered(question: Omit<UnansweredQuestion, 'at'> & { at?: string }): Promise<void> {
    // Cut short: the day's document is rewritten on every miss, and editors read a question, not a pasted page.
    const item: UnansweredQuestion = { ...question, query: keptText(question.query), at: question.at ?? this.clock.now().toISOString() };
    const day = item.at.slice(0, 10);
    await this.update<DayDoc>(this.dayKey(day), (doc) => {
      const d = doc ?? { day, items: [] };
      d.items.push(item);
      return d;
    });
    await this.addToIndex('days', day);
  }

  /** Unanswered questions, newest first; `since` keeps those at or after it, `limit` caps the list (default 100). */
  async unanswered(options: { since?: Date; limit?: number } = {}): Promise<UnansweredQuestion[]> {
    const limit = options.limit ?? 100;
    const since = options.since?.toISOString();
    const index = await this.readIndex();
    const days = index.days.filter((d) => !since || d >= since.slice(0, 10)).sort().reverse();
    const out: UnansweredQuestion[] = [];
    for (const day of days) {
      if (out.length >= limit) break;
      const key = this.dayKey(day);
      const doc = (await this.storage.read([key]))[key] as DayDoc | undefined;
      const items = (doc?.items ?? []).filter((q) => !since || q.at >= since).sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
      out.push(...items);
    }
    return out.slice(0, limit);
  }

  /**
   * Feedback counts: of one entry (an empty list when it has none), or of every entry, the most
   * often unhelpful first — the ones an editor should look at.
   */
  async feedback(entryId?: string): Promise<EntryFeedback[]> {
    const ids = entryId !== undefined ? [entryId] : (await this.readIndex()).entryIds;
    if (ids.length === 0) return [];
    const keys = ids.map((id) => this.feedbackKey(id));
    const docs = await this.storage.read(keys);
    return keys
      .map((k) => docs[k] as FeedbackDoc | undefined)
      .filter((d): d is FeedbackDoc => !!d)
      .map(({ entryId: id, helpful, notHelpful, lastAt }) => ({ entryId: id, helpful, notHelpful, lastAt }))
      .sort((a, b) => b.notHelpful - a.notHelpful || a.helpful - b.helpful || a.entryId.localeCompare(b.entryId));
  }

  private feedbackKey(entryId: string): string {
    return `${this.prefix}/feedback/${entryId}`;
  }
  private dayKey(day: string): string {
    return `${this.prefix}/unanswered/${day}`;
  }
  private indexKey(): string {
    return `${this.prefix}/index`;
  }

  private async readIndex(): Promise<IndexDoc> {
    const key = this.indexKey();
    const doc = (await this.storage.read([key]))[key] as IndexDoc | undefined;
    return { days: doc?.days ?? [], entryIds: doc?.entryIds ?? [] };
  }

  private async addToIndex(field: 'days' | 'entryIds', value: string): Promise<void> {
    const current = await this.readIndex();
    if (current[field].includes(value)) return; // the common case: no write at all
    await this.update<IndexDoc>(this.indexKey(), (doc) => {
      const d = doc ?? { days: [], entryIds: [] };
      d.days ??= [];
      d.entryIds ??= [];
      if (!d[field].includes(value)) d[field].push(value);
      return d;
    });
  }

  /**
   * Read → change → write with the eTag; retried on conflict; queued per key within this process.
   * Changes that arrive while a key's write is in flight are applied together in its next write (group
   * commit): a popular answer's "yes" counts cost one write per batch, not one each, so customers are
   * not queued behind each other (with one write each, 150 customers on a handful of answers waited
   * up to 7 s for "Glad it helped").
   */
  private update<T extends StoreItem>(key: string, change: (doc: T | undefined) => T): Promise<void> {
    const waiting = this.batches.get(key);
    if (waiting) {
      waiting.changes.push(change as Change);
      return waiting.done;
    }
    const changes: Change[] = [change as Change];
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous
      .catch(() => undefined)
      .then(() => {
        this.batches.delete(key); // from here on, new changes go to the next batch
        return this.updateWithRetry<T>(key, (doc) => changes.reduce<StoreItem | undefined>((d, c) => c(d), doc) as T);
      });
    this.batches.set(key, { changes, done: run });
    this.queues.set(key, run);
    void run.finally(() => {
      if (this.queues.get(key) === run) this.queues.delete(key);
    }).catch(() => undefined);
    return run;
  }

  private async updateWithRetry<T extends StoreItem>(key: string, change: (doc: T | undefined) => T): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.maxRetries; attempt++) {
      const stored = (await this.storage.read([key]))[key] as T | undefined;
      const copy = stored ? (structuredClone(stored) as T) : undefined;
      const next = change(copy);
      // A document read with an eTag is written back with it (a conflict throws); a new one has none.
      const eTag = stored?.eTag;
      const toWrite = { ...next } as StoreItem;
      if (eTag && eTag !== '*') toWrite.eTag = eTag;
      else delete toWrite.eTag;
      try {
        await this.storage.write({ [key]: toWrite });
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
        lastError = err;
        this.logger.debug('insights write conflict, retrying', { key, attempt });
      }
    }
    throw new InsightsConflictError(key, this.maxRetries, lastError);
  }
}

/** botbuilder's storages signal a lost race only by message ("... due to eTag conflict"). */
function isConflict(err: unknown): boolean {
  const text = `${(err as Error)?.name ?? ''} ${(err as Error)?.message ?? err}`.toLowerCase();
  return text.includes('etag') || text.includes('conflict') || (err as { code?: unknown })?.code === 412;
}

/** The gaps report's defaults: the last 30 days, the 20 most asked questions and most unhelpful answers. */
export const DEFAULT_GAPS_DAYS = 30;
export const DEFAULT_GAPS_LIMIT = 20;
/** The longest look-back a gaps report accepts (ten years); far beyond it the start is no longer a date. */
export const MAX_GAPS_DAYS = 3650;
/** Unanswered questions read for one report, at most (the newest). */
const MAX_GAPS_QUESTIONS = 10_000;

/** One wording customers used that the knowledge did not answer: how often, on which channels, when last. */
export interface UnansweredGroup {
  query: string;
  count: number;
  channels: string[];
  /** ISO time of the latest time it was asked. */
  lastAt: string;
}

/** What the knowledge did not cover lately. */
export interface KnowledgeGaps {
  days: number;
  /** ISO time the period starts. */
  since: string;
  /** Unanswered questions in the period, before grouping. */
  asked: number;
  /** The most asked first (then the most recently asked). */
  unanswered: UnansweredGroup[];
  /** Entries customers said did not help (counts since the first feedback, not just the period), the most often unhelpful first. */
  unhelpful: EntryFeedback[];
}

/** The read side of `InsightsStore`, all a gaps report needs. */
export type InsightsReader = Pick<InsightsStore, 'unanswered' | 'feedback'>;

/** Unanswered questions grouped by their wording (case and spacing folded), most asked first. */
export function groupUnanswered(questions: UnansweredQuestion[]): UnansweredGroup[] {
  const groups = new Map<string, { query: string; count: number; channels: Set<string>; lastAt: string }>();
  for (const q of questions) {
    const key = q.query.toLowerCase().replace(/\s+/g, ' ').trim();
    const g = groups.get(key) ?? { query: q.query.trim(), count: 0, channels: new Set<string>(), lastAt: q.at };
    g.count++;
    g.channels.add(q.channel);
    if (q.at > g.lastAt) g.lastAt = q.at;
    groups.set(key, g);
  }
  return [...groups.values()]
    .map((g) => ({ ...g, channels: [...g.channels].sort() }))
    .sort((a, b) => b.count - a.count || b.lastAt.localeCompare(a.lastAt));
}

/**
 * The editors' report of what customers asked that the knowledge did not answer in the last `days`
 * days, and which answers they said did not help; `npm run kb -- gaps` and the agent console show it.
 * `days` must be a whole number from 1 to `MAX_GAPS_DAYS` (callers validate their input).
 *
 * @example
 *   const gaps = await knowledgeGaps(new InsightsStore(storage), { days: 7 });
 *   gaps.unanswered[0]; // { query: 'Do you sell gift cards?', count: 12, channels: ['webchat', 'whatsapp'], lastAt: '...' }
 */
export async function knowledgeGaps(
  insights: InsightsReader,
  options: { days?: number; limit?: number; clock?: Clock } = {},
): Promise<KnowledgeGaps> {
  const days = options.days ?? DEFAULT_GAPS_DAYS;
  const limit = options.limit ?? DEFAULT_GAPS_LIMIT;
  const since = new Date((options.clock ?? systemClock).now().getTime() - days * 86_400_000);
  const questions = await insights.unanswered({ since, limit: MAX_GAPS_QUESTIONS });
  const unhelpful = (await insights.feedback()).filter((f) => f.notHelpful > 0).slice(0, limit);
  return { days, since: since.toISOString(), asked: questions.length, unanswered: groupUnanswered(questions).slice(0, limit), unhelpful };
}
