/**
 * The analytics store of the files backend: every fact appended as one JSON line to
 * `DATA_DIR/analytics/YYYY-MM-DD.jsonl` (its UTC day; nothing is ever rewritten), and per-day
 * aggregates in memory, rebuilt from the files at start. Appends are not fsynced (a fact is not a
 * customer's message: a power cut may cost the last few counts, never the conversation).
 *
 * Memory bound: for each of the last `MAX_KEPT_DAYS` days, one small entry per conversation of that
 * day (its turns and handoffs, ~100 bytes) and the day's counters (a few hundred numbers), and per
 * customer the days they wrote on (~100 bytes). 100 000 conversations in the window take about
 * 25 MB; older days stay on disk and are not loaded. Containment and the customers of a day are
 * counted as facts arrive, so a report never walks the conversations.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { appendLines, parseJsonLines, readTextOrNull } from '../storage/files.js';
import { silentLogger, type Logger } from '../log.js';
import {
  applyCount,
  conversationChangeOf,
  countsOf,
  dayOf,
  emptyCounts,
  isContained,
  type AnalyticsFact,
  type AnalyticsStore,
  type DayChannelCounts,
} from './facts.js';

/** Days of facts kept in memory (the longest period a report may ask for). */
export const MAX_KEPT_DAYS = 365;
/** Days whose fact ids are remembered to drop repeats: a turn re-runs within minutes of its crash. */
export const DEDUPE_DAYS = 2;
const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.jsonl$/;
const DAY_MS = 86_400_000;

interface ConversationDay {
  turns: number;
  handoffs: number;
}

interface ChannelDay {
  /** `conversations`, `contained` and `customers` included, kept up to date by `apply`. */
  counts: DayChannelCounts;
  conversations: Map<string, ConversationDay>;
}


export class FileAnalyticsStore implements AnalyticsStore {
  private readonly byDay = new Map<string, Map<string, ChannelDay>>();
  /** Per channel, each customer's days with a conversation (ascending as facts arrive in time order). */
  private readonly customerDays = new Map<string, Map<string, string[]>>();
  private readonly seen = new Map<string, Set<string>>();
  /** The latest day a fact was recorded for: the windows are pruned when it moves on. */
  private newestDay = '';
  /** Files appended to by this process (no torn tail to look for) and the write chain that keeps lines in order. */
  private readonly appended = new Set<string>();
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  /** Loads the last `MAX_KEPT_DAYS` days of `DATA_DIR/analytics`. */
  static async open(dataDir: string, options: { logger?: Logger; now?: Date } = {}): Promise<FileAnalyticsStore> {
    const store = new FileAnalyticsStore(path.join(dataDir, 'analytics'), options.logger ?? silentLogger);
    await store.load(options.now ?? new Date());
    return store;
  }

  private async load(now: Date): Promise<void> {
    const oldest = dayOf(new Date(now.getTime() - MAX_KEPT_DAYS * DAY_MS).toISOString());
    const dedupeFrom = dayOf(new Date(now.getTime() - (DEDUPE_DAYS - 1) * DAY_MS).toISOString());
    let names: string[] = [];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const name of names.sort()) {
      const day = DAY_FILE.exec(name)?.[1];
      if (!day || day < oldest) continue;
      const text = await readTextOrNull(path.join(this.dir, name), 'FileAnalyticsStore.open');
      const { items, skipped } = parseJsonLines<AnalyticsFact>(text ?? '');
      if (skipped) this.logger.warn('analytics: skipped unreadable lines (a torn write)', { file: name, skipped });
      const ids = new Set<string>();
      for (const fact of items) {
        if (ids.has(fact.id)) continue;
        ids.add(fact.id);
        this.apply(fact);
      }
      if (day >= dedupeFrom) this.seen.set(day, ids);
    }
  }

  async record(fact: AnalyticsFact): Promise<void> {
    const day = dayOf(fact.at);
    let ids = this.seen.get(day);
    if (ids?.has(fact.id)) return;
    if (!ids) this.seen.set(day, (ids = new Set()));
    if (day > this.newestDay) {
      this.newestDay = day;
      this.forgetOldDays(day);
    }
    ids.add(fact.id);
    const file = path.join(this.dir, `${day}.jsonl`);
    const write = this.writes.then(() => appendLines(file, [JSON.stringify(fact)], { fsync: false, where: 'FileAnalyticsStore.record', checkTail: !this.appended.has(file) }));
    this.writes = write.catch(() => undefined);
    try {
      await write;
      this.appended.add(file);
    } catch (err) {
      ids.delete(fact.id); // not stored: a later attempt may record it
      throw err;
    }
    this.apply(fact);
  }

  async days(fromDay: string, toDay: string, channelId?: string): Promise<DayChannelCounts[]> {
    const out: DayChannelCounts[] = [];
    for (const [day, channels] of this.byDay) {
      if (day < fromDay || day > toDay) continue;
      for (const [ch, d] of channels) if (!channelId || ch === channelId) out.push(structuredClone(d.counts));
    }
    return out.sort((a, b) => a.day.localeCompare(b.day) || a.channelId.localeCompare(b.channelId));
  }

  async customersSince(fromDay: string, channelId?: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [ch, customers] of this.customerDays) {
      if (channelId && ch !== channelId) continue;
      let n = 0;
      for (const days of customers.values()) if (days.some((d) => d >= fromDay)) n++;
      if (n) out[ch] = n;
    }
    return out;
  }

  /** Waits for the appends in progress. */
  async close(): Promise<void> {
    await this.writes;
  }

  private apply(fact: AnalyticsFact): void {
    const day = dayOf(fact.at);
    let channels = this.byDay.get(day);
    if (!channels) this.byDay.set(day, (channels = new Map()));
    let d = channels.get(fact.channelId);
    if (!d) channels.set(fact.channelId, (d = { counts: emptyCounts(day, fact.channelId), conversations: new Map() }));
    for (const c of countsOf(fact)) applyCount(d.counts, c.metric, c.key, 1, c.ms);
    const change = conversationChangeOf(fact);
    if (!change) return;
    let conv = d.conversations.get(fact.conversationId);
    if (!conv) {
      d.conversations.set(fact.conversationId, (conv = { turns: 0, handoffs: 0 }));
      d.counts.conversations++;
      this.sawCustomer(d.counts, change.customerId);
    }
    const was = isContained(conv);
    conv.turns += change.turns;
    conv.handoffs += change.handoffs;
    d.counts.contained += +isContained(conv) - +was;
  }

  /** Counts the customer of a conversation new on its day, once per day and channel. */
  private sawCustomer(counts: DayChannelCounts, customerId: string): void {
    let customers = this.customerDays.get(counts.channelId);
    if (!customers) this.customerDays.set(counts.channelId, (customers = new Map()));
    const days = customers.get(customerId);
    if (!days) customers.set(customerId, [counts.day]);
    else if (!days.includes(counts.day)) days.push(counts.day);
    else return;
    counts.customers++;
  }

  /** Keeps memory to the window: drops days past `MAX_KEPT_DAYS` and fact ids past `DEDUPE_DAYS`. */
  private forgetOldDays(today: string): void {
    const t = Date.parse(today);
    const oldest = dayOf(new Date(t - MAX_KEPT_DAYS * DAY_MS).toISOString());
    for (const day of this.byDay.keys()) if (day < oldest) this.byDay.delete(day);
    for (const customers of this.customerDays.values()) {
      for (const [id, days] of customers) {
        const kept = days.filter((d) => d >= oldest);
        if (kept.length === 0) customers.delete(id);
        else if (kept.length < days.length) customers.set(id, kept);
      }
    }
    const dedupeFrom = dayOf(new Date(t - (DEDUPE_DAYS - 1) * DAY_MS).toISOString());
    for (const day of this.seen.keys()) if (day < dedupeFrom) this.seen.delete(day);
  }
}
