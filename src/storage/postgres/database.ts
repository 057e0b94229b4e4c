/**
 * The PostgreSQL backend's connection: one `pg` pool per process, versioned migrations applied at
 * start (under an advisory lock, so several instances starting at once apply each migration once),
 * transactions, and the `/healthz` check. Every PostgreSQL store takes a `Database`.
 *
 * @example
 *   const db = await Database.open(config.databaseUrl, { logger });
 *   const storage = new PgStorage(db);
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import pg from 'pg';
import type { HealthCheck } from '../../server.js';
import { silentLogger, type Logger } from '../../log.js';
import { StoreUnavailableError } from '../../engine/errors.js';

/** The database cannot be reached or refused the connection: temporary, answer 503 and let the sender retry. */
export class DatabaseUnavailableError extends StoreUnavailableError {
  override readonly name = 'DatabaseUnavailableError';
  readonly code: string;
  constructor(
    /** Which operation failed, e.g. `PgStorage.write`. */
    readonly where: string,
    cause: unknown,
  ) {
    const c = cause as { code?: string; message?: string } | undefined;
    super(`${where}: the database is unavailable (${c?.code ?? ''}${c?.code ? ': ' : ''}${c?.message ?? String(cause)}); check DATABASE_URL and that PostgreSQL is running`, { cause });
    this.code = c?.code ?? 'UNAVAILABLE';
  }
}

/** A migration file could not be applied; the server does not start on a half-migrated schema. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/** SQLSTATE classes and Node errno codes that mean "the server is not there right now", not "the query is wrong". */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-3])/; // connection exception, insufficient resources, admin/crash shutdown
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/** True when `err` says the database is unreachable (retry later), as opposed to a bug or a constraint. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  const e = err as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (typeof e.code === 'string' && (UNAVAILABLE_ERRNO.has(e.code) || UNAVAILABLE_SQLSTATE.test(e.code))) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(e.message ?? '');
}

/** Wraps connection failures as `DatabaseUnavailableError`; other errors pass through unchanged. */
export function toDatabaseError(err: unknown, where: string): unknown {
  return isUnavailable(err) && !(err instanceof DatabaseUnavailableError) ? new DatabaseUnavailableError(where, err) : err;
}

export interface DatabaseOptions {
  logger?: Logger;
  /** Pool size (default 10). */
  max?: number;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** Shown in `pg_stat_activity` (default `switchboard`). */
  applicationName?: string;
  /** How long to wait for a connection before failing (default 5 s). */
  connectionTimeoutMillis?: number;
}

/** A statement and its parameters, for `Database.query`. */
export type Params = readonly unknown[];

/** Where the numbered `.sql` files live: `0001_name.sql`, applied in order, each once. */
export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Key of the advisory lock held while migrating (any constant shared by all instances). */
const MIGRATION_LOCK = 727_274_001;

/** A pool plus the few things every store needs. */
export class Database {
  private closed = false;

  private constructor(
    readonly pool: pg.Pool,
    readonly url: string,
    private readonly logger: Logger,
  ) {}

  /** Connects, applies migrations (unless `migrate: false`) and returns the database. */
  static async open(url: string, options: DatabaseOptions = {}): Promise<Database> {
    const logger = options.logger ?? silentLogger;
    const pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 10,
      application_name: options.applicationName ?? 'switchboard',
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client that loses its connection (server restart) emits here; without a listener it would crash the process.
    pool.on('error', (err) => logger.warn('idle database connection lost', { error: err.message }));
    // The pool listens only while a client is idle: one checked out (a transaction between statements)
    // that loses its connection — PostgreSQL stopping ends every session — emits 'error' with no
    // listener and would crash the process. Its statements fail anyway and the pool drops it on release.
    pool.on('connect', (client) => client.on('error', (err) => logger.warn('database connection lost while in use', { error: err.message })));
    const db = new Database(pool, url, logger);
    if (options.migrate ?? true) {
      try {
        await db.migrate();
      } catch (err) {
        await pool.end().catch(() => undefined);
        throw err;
      }
    }
    return db;
  }

  /** Runs one statement; connection failures become `DatabaseUnavailableError`. */
  async query<R extends pg.QueryResultRow = any>(text: string, params: Params = [], where = 'Database.query'): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, params as unknown[]);
    } catch (err) {
      throw toDatabaseError(err, where);
    }
  }

  /** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK on a throw) on one connection. */
  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>, where = 'Database.transaction'): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw toDatabaseError(err, where);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      broken = isUnavailable(err);
      if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
      throw toDatabaseError(err, where);
    } finally {
      client.release(broken ? true : undefined);
    }
  }

  /** Applies every migration file not yet recorded in `schema_migrations`, each in its own transaction. */
  async migrate(dir = MIGRATIONS_DIR): Promise<string[]> {
    const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw toDatabaseError(err, 'Database.migrate');
    }
    const applied: string[] = [];
    try {
      // Several instances may start at once: the first takes the lock and migrates, the others wait and find nothing to do.
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      for (const file of files) {
        const version = Number(file.slice(0, 4));
        if (done.has(version)) continue;
        const sql = await readFile(path.join(dir, file), 'utf8');
        try {
          await client.query('BEGIN');
          await client.query(sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [version, file]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new MigrationError(`Database.migrate: ${file} failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(file);
        this.logger.info('database migration applied', { migration: file });
      }
    } catch (err) {
      throw err instanceof MigrationError ? err : toDatabaseError(err, 'Database.migrate');
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      client.release();
    }
    return applied;
  }

  /** `/healthz` check named `database`: a round trip with its time, or the error. */
  healthCheck(): HealthCheck {
    return {
      name: 'database',
      check: async () => {
        const started = performance.now();
        try {
          await this.query('SELECT 1', [], 'healthz');
          return { ok: true, backend: 'postgresql', roundTripMs: Math.round((performance.now() - started) * 10) / 10 };
        } catch (err) {
          return { ok: false, backend: 'postgresql', error: (err as Error).message };
        }
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
