/**
 * `MediaStore` on PostgreSQL (table `media`, 0013_media.sql): record and bytes in one row, so any
 * instance serves any file and erasure is one statement.
 */
import { createHash } from 'node:crypto';
import type { Database } from '../storage/postgres/database.js';
import { MEDIA_ID_PATTERN, newMediaRecord, type MediaInput, type MediaRecord, type MediaStore } from './store.js';

interface MediaRow {
  id: string;
  conversation_id: string;
  channel_id: string;
  content_type: string;
  name: string | null;
  size: number;
  sha256: string;
  source: string | null;
  created_at: Date;
}

const RECORD_COLUMNS = 'id, conversation_id, channel_id, content_type, name, size, sha256, source, created_at';

function toRecord(row: MediaRow): MediaRecord {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    channelId: row.channel_id,
    contentType: row.content_type,
    ...(row.name !== null ? { name: row.name } : {}),
    size: row.size,
    sha256: row.sha256,
    createdAt: row.created_at.toISOString(),
    ...(row.source !== null ? { source: row.source } : {}),
  };
}

/** `MediaStore` on PostgreSQL; the `Database` is the caller's (close it there). */
export class PgMediaStore implements MediaStore {
  constructor(private readonly db: Database) {}

  async put(input: MediaInput): Promise<MediaRecord> {
    const r = newMediaRecord(input, createHash('sha256').update(input.bytes).digest('hex'));
    // A second put of the same source (a replayed turn, or two instances at once) keeps the first row.
    const { rows } = await this.db.query<MediaRow>(
      `INSERT INTO media (id, conversation_id, channel_id, content_type, name, size, sha256, source, created_at, bytes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (conversation_id, source) WHERE source IS NOT NULL DO NOTHING
       RETURNING ${RECORD_COLUMNS}`,
      [r.id, r.conversationId, r.channelId, r.contentType, r.name ?? null, r.size, r.sha256, r.source ?? null, r.createdAt, input.bytes],
      'PgMediaStore.put',
    );
    if (rows[0]) return toRecord(rows[0]);
    const existing = await this.db.query<MediaRow>(
      `SELECT ${RECORD_COLUMNS} FROM media WHERE conversation_id = $1 AND source = $2`,
      [r.conversationId, r.source],
      'PgMediaStore.put',
    );
    return toRecord(existing.rows[0]!);
  }

  async get(id: string): Promise<{ record: MediaRecord; bytes: Buffer } | undefined> {
    if (!MEDIA_ID_PATTERN.test(id)) return undefined;
    const { rows } = await this.db.query<MediaRow & { bytes: Buffer }>(`SELECT ${RECORD_COLUMNS}, bytes FROM media WHERE id = $1`, [id], 'PgMediaStore.get');
    const row = rows[0];
    return row ? { record: toRecord(row), bytes: row.bytes } : undefined;
  }

  async list(conversationId: string): Promise<MediaRecord[]> {
    const { rows } = await this.db.query<MediaRow>(`SELECT ${RECORD_COLUMNS} FROM media WHERE conversation_id = $1 ORDER BY seq`, [conversationId], 'PgMediaStore.list');
    return rows.map(toRecord);
  }

  async deleteConversation(conversationId: string): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM media WHERE conversation_id = $1', [conversationId], 'PgMediaStore.deleteConversation');
    return rowCount ?? 0;
  }

  async close(): Promise<void> {
    // The Database belongs to the backend, which closes it.
  }
}
