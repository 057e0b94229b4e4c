/**
 * Agent accounts and sessions on PostgreSQL (tables `agents` and `agent_sessions`, migration 0004), so
 * every instance signs in the same agents and accepts the same tokens. A session check is one query
 * that joins the account: a removal or a password change made through any instance or by
 * `npm run agents` ends the session on every instance at its next request.
 *
 * @example
 *   const accounts = new PgAgentAccounts(db);
 *   const sessions = new PgAgentSessions(db, { ttlMs, clock });
 */
import { randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import type { Database } from '../storage/postgres/database.js';
import {
  AgentAccountError,
  DUMMY_HASH,
  agentId,
  checkPassword,
  hashPassword,
  verifyPassword,
  type AddAgentOptions,
  type AgentAccountStore,
  type AgentCredential,
  type PublicAgent,
} from './accounts.js';
import { DEFAULT_SESSION_TTL_MS, SessionRefusedError, newToken, tokenHash, type AgentSessionStore, type SessionCheck } from './sessions.js';

interface AgentRow {
  id: string;
  name: string;
  teams: string[];
  capacity: number;
  created_at: Date;
  password_hash: string;
  password_stamp: string;
}

const AGENT_COLUMNS = 'id, name, teams, capacity, created_at, password_hash, password_stamp';

const toAgent = (r: Pick<AgentRow, 'id' | 'name' | 'teams' | 'capacity' | 'created_at'>): PublicAgent => ({
  id: r.id,
  name: r.name,
  teams: r.teams,
  capacity: r.capacity,
  createdAt: r.created_at.toISOString(),
});

/** A new credential stamp (random: a removed agent added again with the same password gets a different one). */
const newStamp = () => randomBytes(16).toString('base64url');

/** `AgentAccountStore` on PostgreSQL. */
export class PgAgentAccounts implements AgentAccountStore {
  constructor(private readonly db: Database) {}

  async add(username: string, password: string, options: AddAgentOptions = {}): Promise<PublicAgent> {
    const id = agentId(username);
    checkPassword(password, { command: 'agents add', username: id, displayName: options.displayName });
    const { rows } = await this.db.query<AgentRow>(
      `INSERT INTO agents (id, name, teams, capacity, password_hash, password_stamp, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING ${AGENT_COLUMNS}`,
      [id, options.displayName?.trim() || username.trim(), options.teams ?? [], options.capacity ?? 3, await hashPassword(password), newStamp(), new Date()],
      'PgAgentAccounts.add',
    );
    if (!rows[0]) throw new AgentAccountError(`agents add: an agent named ${id} already exists (change the password with agents passwd ${id})`);
    return toAgent(rows[0]);
  }

  async remove(username: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM agents WHERE id = $1', [username.trim().toLowerCase()], 'PgAgentAccounts.remove');
    return rowCount === 1;
  }

  async setPassword(username: string, password: string): Promise<boolean> {
    checkPassword(password, { command: 'agents passwd', username: username.trim().toLowerCase() });
    const { rowCount } = await this.db.query(
      'UPDATE agents SET password_hash = $2, password_stamp = $3, password_changed_at = now() WHERE id = $1',
      [username.trim().toLowerCase(), await hashPassword(password), newStamp()],
      'PgAgentAccounts.setPassword',
    );
    return rowCount === 1;
  }

  async verify(username: string, password: string): Promise<PublicAgent | undefined> {
    return (await this.authenticate(username, password))?.agent;
  }

  async authenticate(username: string, password: string): Promise<AgentCredential | undefined> {
    const row = await this.row(username, 'PgAgentAccounts.authenticate');
    const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
    return ok && row ? { agent: toAgent(row), stamp: row.password_stamp } : undefined;
  }

  async list(): Promise<PublicAgent[]> {
    const { rows } = await this.db.query<AgentRow>(`SELECT ${AGENT_COLUMNS} FROM agents ORDER BY created_at, id`, [], 'PgAgentAccounts.list');
    return rows.map(toAgent);
  }

  async get(id: string): Promise<PublicAgent | undefined> {
    const row = await this.row(id, 'PgAgentAccounts.get');
    return row && toAgent(row);
  }

  async credential(id: string): Promise<AgentCredential | undefined> {
    const row = await this.row(id, 'PgAgentAccounts.credential');
    return row && { agent: toAgent(row), stamp: row.password_stamp };
  }

  private async row(id: string, where: string): Promise<AgentRow | undefined> {
    const { rows } = await this.db.query<AgentRow>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = $1`, [id.trim().toLowerCase()], where);
    return rows[0];
  }
}

/** `AgentSessionStore` on PostgreSQL: any instance accepts a token any other issued. */
export class PgAgentSessions implements AgentSessionStore {
  private readonly ttlMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly db: Database,
    options: { ttlMs?: number; clock?: Clock } = {},
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_SESSION_TTL_MS;
    this.clock = options.clock ?? systemClock;
  }

  async create(agent: PublicAgent, stamp?: string): Promise<{ token: string; expiresAt: Date }> {
    const token = newToken();
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.ttlMs);
    // The stamp is copied from the account in the same statement: nothing is opened for an account that changed meanwhile.
    const { rowCount } = await this.db.query(
      `INSERT INTO agent_sessions (token_hash, agent_id, password_stamp, created_at, expires_at)
       SELECT $1, id, password_stamp, $3, $4 FROM agents WHERE id = $2 AND ($5::text IS NULL OR password_stamp = $5)`,
      [tokenHash(token), agent.id, now, expiresAt, stamp ?? null],
      'PgAgentSessions.create',
    );
    if (rowCount !== 1) throw new SessionRefusedError(agent.id);
    await this.db.query('DELETE FROM agent_sessions WHERE expires_at <= $1', [now], 'PgAgentSessions.create');
    return { token, expiresAt };
  }

  async check(token: string): Promise<SessionCheck> {
    const key = tokenHash(token);
    const { rows } = await this.db.query<Partial<AgentRow> & { expires_at: Date; session_stamp: string }>(
      `SELECT s.expires_at, s.password_stamp AS session_stamp, a.id, a.name, a.teams, a.capacity, a.created_at, a.password_stamp
         FROM agent_sessions s LEFT JOIN agents a ON a.id = s.agent_id
        WHERE s.token_hash = $1`,
      [key],
      'PgAgentSessions.check',
    );
    const row = rows[0];
    if (!row) return { ok: false, reason: 'unknown' };
    if (row.expires_at.getTime() <= this.clock.now().getTime()) {
      await this.db.query('DELETE FROM agent_sessions WHERE token_hash = $1', [key], 'PgAgentSessions.check');
      return { ok: false, reason: 'expired' };
    }
    if (!row.id) return { ok: false, reason: 'removed' };
    if (row.password_stamp !== row.session_stamp) return { ok: false, reason: 'password-changed' };
    return { ok: true, session: { agent: toAgent(row as AgentRow), expiresAt: row.expires_at } };
  }

  async revoke(token: string): Promise<void> {
    await this.db.query('DELETE FROM agent_sessions WHERE token_hash = $1', [tokenHash(token)], 'PgAgentSessions.revoke');
  }
}
