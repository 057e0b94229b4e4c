/**
 * `PgTranscriptStore`: botbuilder `TranscriptStore` on PostgreSQL — everything `LowdbTranscriptStore`
 * offers (customer history for the agent console, `whenWritten` for the channels' settle step, replay
 * dedupe), for several instances on one database. Register it with `TurnSafeTranscriptLogger`.
 *
 * - Order: activities read back by timestamp, then by insertion sequence (`seq`), so equal timestamps
 *   keep logging order. Within this process, logs of one conversation are written one batch after
 *   another in call order; what a turn logs at once (TranscriptLoggerMiddleware flushes a turn's
 *   activities without awaiting) goes out as one statement.
 * - Cost: logging is one statement touching only primary keys and per-conversation indexes, so it
 *   costs the same with 100 or 100,000 conversations stored.
 * - Paging as botbuilder's stores: 20 per page, a token only when the page is full; the activity token
 *   is `@<seq>` (keyset, exact even when activity ids repeat), and a plain activity id (botbuilder's
 *   token) is accepted too; the conversation token is the last conversation id.
 *
 * Tables `transcript_conversations`, `transcript_activities`, `transcript_customers` (0002_transcripts.sql).
 */
import { randomUUID } from 'node:crypto';
import { ActivityTypes, type Activity, type PagedResult, type TranscriptInfo, type TranscriptStore } from 'botbuilder';
import { systemClock, type Clock } from '../../clock.js';
import { KeyedQueue } from '../files.js';
import { defaultCustomerOf, DEFAULT_TRANSCRIPT_PAGE_SIZE, transcriptSnapshot } from '../lowdb-transcript-store.js';
import type { Database } from './database.js';

/** Constructor options of `PgTranscriptStore`. */
export interface PgTranscriptStoreOptions {
  /** Page size of `getTranscriptActivities` and `listTranscripts` (default 20, like botbuilder's stores). */
  pageSize?: number;
  /** Fills in `timestamp` for activities logged without one (default the system clock). */
  clock?: Clock;
  /** Who the customer of an activity is, for `listTranscriptsOfUser` (default `defaultCustomerOf`, as the file store). */
  customerOf?: (activity: Partial<Activity>) => string | undefined;
  /** Names this process in the `writer` column (default a random id per store); see `logActivity`. */
  writerId?: string;
}

const WHERE = 'PgTranscriptStore';

/** PostgreSQL text cannot hold NUL; the columns used only for lookups get a stand-in (the activity JSON keeps the original). */
const lookupText = (s: string | undefined | null): string | null => (s == null ? null : s.replace(/\u0000/g, '\uFFFD'));

/** Revives the Date fields JSON turned into strings, so readers get what `MemoryTranscriptStore` gives. */
function revive(a: Activity): Activity {
  if (typeof a.timestamp === 'string') a.timestamp = new Date(a.timestamp);
  if (typeof a.localTimestamp === 'string') a.localTimestamp = new Date(a.localTimestamp);
  return a;
}

/** One activity waiting for its batch. */
interface Pending {
  type: string;
  id: string | null;
  ts: string;
  json: string;
  customer: string | null;
}

/** The activities of one conversation queued while the previous batch was being written. */
interface Batch {
  items: Pending[];
  done: Promise<void>;
}

/**
 * Logs a batch of one conversation. The conversation row is created by the first batch (its
 * `created` is the first activity's timestamp); an activity is skipped when the conversation already
 * has one of the same type and id that is a message, or that another process (writer) logged.
 */
const LOG_SQL = `
WITH input AS (
  SELECT * FROM unnest($3::text[], $4::text[], $5::timestamptz[], $6::json[], $7::text[]) WITH ORDINALITY
    AS t(activity_type, activity_id, ts, activity, customer_id, ord)
), conv AS (
  INSERT INTO transcript_conversations (channel_id, conversation_id, created)
  SELECT $1, $2, ts FROM input ORDER BY ord LIMIT 1
  ON CONFLICT (channel_id, conversation_id) DO NOTHING
), fresh AS (
  SELECT i.* FROM input i
  WHERE i.activity_id IS NULL OR NOT EXISTS (
    SELECT 1 FROM transcript_activities a
    WHERE a.channel_id = $1 AND a.conversation_id = $2 AND a.activity_id = i.activity_id
      AND a.activity_type = i.activity_type AND (i.activity_type = 'message' OR a.writer <> $8))
), cust AS (
  INSERT INTO transcript_customers (channel_id, customer_id, conversation_id, created)
  SELECT DISTINCT ON (customer_id) $1, customer_id, $2, ts FROM fresh WHERE customer_id IS NOT NULL ORDER BY customer_id, ord
  ON CONFLICT DO NOTHING
)
INSERT INTO transcript_activities (channel_id, conversation_id, activity_type, activity_id, ts, writer, activity)
SELECT $1, $2, activity_type, activity_id, ts, $8, activity FROM fresh ORDER BY ord`;

/**
 * botbuilder `TranscriptStore` (and `TranscriptLogger`) on PostgreSQL.
 * @example adapter.use(new TurnSafeTranscriptLogger(new PgTranscriptStore(db, { clock })));
 */
export class PgTranscriptStore implements TranscriptStore {
  private readonly pageSize: number;
  private readonly clock: Clock;
  private readonly customerOf: (a: Partial<Activity>) => string | undefined;
  private readonly writer: string;
  private readonly queue = new KeyedQueue();
  /** Per conversation, the batch not yet started (activities logged meanwhile join it). */
  private readonly batches = new Map<string, Batch>();
  /** The last write error per conversation, until a later write succeeds (see `whenWritten`). */
  private readonly failed = new Map<string, Error>();

  constructor(
    private readonly db: Database,
    options: PgTranscriptStoreOptions = {},
  ) {
    if (!db) throw new Error('PgTranscriptStore: a Database is required (Database.open(config.databaseUrl))');
    this.pageSize = options.pageSize ?? DEFAULT_TRANSCRIPT_PAGE_SIZE;
    this.clock = options.clock ?? systemClock;
    this.customerOf = options.customerOf ?? defaultCustomerOf;
    this.writer = options.writerId ?? randomUUID();
  }

  /**
   * Stores the activity (copied when called: the middleware does not await and may reuse the object).
   * A turn re-run after a crash — by this instance after a restart or by another one — logs the same
   * activities again; those already stored are skipped: a message with an id already in the
   * conversation always (message ids are unique in a conversation on every channel), any other type
   * when another process logged that type and id (this process may legitimately log an id twice: a
   * `messageUpdate` carries the id of the message it changes). This is the file store's rule, which
   * checks against what earlier processes wrote.
   */
  logActivity(activity: Activity): Promise<void> {
    const snapshot = transcriptSnapshot(activity, this.clock, WHERE);
    if (snapshot instanceof Error) return Promise.reject(snapshot);
    const { channelId, conversationId, copy } = snapshot;
    const ts = new Date(copy.timestamp);
    const item: Pending = {
      type: lookupText(copy.type ?? '')!,
      id: copy.id ? lookupText(copy.id) : null,
      ts: (Number.isNaN(ts.getTime()) ? this.clock.now() : ts).toISOString(),
      json: JSON.stringify(copy),
      customer: lookupText(this.customerOf(activity)),
    };
    const key = this.keyOf(channelId, conversationId);
    const waiting = this.batches.get(key);
    if (waiting) {
      waiting.items.push(item);
      return waiting.done;
    }
    const items = [item];
    const done = this.queue.run(key, () => {
      this.batches.delete(key); // from here on, new activities go to the next batch
      return this.writeBatch(channelId, conversationId, items).then(
        () => void this.failed.delete(key),
        (err: Error) => {
          this.failed.set(key, err);
          throw err;
        },
      );
    });
    this.batches.set(key, { items, done });
    return done;
  }

  private async writeBatch(channelId: string, conversationId: string, all: Pending[]): Promise<void> {
    // A message id twice in one batch is a replay too (the statement only sees rows stored before it).
    const seen = new Set<string>();
    const items = all.filter((p) => {
      if (p.type !== ActivityTypes.Message || p.id === null) return true;
      if (seen.has(p.id)) return false;
      seen.add(p.id);
      return true;
    });
    await this.db.query(
      LOG_SQL,
      [channelId, conversationId, items.map((p) => p.type), items.map((p) => p.id), items.map((p) => p.ts), items.map((p) => p.json), items.map((p) => p.customer), this.writer],
      `${WHERE}.logActivity`,
    );
  }

  private keyOf(channelId: string, conversationId: string): string {
    return `${channelId}\u0000${conversationId}`;
  }

  /**
   * Resolves once every activity handed to `logActivity` for this conversation so far is stored
   * (rejects if the last of them failed), so a channel marks a message finished only after its
   * transcript is in the database.
   */
  whenWritten(channelId: string, conversationId: string): Promise<void> {
    const key = this.keyOf(channelId, conversationId);
    return this.queue.run(key, async () => {
      const failure = this.failed.get(key);
      if (failure) throw failure;
    });
  }

  /** Every activity of a conversation in timestamp order (logging order for equal timestamps). */
  async readTranscript(channelId: string, conversationId: string, startDate?: Date): Promise<Activity[]> {
    const { rows } = await this.db.query<{ activity: Activity }>(
      `SELECT activity FROM transcript_activities
       WHERE channel_id = $1 AND conversation_id = $2 AND ($3::timestamptz IS NULL OR ts >= $3)
       ORDER BY ts, seq`,
      [channelId, conversationId, startDate?.toISOString() ?? null],
      `${WHERE}.readTranscript`,
    );
    return rows.map((r) => revive(r.activity));
  }

  async getTranscriptActivities(channelId: string, conversationId: string, continuationToken?: string, startDate?: Date): Promise<PagedResult<Activity>> {
    if (!channelId) throw new Error('Missing channelId');
    if (!conversationId) throw new Error('Missing conversationId');
    // The page starts after the token's row: `@<seq>` names it exactly, a plain id names its first occurrence.
    const bySeq = continuationToken ? /^@(\d+)$/.exec(continuationToken) : null;
    const after = !continuationToken
      ? '$5::text IS NULL'
      : bySeq
        ? '(ts, seq) > (SELECT ts, seq FROM transcript_activities WHERE seq = $5::bigint AND channel_id = $1 AND conversation_id = $2)'
        : `(ts, seq) > (SELECT ts, seq FROM transcript_activities WHERE channel_id = $1 AND conversation_id = $2 AND activity_id = $5
                        ORDER BY ts, seq LIMIT 1)`;
    const { rows } = await this.db.query<{ seq: string; activity: Activity }>(
      `SELECT seq, activity FROM transcript_activities
       WHERE channel_id = $1 AND conversation_id = $2 AND ($3::timestamptz IS NULL OR ts >= $3) AND ${after}
       ORDER BY ts, seq LIMIT $4`,
      [channelId, conversationId, startDate?.toISOString() ?? null, this.pageSize, bySeq ? bySeq[1] : (lookupText(continuationToken) ?? null)],
      `${WHERE}.getTranscriptActivities`,
    );
    // A token that names no row gives an empty page (an unknown token in botbuilder's stores does too).
    const items = rows.map((r) => revive(r.activity));
    const last = rows[rows.length - 1];
    return { items, continuationToken: items.length === this.pageSize && last ? `@${last.seq}` : (undefined as unknown as string) };
  }

  /** Every conversation of a channel, oldest first. */
  async allTranscripts(channelId: string): Promise<TranscriptInfo[]> {
    const { rows } = await this.db.query<{ conversation_id: string; created: Date }>(
      'SELECT conversation_id, created FROM transcript_conversations WHERE channel_id = $1 ORDER BY created, seq',
      [channelId],
      `${WHERE}.allTranscripts`,
    );
    return rows.map((r) => ({ channelId, id: r.conversation_id, created: r.created }));
  }

  async listTranscripts(channelId: string, continuationToken?: string): Promise<PagedResult<TranscriptInfo>> {
    if (!channelId) throw new Error('Missing channelId');
    const after = continuationToken
      ? '(created, seq) > (SELECT created, seq FROM transcript_conversations WHERE channel_id = $1 AND conversation_id = $3)'
      : '$3::text IS NULL';
    const { rows } = await this.db.query<{ conversation_id: string; created: Date }>(
      `SELECT conversation_id, created FROM transcript_conversations WHERE channel_id = $1 AND ${after} ORDER BY created, seq LIMIT $2`,
      [channelId, this.pageSize, continuationToken ?? null],
      `${WHERE}.listTranscripts`,
    );
    const items = rows.map((r) => ({ channelId, id: r.conversation_id, created: r.created }));
    const last = items[items.length - 1];
    return { items, continuationToken: items.length === this.pageSize && last ? last.id : (undefined as unknown as string) };
  }

  /** The conversations of one customer in a channel, oldest first, for the agent console (one index lookup). */
  async listTranscriptsOfUser(channelId: string, customerId: string): Promise<TranscriptInfo[]> {
    const { rows } = await this.db.query<{ conversation_id: string; created: Date }>(
      `SELECT c.conversation_id, c.created FROM transcript_customers u
       JOIN transcript_conversations c ON c.channel_id = u.channel_id AND c.conversation_id = u.conversation_id
       WHERE u.channel_id = $1 AND u.customer_id = $2
       ORDER BY c.created, c.seq`,
      [channelId, lookupText(customerId)],
      `${WHERE}.listTranscriptsOfUser`,
    );
    return rows.map((r) => ({ channelId, id: r.conversation_id, created: r.created }));
  }

  /** Deletes a conversation's activities, its listing and its customer links, in one statement (atomic). */
  async deleteTranscript(channelId: string, conversationId: string): Promise<void> {
    if (!channelId) throw new Error('Missing channelId');
    if (!conversationId) throw new Error('Missing conversationId');
    await this.queue.run(this.keyOf(channelId, conversationId), () =>
      this.db.query(
        `WITH a AS (DELETE FROM transcript_activities WHERE channel_id = $1 AND conversation_id = $2),
              u AS (DELETE FROM transcript_customers WHERE channel_id = $1 AND conversation_id = $2)
         DELETE FROM transcript_conversations WHERE channel_id = $1 AND conversation_id = $2`,
        [channelId, conversationId],
        `${WHERE}.deleteTranscript`,
      ),
    );
  }
}
