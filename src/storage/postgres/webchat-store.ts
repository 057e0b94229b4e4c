/**
 * Web chat (Direct Line) conversations on PostgreSQL, so any instance can answer any Direct Line
 * request: the conversation record and its ordered activity log (tables in 0007_webchat.sql).
 *
 * A watermark is a position in the log. `append` takes the next position by bumping the
 * conversation's `next_position` in the same transaction as the insert: the row lock that takes
 * serialises appends to one conversation across instances, so positions are consecutive, and a reader
 * never sees position p + 1 before p is committed (it would skip p for good).
 *
 * @example
 *   const store = new PgConversationStore(db);
 *   const adapter = new WebChatAdapter({ store, ... });
 */
import type { Activity } from 'botbuilder';
import type { ActivityPage, WebChatConversation, WebChatConversationStore } from '../../engine/conversation-store.js';
import type { Database } from './database.js';

/** `WebChatConversationStore` on PostgreSQL; the `Database` is the caller's (close it there). */
export class PgConversationStore implements WebChatConversationStore {
  constructor(private readonly db: Database) {}

  async getConversation(id: string): Promise<WebChatConversation | undefined> {
    const { rows } = await this.db.query<{ record: string | null }>('SELECT record FROM webchat_conversations WHERE id = $1', [id], 'PgConversationStore.getConversation');
    const record = rows[0]?.record;
    return record ? (JSON.parse(record) as WebChatConversation) : undefined;
  }

  async saveConversation(conversation: WebChatConversation): Promise<void> {
    await this.db.query(
      `INSERT INTO webchat_conversations (id, record) VALUES ($1, $2)
       ON CONFLICT (id) DO UPDATE SET record = excluded.record, updated_at = now()`,
      [conversation.id, JSON.stringify(conversation)],
      'PgConversationStore.saveConversation',
    );
  }

  async append(id: string, build: (position: number) => Partial<Activity>): Promise<{ activity: Partial<Activity>; watermark: number }> {
    return this.db.transaction(async (client) => {
      // Creates the log's row on the first append (an activity may come before the record is saved).
      const { rows } = await client.query<{ next_position: string }>(
        `INSERT INTO webchat_conversations (id, next_position) VALUES ($1, 1)
         ON CONFLICT (id) DO UPDATE SET next_position = webchat_conversations.next_position + 1, updated_at = now()
         RETURNING next_position`,
        [id],
      );
      const position = Number(rows[0]!.next_position) - 1;
      const activity = build(position);
      await client.query('INSERT INTO webchat_activities (conversation_id, position, activity) VALUES ($1, $2, $3)', [id, position, JSON.stringify(activity)]);
      return { activity, watermark: position + 1 };
    }, 'PgConversationStore.append');
  }

  async read(id: string, watermark: number, limit: number): Promise<ActivityPage> {
    // One statement, so the log's length and its rows come from the same snapshot. A watermark past
    // the end reads from the end, as the file store does.
    const from = Number.isFinite(watermark) ? Math.max(0, Math.floor(watermark)) : 0;
    const { rows } = await this.db.query<{ start: string; activity: string | null }>(
      `WITH f AS (
         SELECT LEAST($2::bigint, COALESCE((SELECT next_position FROM webchat_conversations WHERE id = $1), 0)) AS start
       )
       SELECT f.start, a.activity
       FROM f LEFT JOIN LATERAL (
         SELECT activity, position FROM webchat_activities WHERE conversation_id = $1 AND position >= f.start ORDER BY position LIMIT $3
       ) a ON true
       ORDER BY a.position`,
      [id, from, Math.max(0, Math.floor(limit))],
      'PgConversationStore.read',
    );
    const start = Number(rows[0]!.start);
    const activities = rows.filter((r) => r.activity !== null).map((r) => JSON.parse(r.activity!) as Partial<Activity>);
    return { activities, watermark: start + activities.length };
  }

  /** Nothing to release: the `Database` (pool) belongs to the caller. */
  async close(): Promise<void> {}
}
