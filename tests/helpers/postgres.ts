/**
 * A fresh PostgreSQL database per test suite, on the server at TEST_DATABASE_URL (CI starts one; see
 * .ci/run). Without it the suite is skipped with a visible notice — unless CI=true or REQUIRE_POSTGRES=1,
 * which make a missing server a failure.
 *
 * @example
 *   describe('PgStorage', function () {
 *     const pg = usePostgres(this);            // before: CREATE DATABASE; after: DROP DATABASE
 *     it('...', async () => { const db = pg.db; ... });
 *   });
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { testSettings } from '../../src/config.js';
import { Database } from '../../src/storage/postgres/database.js';

export class PostgresMissingError extends Error {
  override name = 'PostgresMissingError';
}

/** The server's URL with another database name. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = '/' + name;
  return u.toString();
}

/** Creates an empty database with a unique name; returns its URL and a function that drops it. */
export async function createTestDatabase(serverUrl: string, prefix = 'sb_test'): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(serverUrl, name),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** The test server's URL, or skips `ctx`'s suite (throws in CI / with REQUIRE_POSTGRES=1). */
export function requirePostgres(ctx: Mocha.Context): string {
  const { testDatabaseUrl, requirePostgres: required } = testSettings();
  if (testDatabaseUrl) return testDatabaseUrl;
  const why = 'TEST_DATABASE_URL is not set (a PostgreSQL server the tests may create databases on, e.g. postgres://postgres@127.0.0.1:5432/postgres)';
  if (required) throw new PostgresMissingError(`requirePostgres: ${why}; CI=true / REQUIRE_POSTGRES=1 make this a failure`);
  console.warn(`\n  ⚠ SKIPPING PostgreSQL tests: ${why}. Set REQUIRE_POSTGRES=1 to make this a failure.\n`);
  ctx.skip();
}

/** What `usePostgres` gives a suite: the database's URL and an open, migrated `Database` (set in `before`). */
export interface TestPostgres {
  url: string;
  db: Database;
  /** The server URL (to create more databases). */
  serverUrl: string;
}

/**
 * Hooks for a suite (`describe(..., function () { const pg = usePostgres(); ... })`): a new database
 * migrated to the current schema before the suite, dropped after it.
 */
export function usePostgres(): TestPostgres {
  const state = {} as TestPostgres;
  let drop: (() => Promise<void>) | undefined;
  before(async function () {
    state.serverUrl = requirePostgres(this);
    this.timeout(30_000);
    const created = await createTestDatabase(state.serverUrl);
    drop = created.drop;
    state.url = created.url;
    state.db = await Database.open(created.url);
  });
  after(async () => {
    await state.db?.close();
    await drop?.();
  });
  return state;
}
