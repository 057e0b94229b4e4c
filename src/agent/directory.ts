/**
 * Agent accounts and sessions on the backend the configuration picks: PostgreSQL when a `Database`
 * is given (`DATABASE_URL` set), else files in DATA_DIR (`agents.json`, `agent-sessions.json`).
 * The server and `npm run agents` open it the same way, so both see the same accounts.
 *
 * @example
 *   const { accounts, sessions } = await openAgentDirectory({ dataDir: config.dataDir, db, clock });
 *   mountAgentApi(server, { hub, accounts, sessions, ... });
 */
import type { Clock } from '../clock.js';
import type { Database } from '../storage/postgres/database.js';
import { FileAgentAccounts, type AgentAccountStore } from './accounts.js';
import { PgAgentAccounts, PgAgentSessions } from './pg-agents.js';
import { FileAgentSessions, type AgentSessionStore } from './sessions.js';

/** Where the agent directory lives and how long its sessions last. */
export interface AgentDirectoryOptions {
  dataDir: string;
  /** The PostgreSQL backend; undefined: files in `dataDir`. */
  db?: Database;
  /** Session lifetime (default `DEFAULT_SESSION_TTL_MS`, 8 h). */
  sessionTtlMs?: number;
  clock?: Clock;
}

/** The accounts and the sessions that are checked against them. */
export interface AgentDirectory {
  accounts: AgentAccountStore;
  sessions: AgentSessionStore;
}

/** Opens the accounts and sessions on the configured backend (the caller closes `db` itself). */
export async function openAgentDirectory(options: AgentDirectoryOptions): Promise<AgentDirectory> {
  const settings = { ttlMs: options.sessionTtlMs, clock: options.clock };
  if (options.db) return { accounts: new PgAgentAccounts(options.db), sessions: new PgAgentSessions(options.db, settings) };
  const accounts = await FileAgentAccounts.open(options.dataDir);
  return { accounts, sessions: await FileAgentSessions.open(options.dataDir, { ...settings, accounts }) };
}
