/**
 * The analytics report of a period: totals, per channel and per day — conversations and customers,
 * the bot's answers, suggestions and misses, containment, handoffs by reason, the bot's reply time,
 * queue wait and handle time, CSAT — with the most used entries and the largest gaps. The agent API
 * (`GET /api/agent/analytics`), `npm run report` and the console's Analytics view all show this object.
 */
import { systemClock, type Clock } from '../clock.js';
import { groupUnanswered, type InsightsReader, type UnansweredGroup } from '../bot/insights.js';
import type { HandoffReason } from '../handoff/types.js';
import type { CsatReader, CsatRecord } from '../bot/csat-store.js';
import { ANALYTICS_CHANNELS, dayOf, type AnalyticsStore, type DayChannelCounts, type Histogram } from './facts.js';

/** The longest period a report covers (the API, the CLI and the files store's memory window agree). */
export const MAX_REPORT_DAYS = 365;
/** Most used entries and largest gaps listed. */
export const REPORT_TOP = 10;
/** Unanswered questions read for the gaps of one report, at most (the newest). */
const MAX_GAP_QUESTIONS = 10_000;
const DAY_MS = 86_400_000;

export type { CsatRecord, CsatReader } from '../bot/csat-store.js';

/** A duration's figures over a period; the percentiles are nearest-rank over two-significant-figure buckets. */
export interface DurationFigures {
  count: number;
  p50Ms: number | null;
  p90Ms: number | null;
  /** Exact mean (waits and handle times; not kept for reply times). */
  meanMs?: number | null;
}

export interface CsatFigures {
  /** Customers asked for a rating. */
  asked: number;
  /** Ratings given. */
  count: number;
  average: number | null;
  /** Ratings 1..5 → how many. */
  distribution: Record<'1' | '2' | '3' | '4' | '5', number>;
}

/** The figures of one channel (or all) over a period or a day. */
export interface Figures {
  conversations: number;
  customers: number;
  /** Conversations the bot finished without a person. */
  contained: number;
  /** contained / conversations (0..1), null without conversations. */
  containment: number | null;
  answers: number;
  suggestions: number;
  misses: number;
  handoffs: { total: number; byReason: Partial<Record<HandoffReason, number>> };
  transfers: number;
  /** Customers who withdrew while waiting. */
  cancelled: number;
  resolved: number;
  replyMs: DurationFigures;
  waitMs: DurationFigures;
  handleMs: DurationFigures;
  csat: CsatFigures;
}

export interface AnalyticsReport {
  days: number;
  channel: string | null;
  /** ISO start (midnight UTC of the first day) and end (now) of the period. */
  from: string;
  to: string;
  totals: Figures;
  channels: Record<string, Figures>;
  daily: { day: string; totals: Figures; channels: Record<string, Figures> }[];
  topEntries: { entryId: string; question?: string; count: number }[];
  gaps: UnansweredGroup[];
  csatByAgent: { agent: string; count: number; average: number | null }[];
}

export interface ReportSources {
  store: AnalyticsStore;
  csat?: CsatReader;
  insights?: Pick<InsightsReader, 'unanswered'>;
  /** An entry's question, for the most used entries. */
  question?: (entryId: string) => string | undefined;
  clock?: Clock;
}

/** Builds the report of the last `days` UTC days (today included), of one channel or all. */
export async function buildReport(sources: ReportSources, options: { days: number; channel?: string }): Promise<AnalyticsReport> {
  const { days, channel } = options;
  const now = (sources.clock ?? systemClock).now();
  const toDay = dayOf(now.toISOString());
  const from = new Date(Date.parse(toDay) - (days - 1) * DAY_MS);
  const fromDay = dayOf(from.toISOString());
  const [rows, customers, csat, unanswered] = await Promise.all([
    sources.store.days(fromDay, toDay, channel),
    sources.store.customersSince(fromDay, channel),
    // `between` excludes its end: one millisecond past now keeps a resolution of this very moment.
    sources.csat ? sources.csat.between(from, new Date(now.getTime() + 1)) : Promise.resolve([]),
    sources.insights ? sources.insights.unanswered({ since: from, limit: MAX_GAP_QUESTIONS }) : Promise.resolve([]),
  ]);
  const channels = channel ? [channel] : [...ANALYTICS_CHANNELS];
  const ratings = csat.filter((r) => !channel || r.channelId === channel);
  const csatDay = (r: CsatRecord) => dayOf(r.resolvedAt); // the CSAT store selects a period by resolution time

  // A day of one channel is one row already: only sums of several rows are merged (the daily ones without their entries).
  const figures = (list: DayChannelCounts[], csatList: CsatRecord[], customerCount: number) =>
    toFigures(list.length === 1 ? list[0]! : merge(list, false), csatList, customerCount);
  const perChannel = Object.fromEntries(
    channels.map((ch) => [ch, figures(rows.filter((r) => r.channelId === ch), ratings.filter((r) => r.channelId === ch), customers[ch] ?? 0)]),
  );
  const daily = [];
  for (let t = Date.parse(fromDay); t <= Date.parse(toDay); t += DAY_MS) {
    const day = dayOf(new Date(t).toISOString());
    const ofDay = rows.filter((r) => r.day === day);
    const csatOfDay = ratings.filter((r) => csatDay(r) === day);
    daily.push({
      day,
      totals: figures(ofDay, csatOfDay, sum(ofDay.map((r) => r.customers))),
      channels: Object.fromEntries(channels.map((ch) => { const r = ofDay.filter((x) => x.channelId === ch); return [ch, figures(r, csatOfDay.filter((x) => x.channelId === ch), sum(r.map((x) => x.customers)))]; })),
    });
  }
  const merged = merge(rows);
  const topEntries = entriesOf(merged.entries)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, REPORT_TOP)
    .map(([entryId, count]) => ({ entryId, question: sources.question?.(entryId), count }));
  const gaps = groupUnanswered(unanswered.filter((q) => !channel || q.channel === channel)).slice(0, REPORT_TOP);
  return {
    days,
    channel: channel ?? null,
    from: from.toISOString(),
    to: now.toISOString(),
    totals: toFigures(merged, ratings, sum(Object.values(customers))),
    channels: perChannel,
    daily,
    topEntries,
    gaps,
    csatByAgent: csatByAgent(ratings),
  };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** A histogram as stored (an object) or as summed here (a Map: bucket keys look like array indices, which make objects slow to add to). */
type Hist = Histogram | Map<string, number>;
type Counts = Omit<DayChannelCounts, 'reply' | 'wait' | 'handle' | 'entries'> & { reply: Hist; wait: Hist; handle: Hist; entries: Hist };

const entriesOf = (h: Hist): [string, number][] => (h instanceof Map ? [...h] : Object.entries(h));

function addHistogram(into: Map<string, number>, h: Hist): void {
  for (const [k, n] of entriesOf(h)) into.set(k, (into.get(k) ?? 0) + n);
}

/** Sums several days' counts (the `day` and `channelId` of the result mean nothing); `entries` only when asked. */
function merge(list: DayChannelCounts[], withEntries = true): Counts {
  const reply = new Map<string, number>();
  const wait = new Map<string, number>();
  const handle = new Map<string, number>();
  const entries = new Map<string, number>();
  const m: Counts = { day: '', channelId: '', conversations: 0, contained: 0, customers: 0, answers: 0, suggestions: 0, misses: 0, handoffs: {}, transfers: 0, cancelled: 0, reply, wait, waitTotalMs: 0, handle, handleTotalMs: 0, resolved: 0, entries };
  for (const c of list) {
    for (const k of ['conversations', 'contained', 'customers', 'answers', 'suggestions', 'misses', 'transfers', 'cancelled', 'waitTotalMs', 'handleTotalMs', 'resolved'] as const) m[k] += c[k];
    for (const [reason, n] of Object.entries(c.handoffs)) m.handoffs[reason as HandoffReason] = (m.handoffs[reason as HandoffReason] ?? 0) + n;
    addHistogram(reply, c.reply);
    addHistogram(wait, c.wait);
    addHistogram(handle, c.handle);
    if (withEntries) addHistogram(entries, c.entries);
  }
  return m;
}

/** Nearest-rank percentiles (each `p` in 0..1) of a histogram: the smallest bucket with at least p of the count at or below it. */
function percentiles(h: Hist, ps: number[]): { count: number; values: (number | null)[] } {
  const buckets = entriesOf(h).map(([k, n]) => [Number(k), n] as const).sort((a, b) => a[0] - b[0]);
  const count = sum(buckets.map((b) => b[1]));
  const values = ps.map((p) => {
    if (count === 0) return null;
    const rank = Math.max(1, Math.ceil(p * count));
    let seen = 0;
    for (const [value, n] of buckets) if ((seen += n) >= rank) return value;
    return buckets.at(-1)![0];
  });
  return { count, values };
}

/** Nearest-rank percentile (`p` in 0..1) of a histogram. */
export function percentile(h: Hist, p: number): number | null {
  return percentiles(h, [p]).values[0]!;
}

function duration(h: Hist, totalMs?: number): DurationFigures {
  const { count, values } = percentiles(h, [0.5, 0.9]);
  const out: DurationFigures = { count, p50Ms: values[0]!, p90Ms: values[1]! };
  if (totalMs !== undefined) out.meanMs = count ? Math.round(totalMs / count) : null;
  return out;
}

/** CSAT figures of some answers. */
export function csatFigures(records: CsatRecord[]): CsatFigures {
  const rated = records.filter((r) => r.rating !== undefined);
  const distribution = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
  for (const r of rated) distribution[String(r.rating) as keyof typeof distribution]++;
  const average = rated.length ? Math.round((sum(rated.map((r) => r.rating!)) / rated.length) * 100) / 100 : null;
  return { asked: records.filter((r) => r.askedAt).length, count: rated.length, average, distribution };
}

function csatByAgent(records: CsatRecord[]): AnalyticsReport['csatByAgent'] {
  const byAgent = new Map<string, CsatRecord[]>();
  for (const r of records) if (r.agent) byAgent.set(r.agent, [...(byAgent.get(r.agent) ?? []), r]);
  return [...byAgent]
    .map(([agent, list]) => { const f = csatFigures(list); return { agent, count: f.count, average: f.average }; })
    .sort((a, b) => b.count - a.count || a.agent.localeCompare(b.agent));
}

function toFigures(c: Counts, csat: CsatRecord[], customers: number): Figures {
  return {
    conversations: c.conversations,
    customers,
    contained: c.contained,
    containment: c.conversations ? Math.round((c.contained / c.conversations) * 10_000) / 10_000 : null,
    answers: c.answers,
    suggestions: c.suggestions,
    misses: c.misses,
    handoffs: { total: sum(Object.values(c.handoffs)), byReason: c.handoffs },
    transfers: c.transfers,
    cancelled: c.cancelled,
    resolved: c.resolved,
    replyMs: duration(c.reply),
    waitMs: duration(c.wait, c.waitTotalMs),
    handleMs: duration(c.handle, c.handleTotalMs),
    csat: csatFigures(csat),
  };
}
