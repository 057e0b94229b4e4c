/**
 * The CSAT store on PostgreSQL (table `csat`, migration 0014): the same "first one wins" rules as the
 * file store, each as one statement whose `WHERE … IS NULL` makes it idempotent across instances.
 *
 * @example
 *   const csat = new PgCsatStore(db);
 */
import { isCsatRating, storedComment, type CsatRating, type CsatRecord, type CsatResolution, type CsatStore } from '../../bot/csat-store.js';
import type { Database } from './database.js';

interface Row {
  conversation_id: string;
  channel_id: string;
  agent: string | null;
  rating: number | null;
  comment: string | null;
  resolved_at: Date;
  asked_at: Date | null;
  answered_at: Date | null;
}

const COLUMNS = 'conversation_id, channel_id, agent, rating, comment, resolved_at, asked_at, answered_at';

function toRecord(r: Row): CsatRecord {
  return {
    conversationId: r.conversation_id,
    channelId: r.channel_id,
    ...(r.agent !== null ? { agent: r.agent } : {}),
    ...(r.rating !== null ? { rating: r.rating as CsatRating } : {}),
    ...(r.comment !== null ? { comment: r.comment } : {}),
    resolvedAt: r.resolved_at.toISOString(),
    ...(r.asked_at ? { askedAt: r.asked_at.toISOString() } : {}),
    ...(r.answered_at ? { answeredAt: r.answered_at.toISOString() } : {}),
  };
}

/** `CsatStore` on PostgreSQL; the `Database` is the caller's (close it there). */
export class PgCsatStore implements CsatStore {
  constructor(private readonly db: Database) {}

  async recordResolved(r: CsatResolution): Promise<void> {
    await this.db.query(
      `INSERT INTO csat (conversation_id, resolved_at, channel_id, agent) VALUES ($1, $2, $3, $4)
       ON CONFLICT (conversation_id, resolved_at) DO NOTHING`,
      [r.conversationId, r.resolvedAt, r.channelId, r.agent ?? null],
      'PgCsatStore.recordResolved',
    );
  }

  async recordAsked(r: CsatResolution, askedAt: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `INSERT INTO csat (conversation_id, resolved_at, channel_id, agent, asked_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (conversation_id, resolved_at) DO UPDATE SET asked_at = excluded.asked_at WHERE csat.asked_at IS NULL`,
      [r.conversationId, r.resolvedAt, r.channelId, r.agent ?? null, askedAt],
      'PgCsatStore.recordAsked',
    );
    return rowCount === 1;
  }

  async recordRating(conversationId: string, resolvedAt: string, rating: CsatRating, answeredAt: string): Promise<boolean> {
    if (!isCsatRating(rating)) throw new RangeError(`PgCsatStore.recordRating: ${rating} is not a rating from 1 to 5`);
    const { rowCount } = await this.db.query(
      'UPDATE csat SET rating = $3, answered_at = $4 WHERE conversation_id = $1 AND resolved_at = $2 AND rating IS NULL',
      [conversationId, resolvedAt, rating, answeredAt],
      'PgCsatStore.recordRating',
    );
    return rowCount === 1;
  }

  async recordComment(conversationId: string, resolvedAt: string, comment: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'UPDATE csat SET comment = $3 WHERE conversation_id = $1 AND resolved_at = $2 AND rating IS NOT NULL AND comment IS NULL',
      [conversationId, resolvedAt, storedComment(comment)],
      'PgCsatStore.recordComment',
    );
    return rowCount === 1;
  }

  async latest(conversationId: string): Promise<CsatRecord | undefined> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM csat WHERE conversation_id = $1 ORDER BY resolved_at DESC LIMIT 1`, [conversationId], 'PgCsatStore.latest');
    return rows[0] && toRecord(rows[0]);
  }

  async between(from: Date, to: Date): Promise<CsatRecord[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM csat WHERE resolved_at >= $1 AND resolved_at < $2 ORDER BY resolved_at, conversation_id`,
      [from.toISOString(), to.toISOString()],
      'PgCsatStore.between',
    );
    return rows.map(toRecord);
  }

  /** Nothing to release: the `Database` (pool) belongs to the caller. */
  async close(): Promise<void> {}
}
