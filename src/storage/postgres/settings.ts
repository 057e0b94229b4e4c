/**
 * Generated values every instance shares (the `settings` table): the first instance to start stores
 * its candidate, every other one reads that back, so all of them sign and verify with the same secret.
 */
import type { Database } from './database.js';

/**
 * The stored value of `name`, storing `candidate()` first when there is none yet. Safe when several
 * instances start at once: exactly one candidate wins and every caller gets that one.
 * @example const secret = await sharedSetting(db, 'directline.secret', () => randomBytes(32).toString('base64url'));
 */
export async function sharedSetting(db: Database, name: string, candidate: () => string): Promise<string> {
  const { rows } = await db.query<{ value: string }>(
    `WITH ins AS (INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value)
     SELECT value FROM ins UNION ALL SELECT value FROM settings WHERE name = $1 LIMIT 1`,
    [name, candidate()],
    'sharedSetting',
  );
  return rows[0]!.value;
}
