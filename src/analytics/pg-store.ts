/**
 * The analytics store on PostgreSQL (migration 0015): each fact is one statement that inserts it
 * (its id the dedupe key) and, only when it was new, adds to its conversation's row of the day, the
 * customer's days and the day's counters — so several instances on one database count every event
 * once. A report reads the per-day counters (a few thousand rows for 30 days) and counts the period's
 * customers from an index; never the facts or the conversations themselves.
 */
import type { Database } from '../storage/postgres/database.js';
import { applyCount, conversationChangeOf, countsOf, dayOf, emptyCounts, type AnalyticsFact, type AnalyticsStore, type DayChannelCounts } from './facts.js';

// $1 id, $2 at, $3 kind, $4 channel, $5 conversation, $6 fact, $7 day, $8 customer (NULL: the fact
// makes no conversation count), $9 turns, $10 handoffs it adds, $11..$13 the fact's own counters.
// `xmax = 0` tells a row this statement inserted from one it updated; the turns and handoffs before
// this fact are the new ones minus what it added, so the day's `contained` counter moves only when
// this fact changed whether the conversation's day is contained.
const RECORD_SQL = `
WITH fact AS (
  INSERT INTO analytics_facts (id, at, kind, channel_id, conversation_id, fact)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (id) DO NOTHING
  RETURNING id
), conversation AS (
  INSERT INTO analytics_conversation_days AS c (day, channel_id, conversation_id, customer_id, turns, handoffs)
  SELECT $7::date, $4, $5, $8, $9, $10 FROM fact WHERE $8::text IS NOT NULL
  ON CONFLICT (day, channel_id, conversation_id) DO UPDATE SET turns = c.turns + EXCLUDED.turns, handoffs = c.handoffs + EXCLUDED.handoffs
  RETURNING xmax = 0 AS inserted, (turns > 0 AND handoffs = 0) AS contained, (turns - $9 > 0 AND handoffs - $10 = 0) AS was_contained
), customer_day AS (
  INSERT INTO analytics_customer_days (day, channel_id, customer_id)
  SELECT $7::date, $4, $8 FROM conversation WHERE inserted
  ON CONFLICT DO NOTHING
  RETURNING 1
), customer AS (
  INSERT INTO analytics_customers AS k (channel_id, customer_id, last_day)
  SELECT $4, $8, $7::date FROM conversation WHERE inserted
  ON CONFLICT (channel_id, customer_id) DO UPDATE SET last_day = GREATEST(k.last_day, EXCLUDED.last_day)
  RETURNING 1
), changes AS (
  SELECT m.metric, m.key, 1 AS n, m.ms FROM fact, unnest($11::text[], $12::text[], $13::bigint[]) AS m(metric, key, ms)
  UNION ALL SELECT 'conversation', '', 1, 0 FROM conversation WHERE inserted
  UNION ALL SELECT 'contained', '', contained::int - was_contained::int, 0 FROM conversation WHERE contained <> was_contained
  UNION ALL SELECT 'customer', '', 1, 0 FROM customer_day
)
INSERT INTO analytics_day_counts AS d (day, channel_id, metric, key, n, total_ms)
SELECT $7::date, $4, metric, key, n, ms FROM changes
ON CONFLICT (day, channel_id, metric, key) DO UPDATE SET n = d.n + EXCLUDED.n, total_ms = d.total_ms + EXCLUDED.total_ms`;

export class PgAnalyticsStore implements AnalyticsStore {
  constructor(private readonly db: Database) {}

  async record(fact: AnalyticsFact): Promise<void> {
    const conv = conversationChangeOf(fact);
    const counts = countsOf(fact);
    await this.db.query(
      RECORD_SQL,
      [
        fact.id,
        fact.at,
        fact.kind,
        fact.channelId,
        fact.conversationId,
        JSON.stringify(fact),
        dayOf(fact.at),
        conv?.customerId ?? null,
        conv?.turns ?? 0,
        conv?.handoffs ?? 0,
        counts.map((c) => c.metric),
        counts.map((c) => c.key),
        counts.map((c) => Math.round(c.ms)),
      ],
      'PgAnalyticsStore.record',
    );
  }

  async days(fromDay: string, toDay: string, channelId?: string): Promise<DayChannelCounts[]> {
    // One row per day, channel and metric, its keys folded into one JSON object in the database: a
    // month's histograms are some 60 000 counter rows, far slower to send and parse one by one.
    const { rows } = await this.db.query<{ day: string; channel_id: string; metric: string; counts: Record<string, number>; total_ms: string }>(
      `SELECT day::text AS day, channel_id, metric, json_object_agg(key, n) AS counts, sum(total_ms) AS total_ms FROM analytics_day_counts
        WHERE day BETWEEN $1::date AND $2::date${channelId ? ' AND channel_id = $3' : ''} GROUP BY day, channel_id, metric`,
      channelId ? [fromDay, toDay, channelId] : [fromDay, toDay],
      'PgAnalyticsStore.days',
    );
    const byKey = new Map<string, DayChannelCounts>();
    for (const r of rows) {
      const k = `${r.day}\u0000${r.channel_id}`;
      let c = byKey.get(k);
      if (!c) byKey.set(k, (c = emptyCounts(r.day, r.channel_id)));
      let totalMs = Number(r.total_ms); // the metric's sum, added once
      for (const [key, n] of Object.entries(r.counts)) {
        applyCount(c, r.metric, key, Number(n), totalMs);
        totalMs = 0;
      }
    }
    return [...byKey.values()].sort((a, b) => a.day.localeCompare(b.day) || a.channelId.localeCompare(b.channelId));
  }

  async customersSince(fromDay: string, channelId?: string): Promise<Record<string, number>> {
    const { rows } = await this.db.query<{ channel_id: string; n: string }>(
      `SELECT channel_id, count(*) AS n FROM analytics_customers
        WHERE last_day >= $1::date${channelId ? ' AND channel_id = $2' : ''} GROUP BY channel_id`,
      channelId ? [fromDay, channelId] : [fromDay],
      'PgAnalyticsStore.customersSince',
    );
    return Object.fromEntries(rows.map((r) => [r.channel_id, Number(r.n)]));
  }

  /** The database belongs to the backend, which closes it. */
  async close(): Promise<void> {}
}
