/**
 * The handoff queue on PostgreSQL, for several instances on one database (table
 * `handoff_conversations`, migration 0003). `save` is the queue's one compare-and-set, done by the
 * database: `INSERT ... ON CONFLICT DO NOTHING` for a new record, `UPDATE ... WHERE id = $1 AND
 * version = $2` otherwise. Under READ COMMITTED a second concurrent UPDATE of the same row waits for
 * the first and then re-checks its WHERE against the new row, so of many claims from any number of
 * instances exactly one matches and the others get `VersionConflictError`.
 *
 * @example
 *   const hub = new HandoffHub({ store: new PgQueueStore(db), ... });
 */
import type { Database } from '../storage/postgres/database.js';
import { VersionConflictError, type ConversationRecord, type OpenCount, type QueueQuery, type QueueStore } from './queue-store.js';

/** `QueueStore` over a `Database`; stateless, so every instance may hold one. */
export class PgQueueStore implements QueueStore {
  constructor(private readonly db: Database) {}

  async get(id: string): Promise<ConversationRecord | undefined> {
    const { rows } = await this.db.query<{ record: ConversationRecord }>('SELECT record FROM handoff_conversations WHERE id = $1', [id], 'PgQueueStore.get');
    return rows[0]?.record;
  }

  async list(query: QueueQuery = {}): Promise<ConversationRecord[]> {
    // The same filter as `matchesQuery`, each condition on an indexed column.
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (query.owner) add('owner = ?', query.owner);
    if (query.resolved === true) where.push(`owner = 'bot' AND resolved_at IS NOT NULL`);
    if (query.resolved === false) where.push(`NOT (owner = 'bot' AND resolved_at IS NOT NULL)`);
    if (query.channelId) add('channel_id = ?', query.channelId);
    if (query.customerId) add('customer_id = ?', query.customerId);
    const sql = `SELECT record FROM handoff_conversations${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`;
    const { rows } = await this.db.query<{ record: ConversationRecord }>(sql, params, 'PgQueueStore.list');
    return rows.map((r) => r.record);
  }

  async countOpen(): Promise<OpenCount[]> {
    // Through the owner index: only open conversations' rows are read, however many the bot has had.
    const { rows } = await this.db.query<{ channel_id: string; owner: OpenCount['owner']; count: string }>(
      `SELECT channel_id, owner, count(*) AS count FROM handoff_conversations WHERE owner IN ('queued', 'assigned') GROUP BY channel_id, owner`,
      [],
      'PgQueueStore.countOpen',
    );
    return rows.map((r) => ({ channelId: r.channel_id, owner: r.owner, count: Number(r.count) }));
  }

  async save(record: ConversationRecord): Promise<ConversationRecord> {
    const saved: ConversationRecord = { ...record, version: record.version + 1 };
    const columns = [saved.channelId, saved.customer.id, saved.owner, saved.resolvedAt ?? null, saved.version, JSON.stringify(saved)];
    const { rowCount } =
      record.version === 0
        ? await this.db.query(
            `INSERT INTO handoff_conversations (id, channel_id, customer_id, owner, resolved_at, version, record)
             VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (id) DO NOTHING`,
            [record.id, ...columns],
            'PgQueueStore.save',
          )
        : await this.db.query(
            `UPDATE handoff_conversations
                SET channel_id = $2, customer_id = $3, owner = $4, resolved_at = $5, version = $6, record = $7::jsonb, updated_at = now()
              WHERE id = $1 AND version = $8`,
            [record.id, ...columns, record.version],
            'PgQueueStore.save',
          );
    if (rowCount === 1) return JSON.parse(columns[5] as string) as ConversationRecord;
    const { rows } = await this.db.query<{ version: number }>('SELECT version FROM handoff_conversations WHERE id = $1', [record.id], 'PgQueueStore.save');
    throw new VersionConflictError(record.id, record.version, rows[0]?.version ?? 0);
  }
}
