/**
 * A channel's durable state on PostgreSQL (`ChannelJournal`: the inbox and the delivery log), so
 * several instances behind a load balancer can share one channel: any of them accepts a webhook,
 * a repeated delivery is recognised whichever instance saw the first, and one conversation's turns run
 * on one instance at a time under a lease row (tables in migrations 0005_inbox.sql, 0006_delivery.sql).
 *
 * Every method is one statement (one round trip, atomic on its own), so nothing is half-written when
 * the connection drops: the caller gets `DatabaseUnavailableError` and the sender retries.
 *
 * @example
 *   const journal = new PgChannelJournal(db, { channelId: 'messenger', instanceId: config.instanceId });
 *   await journal.open();
 */
import type { Activity } from 'botbuilder';
import {
  DEDUPE_RETENTION_MS,
  type AcceptResult,
  type ChannelJournal,
  type InboxItem,
  type MessageStatus,
  type ProfileRecord,
  type SendFailure,
  type TurnSend,
} from '../../engine/inbox.js';
import { isUnavailable, type Database, type Params } from './database.js';

/** Outbound messages kept per conversation (statuses of older ones are no longer tracked). */
export const OUTBOUND_KEPT_PER_CONVERSATION = 50;
/** Final send failures kept per conversation. */
export const FAILURES_KEPT_PER_CONVERSATION = 50;
/** Signed bodies that could not be read, kept per channel. */
export const UNPARSED_KEPT = 200;

/** Options of {@link PgChannelJournal}. */
export interface PgChannelJournalOptions {
  /** The channel whose state this is (`messenger`, `whatsapp`, `webchat`): provider ids are unique within it. */
  channelId: string;
  /** This process's name among the instances (lease owner); unique per running process, e.g. host name + pid + random. */
  instanceId: string;
  /**
   * Clock in ms (tests move it). Used for send times, prune's cutoff and, when given, lease expiry.
   * Without it leases use the database's clock, so instances whose clocks disagree still agree on
   * when a lease ran out; send times use `Date.now` (Messenger's watermarks are wall-clock ms).
   */
  now?: () => number;
}

/** A signed body kept by `recordUnparsed`, as {@link PgChannelJournal.recentUnparsed} shows it. */
export interface UnparsedBody {
  at: number;
  reason: string;
  body: string;
}

/** What {@link PgChannelJournal.prune} removed. */
export interface PruneResult {
  /** Done items older than `DEDUPE_RETENTION_MS` (their provider ids are forgotten). */
  items: number;
  /** Lease rows that had run out. */
  leases: number;
}

/** The database's clock in ms, for lease expiry when no test clock is given. */
const DB_NOW_MS = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;
/** Status order: a later webhook may only move a message forward (statuses arrive out of order). */
const RANK = `ARRAY['sent', 'delivered', 'read', 'failed']::text[]`;
/** Deadlocks between two instances inserting overlapping batches in different orders are retried this often. */
const DEADLOCK_RETRIES = 3;

interface ItemRow {
  id: string;
  conversation: string;
  at: string;
  activity: string;
  opens_window: boolean;
}

/** The PostgreSQL `ChannelJournal` of one channel, as one instance (see the file's comment). */
export class PgChannelJournal implements ChannelJournal {
  private readonly channel: string;
  private readonly instanceId: string;
  private readonly clock?: () => number;

  constructor(
    private readonly db: Database,
    options: PgChannelJournalOptions,
  ) {
    this.channel = options.channelId;
    this.instanceId = options.instanceId;
    this.clock = options.now;
  }

  /** Checks that the schema is there (migrations ran), so a misconfigured server fails at start, not at the first webhook. */
  async open(): Promise<void> {
    await this.q('open', 'SELECT 1 FROM inbox_items LIMIT 0');
  }

  /** Gives back this instance's leases of the channel, so the others need not wait for them to run out. */
  async close(): Promise<void> {
    try {
      await this.q('close', 'DELETE FROM inbox_leases WHERE channel = $1 AND owner = $2', [this.channel, this.instanceId]);
    } catch (err) {
      // Shutting down while the database is away: the leases simply run out.
      if (!isUnavailable(err)) throw err;
    }
  }

  async accept(items: InboxItem[]): Promise<AcceptResult[]> {
    if (items.length === 0) return [];
    // Repeats within the batch are answered from the first occurrence; only first occurrences are sent.
    const first = new Map<string, InboxItem>();
    for (const item of items) if (!first.has(item.id)) first.set(item.id, item);
    const unique = [...first.values()];
    const params: Params = [
      this.channel,
      unique.map((i) => i.id),
      unique.map((i) => i.conversationId),
      unique.map((i) => Math.round(i.at)),
      unique.map((i) => i.activity.id ?? null),
      unique.map((i) => JSON.stringify(i.activity)),
      unique.map((i) => i.opensWindow),
    ];
    // One statement: the new items, the reply windows they open, and what was stored before for the repeats.
    const sql = `
      WITH input AS (
        SELECT * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::boolean[])
          WITH ORDINALITY AS x(id, conversation, at, activity_id, activity, opens_window, ord)
      ), ins AS (
        INSERT INTO inbox_items (channel, id, conversation, at, activity_id, activity, opens_window)
        SELECT $1, id, conversation, at, activity_id, activity, opens_window FROM input ORDER BY ord
        ON CONFLICT (channel, id) DO NOTHING
        RETURNING id, conversation, at, opens_window
      ), win AS (
        INSERT INTO delivery_windows (channel, conversation, at)
        SELECT $1, conversation, max(at) FROM ins WHERE opens_window GROUP BY conversation
        ON CONFLICT (channel, conversation) DO UPDATE SET at = GREATEST(delivery_windows.at, excluded.at)
        RETURNING 1
      )
      SELECT input.id, ins.id IS NOT NULL AS fresh, old.id IS NOT NULL AS seen, old.activity_id
      FROM input
      LEFT JOIN ins ON ins.id = input.id
      LEFT JOIN inbox_items old ON old.channel = $1 AND old.id = input.id
      ORDER BY input.ord`;
    let rows: { id: string; fresh: boolean; seen: boolean; activity_id: string | null }[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        rows = (await this.q('accept', sql, params)).rows;
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== '40P01' || attempt >= DEADLOCK_RETRIES) throw err;
      }
    }
    const stored = new Map<string, { fresh: boolean; activityId?: string }>();
    const racing: string[] = [];
    for (const r of rows) {
      stored.set(r.id, r.fresh ? { fresh: true, activityId: first.get(r.id)!.activity.id } : { fresh: false, activityId: r.activity_id ?? undefined });
      // Stored by another instance after this statement's snapshot was taken: ask again for its activity id.
      if (!r.fresh && !r.seen) racing.push(r.id);
    }
    if (racing.length > 0) {
      const again = await this.q<{ id: string; activity_id: string | null }>(
        'accept',
        'SELECT id, activity_id FROM inbox_items WHERE channel = $1 AND id = ANY($2::text[])',
        [this.channel, racing],
      );
      for (const r of again.rows) stored.set(r.id, { fresh: false, activityId: r.activity_id ?? undefined });
    }
    const answered = new Set<string>();
    return items.map((item) => {
      const s = stored.get(item.id)!;
      const repeat = answered.has(item.id);
      answered.add(item.id);
      return { fresh: s.fresh && !repeat, ...(s.activityId !== undefined ? { activityId: s.activityId } : {}) };
    });
  }

  async lease(conversationId: string, ttlMs: number): Promise<boolean> {
    // One statement: take a free or expired lease, or renew our own. A concurrent taker waits for the
    // row lock and then sees the winner's unexpired row, so it gets nothing.
    const now = this.leaseNow('$5');
    const { rowCount } = await this.q(
      'lease',
      `INSERT INTO inbox_leases (channel, conversation, owner, expires_at) VALUES ($1, $2, $3, ${now} + $4::bigint)
       ON CONFLICT (channel, conversation) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE inbox_leases.owner = excluded.owner OR inbox_leases.expires_at <= ${now}
       RETURNING 1`,
      [this.channel, conversationId, this.instanceId, Math.max(0, Math.round(ttlMs)), this.clock?.() ?? null],
    );
    return rowCount === 1;
  }

  async release(conversationId: string): Promise<void> {
    await this.q('release', 'DELETE FROM inbox_leases WHERE channel = $1 AND conversation = $2 AND owner = $3', [this.channel, conversationId, this.instanceId]);
  }

  async nextPending(conversationId: string): Promise<InboxItem | undefined> {
    const { rows } = await this.q<ItemRow>(
      'nextPending',
      `SELECT id, conversation, at, activity, opens_window FROM inbox_items
       WHERE channel = $1 AND conversation = $2 AND done_at IS NULL ORDER BY seq LIMIT 1`,
      [this.channel, conversationId],
    );
    const r = rows[0];
    return r && { id: r.id, conversationId: r.conversation, at: Number(r.at), activity: JSON.parse(r.activity) as Partial<Activity>, opensWindow: r.opens_window };
  }

  /**
   * Conversations with items not yet done and no live lease (this instance's included: it is already
   * running those), the one waiting longest first. A hint: the caller must still `lease` before a turn.
   */
  async pendingConversations(limit = 100): Promise<string[]> {
    const { rows } = await this.q<{ conversation: string }>(
      'pendingConversations',
      `SELECT i.conversation FROM inbox_items i
       WHERE i.channel = $1 AND i.done_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM inbox_leases l
                         WHERE l.channel = $1 AND l.conversation = i.conversation AND l.expires_at > ${this.leaseNow('$3')})
       GROUP BY i.conversation ORDER BY min(i.seq) LIMIT $2`,
      [this.channel, Math.max(0, Math.floor(limit)), this.clock?.() ?? null],
    );
    return rows.map((r) => r.conversation);
  }

  async done(id: string): Promise<void> {
    await this.q(
      'done',
      `WITH sends AS (DELETE FROM inbox_turn_sends WHERE channel = $1 AND inbound = $2)
       UPDATE inbox_items SET done_at = now() WHERE channel = $1 AND id = $2 AND done_at IS NULL`,
      [this.channel, id],
    );
  }

  /**
   * Records a send of `inbound`'s turn. Recording the same ordinal again with the same content adds the
   * new platform ids to it (a long text sent in parts); with other content it replaces it.
   */
  async recordSend(inbound: string, send: TurnSend): Promise<void> {
    await this.q(
      'recordSend',
      `INSERT INTO inbox_turn_sends AS s (channel, inbound, n, h, ids, at, activity) VALUES ($1, $2, $3, $4, $5::text[], $6, $7)
       ON CONFLICT (channel, inbound, n) DO UPDATE SET
         ids = CASE WHEN s.h = excluded.h
                    THEN s.ids || ARRAY(SELECT x FROM unnest(excluded.ids) WITH ORDINALITY AS t(x, o) WHERE x <> ALL (s.ids) ORDER BY o)
                    ELSE excluded.ids END,
         h = excluded.h, at = excluded.at, activity = COALESCE(excluded.activity, s.activity)`,
      [this.channel, inbound, send.n, send.h, send.ids, Math.round(send.at), send.activity === undefined ? null : JSON.stringify(send.activity)],
    );
  }

  async sentInTurn(inbound: string): Promise<TurnSend[]> {
    const { rows } = await this.q<{ n: number; h: string; ids: string[]; at: string; activity: string | null }>(
      'sentInTurn',
      'SELECT n, h, ids, at, activity FROM inbox_turn_sends WHERE channel = $1 AND inbound = $2 ORDER BY n',
      [this.channel, inbound],
    );
    return rows.map((r) => ({ n: r.n, h: r.h, ids: r.ids, at: Number(r.at), ...(r.activity !== null ? { activity: JSON.parse(r.activity) as Partial<Activity> } : {}) }));
  }

  async lastCustomerMessageAt(conversationId: string): Promise<number | undefined> {
    const { rows } = await this.q<{ at: string }>('lastCustomerMessageAt', 'SELECT at FROM delivery_windows WHERE channel = $1 AND conversation = $2', [this.channel, conversationId]);
    return rows[0] ? Number(rows[0].at) : undefined;
  }

  async recordOutbound(conversationId: string, messageId: string): Promise<void> {
    // The insert and the trim to the most recent 50 in one statement (the trim's snapshot does not see the new row, hence keep - 1).
    await this.q(
      'recordOutbound',
      `WITH ins AS (
         INSERT INTO delivery_outbound (channel, mid, conversation, at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (channel, mid) DO NOTHING RETURNING seq
       )
       DELETE FROM delivery_outbound
       WHERE channel = $1 AND conversation = $3 AND EXISTS (SELECT 1 FROM ins)
         AND seq <= (SELECT seq FROM delivery_outbound WHERE channel = $1 AND conversation = $3 ORDER BY seq DESC OFFSET $5 LIMIT 1)`,
      [this.channel, messageId, conversationId, this.sendNow(), OUTBOUND_KEPT_PER_CONVERSATION - 1],
    );
  }

  async recordStatus(messageId: string, status: MessageStatus): Promise<string | undefined> {
    const { rows } = await this.q<{ conversation: string }>(
      'recordStatus',
      `UPDATE delivery_outbound SET status = $3
       WHERE channel = $1 AND mid = $2 AND array_position(${RANK}, status) < array_position(${RANK}, $3::text)
       RETURNING conversation`,
      [this.channel, messageId, status],
    );
    return rows[0]?.conversation;
  }

  async recordWatermark(conversationId: string, watermark: number, status: 'delivered' | 'read'): Promise<string[]> {
    const { rows } = await this.q<{ mid: string }>(
      'recordWatermark',
      `WITH u AS (
         UPDATE delivery_outbound SET status = $4
         WHERE channel = $1 AND conversation = $2 AND at <= $3 AND array_position(${RANK}, status) < array_position(${RANK}, $4::text)
         RETURNING mid, seq
       )
       SELECT mid FROM u ORDER BY seq`,
      [this.channel, conversationId, Math.floor(watermark), status],
    );
    return rows.map((r) => r.mid);
  }

  async statusOf(messageId: string): Promise<MessageStatus | undefined> {
    const { rows } = await this.q<{ status: MessageStatus }>('statusOf', 'SELECT status FROM delivery_outbound WHERE channel = $1 AND mid = $2', [this.channel, messageId]);
    return rows[0]?.status;
  }

  async outboundOf(conversationId: string): Promise<{ mid: string; at: Date; status: MessageStatus }[]> {
    const { rows } = await this.q<{ mid: string; at: string; status: MessageStatus }>(
      'outboundOf',
      `SELECT mid, at, status FROM (
         SELECT mid, at, status, seq FROM delivery_outbound WHERE channel = $1 AND conversation = $2 ORDER BY seq DESC LIMIT $3
       ) recent ORDER BY seq`,
      [this.channel, conversationId, OUTBOUND_KEPT_PER_CONVERSATION],
    );
    return rows.map((r) => ({ mid: r.mid, at: new Date(Number(r.at)), status: r.status }));
  }

  async recordFailure(failure: SendFailure): Promise<void> {
    await this.q(
      'recordFailure',
      `WITH ins AS (INSERT INTO delivery_failures (channel, conversation, failure) VALUES ($1, $2, $3) RETURNING seq)
       DELETE FROM delivery_failures
       WHERE channel = $1 AND conversation = $2
         AND seq <= (SELECT seq FROM delivery_failures WHERE channel = $1 AND conversation = $2 ORDER BY seq DESC OFFSET $4 LIMIT 1)`,
      [this.channel, failure.conversationId, JSON.stringify(failure), FAILURES_KEPT_PER_CONVERSATION - 1],
    );
  }

  async failuresOf(conversationId: string): Promise<SendFailure[]> {
    const { rows } = await this.q<{ failure: string }>(
      'failuresOf',
      `SELECT failure FROM (
         SELECT failure, seq FROM delivery_failures WHERE channel = $1 AND conversation = $2 ORDER BY seq DESC LIMIT $3
       ) recent ORDER BY seq`,
      [this.channel, conversationId, FAILURES_KEPT_PER_CONVERSATION],
    );
    return rows.map((r) => JSON.parse(r.failure) as SendFailure);
  }

  async recordProfile(conversationId: string, name: string, at?: number): Promise<void> {
    // A fetch older than the one stored (another instance's, finishing late) does not move the time back.
    await this.q(
      'recordProfile',
      `INSERT INTO delivery_profiles (channel, conversation, name, fetched_at) VALUES ($1, $2, $3, COALESCE($4::bigint, ${DB_NOW_MS}))
       ON CONFLICT (channel, conversation) DO UPDATE SET name = excluded.name, fetched_at = excluded.fetched_at
       WHERE delivery_profiles.name <> excluded.name OR delivery_profiles.fetched_at < excluded.fetched_at`,
      [this.channel, conversationId, name, at ?? this.clock?.() ?? null],
    );
  }

  async profile(conversationId: string): Promise<ProfileRecord | undefined> {
    const { rows } = await this.q<{ name: string; fetched_at: string }>(
      'profile',
      'SELECT name, fetched_at FROM delivery_profiles WHERE channel = $1 AND conversation = $2',
      [this.channel, conversationId],
    );
    return rows[0] && { name: rows[0].name, at: Number(rows[0].fetched_at) };
  }

  async profileName(conversationId: string): Promise<string | undefined> {
    const { rows } = await this.q<{ name: string }>('profileName', 'SELECT name FROM delivery_profiles WHERE channel = $1 AND conversation = $2', [this.channel, conversationId]);
    return rows[0]?.name;
  }

  async recordUnparsed(body: string, reason: string): Promise<void> {
    await this.q(
      'recordUnparsed',
      `WITH ins AS (INSERT INTO delivery_unparsed (channel, at, reason, body) VALUES ($1, $2, $3, $4) RETURNING seq)
       DELETE FROM delivery_unparsed
       WHERE channel = $1 AND seq <= (SELECT seq FROM delivery_unparsed WHERE channel = $1 ORDER BY seq DESC OFFSET $5 LIMIT 1)`,
      [this.channel, this.sendNow(), reason.replace(/\0/g, '\uFFFD'), Buffer.from(body, 'utf8'), UNPARSED_KEPT - 1],
    );
  }

  /** The kept bodies the channel could not read, oldest first (for a person, or a tool, to look at). */
  async recentUnparsed(limit = UNPARSED_KEPT): Promise<UnparsedBody[]> {
    const { rows } = await this.q<{ at: string; reason: string; body: Buffer }>(
      'recentUnparsed',
      `SELECT at, reason, body FROM (
         SELECT at, reason, body, seq FROM delivery_unparsed WHERE channel = $1 ORDER BY seq DESC LIMIT $2
       ) recent ORDER BY seq`,
      [this.channel, Math.max(0, Math.floor(limit))],
    );
    return rows.map((r) => ({ at: Number(r.at), reason: r.reason, body: r.body.toString('utf8') }));
  }

  /**
   * Deletes what the channel no longer needs: done items accepted more than `DEDUPE_RETENTION_MS` ago
   * (a later delivery of their id is then new again) and lease rows that ran out. Pending items are
   * never deleted. Safe to run on every instance at any time; meant for a periodic timer.
   */
  async prune(): Promise<PruneResult> {
    const { rows } = await this.q<{ items: string; leases: string }>(
      'prune',
      `WITH items AS (
         DELETE FROM inbox_items WHERE channel = $1 AND done_at IS NOT NULL AND at < $2 RETURNING 1
       ), leases AS (
         DELETE FROM inbox_leases WHERE channel = $1 AND expires_at <= ${this.leaseNow('$3')} RETURNING 1
       )
       SELECT (SELECT count(*) FROM items) AS items, (SELECT count(*) FROM leases) AS leases`,
      [this.channel, this.sendNow() - DEDUPE_RETENTION_MS, this.clock?.() ?? null],
    );
    return { items: Number(rows[0]!.items), leases: Number(rows[0]!.leases) };
  }

  /** SQL for "now" in lease comparisons: the test clock passed as `param`, else the database's clock. */
  private leaseNow(param: string): string {
    return `COALESCE(${param}::bigint, ${DB_NOW_MS})`;
  }

  private sendNow(): number {
    return Math.round(this.clock?.() ?? Date.now());
  }

  private q<R extends Record<string, any> = any>(method: string, sql: string, params: Params = []) {
    return this.db.query<R>(sql, params, `PgChannelJournal.${method} (${this.channel})`);
  }
}
