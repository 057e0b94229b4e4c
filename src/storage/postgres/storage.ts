/**
 * `PgStorage`: botbuilder `Storage` (bot, conversation and user state, insights) on PostgreSQL, for
 * several server instances sharing one database. The eTag rules are exactly `MemoryStorage`'s (and
 * `LowdbStorage`'s): a missing eTag or `'*'` overwrites, a matching eTag writes, a stale eTag rejects
 * with `ETagConflictError` and leaves that item as it was, every write gets a new eTag, and reading a
 * missing key leaves it out of the result.
 *
 * Each call is one statement, so one round trip and atomic: a batch write is one conditional upsert
 * (`INSERT … ON CONFLICT DO UPDATE … WHERE etag matches`), whose row lock makes concurrent writers
 * holding the same eTag race fairly — exactly one wins, on any instance. Every access is by primary
 * key, so a write costs the same however many keys are stored. Keys are stored as their UTF-8 bytes,
 * so any string works (slashes, unicode, NUL, 5,000 characters).
 *
 * Table `bot_state` (migration 0001_bot_state.sql).
 */
import { randomUUID } from 'node:crypto';
import type { Storage, StoreItem, StoreItems } from 'botbuilder';
import { ETagConflictError } from '../errors.js';
import type { Database } from './database.js';

const WHERE = 'PgStorage';

/**
 * The batch upsert. Rows whose expected eTag (`$4`) is set, not `*`, and not the stored one are
 * neither inserted nor updated, so they are missing from RETURNING: that is how a conflict is seen.
 * A key that does not exist yet is created whatever eTag the item carries (as MemoryStorage does).
 */
const WRITE_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::bytea[], $2::json[], $3::text[], $4::text[]) AS t(key, item, etag, expected)
)
INSERT INTO bot_state AS s (key, item, etag)
SELECT key, item, etag FROM input
ON CONFLICT (key) DO UPDATE SET item = EXCLUDED.item, etag = EXCLUDED.etag, updated_at = now()
WHERE (SELECT i.expected FROM input i WHERE i.key = EXCLUDED.key) IS NULL
   OR (SELECT i.expected FROM input i WHERE i.key = EXCLUDED.key) IN ('*', s.etag)
RETURNING key`;

/** The bytes a key is stored under. */
const keyBytes = (key: string) => Buffer.from(key, 'utf8');

/**
 * botbuilder `Storage` on PostgreSQL.
 * @example
 *   const db = await Database.open(config.databaseUrl);
 *   const conversationState = new ConversationState(new PgStorage(db));
 */
export class PgStorage implements Storage {
  constructor(private readonly db: Database) {
    if (!db) throw new Error('PgStorage: a Database is required (Database.open(config.databaseUrl))');
  }

  /** The stored items of `keys`; keys never written (or deleted) are left out. One statement. */
  async read(keys: string[]): Promise<StoreItems> {
    if (!keys) throw new ReferenceError('Keys are required when reading.');
    const items: StoreItems = {};
    if (keys.length === 0) return items;
    const byHex = new Map(keys.map((k) => [keyBytes(k).toString('hex'), k]));
    const { rows } = await this.db.query<{ key: Buffer; item: StoreItem; etag: string }>(
      'SELECT key, item, etag FROM bot_state WHERE key = ANY($1::bytea[])',
      [[...byHex.keys()].map((h) => Buffer.from(h, 'hex'))],
      `${WHERE}.read`,
    );
    for (const row of rows) {
      const key = byHex.get(row.key.toString('hex'));
      if (key !== undefined) items[key] = { ...row.item, eTag: row.etag }; // parsed per query: callers may mutate it
    }
    return items;
  }

  /**
   * Writes every item of `changes` in one statement. When an item's eTag is stale, the others are
   * written and the call rejects with `ETagConflictError` naming the first stale key (MemoryStorage's rule).
   */
  async write(changes: StoreItems): Promise<void> {
    if (!changes) throw new ReferenceError('Changes are required when writing.');
    const keys = Object.keys(changes);
    if (keys.length === 0) return;
    const bytes: Buffer[] = [];
    const items: string[] = [];
    const etags: string[] = [];
    const expected: (string | null)[] = [];
    for (const key of keys) {
      // Serialised now, as MemoryStorage snapshots, so later changes by the caller do not leak into the write.
      const { eTag, ...rest } = (changes[key] ?? {}) as StoreItem;
      bytes.push(keyBytes(key));
      items.push(JSON.stringify(rest));
      etags.push(randomUUID());
      expected.push(typeof eTag === 'string' && eTag !== '' ? eTag : null);
    }
    const { rows } = await this.db.query<{ key: Buffer }>(WRITE_SQL, [bytes, items, etags, expected], `${WHERE}.write`);
    if (rows.length === keys.length) return;
    const written = new Set(rows.map((r) => r.key.toString('hex')));
    const stale = keys.find((_, i) => !written.has(bytes[i]!.toString('hex')));
    throw new ETagConflictError(`${WHERE}.write`, stale ?? keys[0]!);
  }

  /** Deletes `keys` in one statement; keys that do not exist are fine. */
  async delete(keys: string[]): Promise<void> {
    if (!keys) throw new ReferenceError('Keys are required when deleting.');
    if (keys.length === 0) return;
    await this.db.query('DELETE FROM bot_state WHERE key = ANY($1::bytea[])', [keys.map(keyBytes)], `${WHERE}.delete`);
  }
}
