/**
 * Agent console sessions: random opaque tokens (`sbagent_...`) that expire. Only a token's SHA-256 is
 * stored, so a copy of the sessions file or table cannot be replayed. Three backends behind
 * `AgentSessionStore`: memory (`AgentSessions`, tests and benchmarks), a file in DATA_DIR
 * (`FileAgentSessions`, the embedded default: signed-in agents stay signed in across a restart) and
 * PostgreSQL (`PgAgentSessions` in pg-agents.ts).
 *
 * Revocation: a session keeps the credential stamp of the password it was opened with, and every check
 * compares it with the account as it is now (`AgentAccountStore.credential`). So removing an agent or
 * changing their password ends their sessions at once, whichever process did it (`npm run agents`,
 * another instance), with no message between processes: on files the account file is stat'ed per
 * check and re-read when it changed; on PostgreSQL the check joins the accounts table.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { JSONFile } from 'lowdb/node';
import { PrivateJSONFile } from '../storage/adapters.js';
import { PRIVATE_DIR_MODE } from '../storage/files.js';
import { systemClock, type Clock } from '../clock.js';
import type { AgentAccountStore, PublicAgent } from './accounts.js';

/** How long a console session lasts without signing in again. */
export const DEFAULT_SESSION_TTL_MS = 8 * 60 * 60 * 1000;

/** A signed-in console. */
export interface AgentSession {
  /** The account as it is now (a changed display name or team shows without signing in again). */
  agent: PublicAgent;
  expiresAt: Date;
}

/**
 * Why a token was refused, for the 401 message: never issued or signed out (`unknown`), past its
 * time (`expired`), the account was removed (`removed`), or its password changed since sign-in
 * (`password-changed`; also a removed agent added again).
 */
export type SessionEnd = 'unknown' | 'expired' | 'removed' | 'password-changed';

/** The answer of `AgentSessionStore.check`. */
export type SessionCheck = { ok: true; session: AgentSession } | { ok: false; reason: SessionEnd };

/** The password changed or the account went away between checking the password and opening the session. */
export class SessionRefusedError extends Error {
  override name = 'SessionRefusedError';
  constructor(readonly agentId: string) {
    super(`AgentSessions.create: the account ${agentId} was removed or its password changed while signing in; sign in again`);
  }
}

/** Where sessions live; see the file comment for how revocation reaches every process. */
export interface AgentSessionStore {
  /**
   * Opens a session for `agent`. `stamp` is the credential stamp the password was verified against
   * (`AgentAccountStore.authenticate`); if the account has changed since, `SessionRefusedError`.
   */
  create(agent: PublicAgent, stamp?: string): Promise<{ token: string; expiresAt: Date }>;
  check(token: string): Promise<SessionCheck>;
  /** Signs one token out (logout). */
  revoke(token: string): Promise<void>;
  close?(): Promise<void>;
}

/** A new random token (256 bits). */
export function newToken(): string {
  return `sbagent_${randomBytes(32).toString('base64url')}`;
}

/** What is stored for a token: its SHA-256 in hex. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** One session as kept in memory and in the sessions file. */
export interface StoredSession {
  agentId: string;
  /** The account's credential stamp at sign-in ('' without an account store). */
  stamp: string;
  createdAt: string;
  expiresAt: string;
  /** Set once a check found the account removed or its password changed, so later checks say why. */
  ended?: 'removed' | 'password-changed';
  /** The agent at sign-in; used only when there is no account store to ask (memory sessions in tests). */
  agent?: PublicAgent;
}

/** Options of the memory and file session stores. */
export interface SessionOptions {
  /** Checked on every request; without it (tests, benchmarks) a session ends only by logout or time. */
  accounts?: AgentAccountStore;
  ttlMs?: number;
  clock?: Clock;
}

/**
 * Sessions in memory. With `accounts`, every check compares the account's credential stamp, so a
 * removed agent or a changed password ends the session; without, sessions end only by logout or time.
 * Lost on restart: the server uses `FileAgentSessions` or `PgAgentSessions` (`openAgentDirectory`).
 */
export class AgentSessions implements AgentSessionStore {
  protected readonly sessions = new Map<string, StoredSession>();
  protected readonly accounts?: AgentAccountStore;
  private readonly ttlMs: number;
  private readonly clock: Clock;

  constructor(ttlMs: number | SessionOptions = DEFAULT_SESSION_TTL_MS, clock: Clock = systemClock, accounts?: AgentAccountStore) {
    const o = typeof ttlMs === 'number' ? { ttlMs, clock, accounts } : ttlMs;
    this.ttlMs = o.ttlMs ?? DEFAULT_SESSION_TTL_MS;
    this.clock = o.clock ?? systemClock;
    this.accounts = o.accounts;
  }

  async create(agent: PublicAgent, stamp?: string): Promise<{ token: string; expiresAt: Date }> {
    let current = '';
    if (this.accounts) {
      const credential = await this.accounts.credential(agent.id);
      if (!credential || (stamp !== undefined && credential.stamp !== stamp)) throw new SessionRefusedError(agent.id);
      current = credential.stamp;
    }
    const token = newToken();
    const now = this.clock.now().getTime();
    const expiresAt = new Date(now + this.ttlMs);
    for (const [key, s] of this.sessions) if (Date.parse(s.expiresAt) <= now) this.sessions.delete(key);
    this.sessions.set(tokenHash(token), {
      agentId: agent.id,
      stamp: current,
      createdAt: new Date(now).toISOString(),
      expiresAt: expiresAt.toISOString(),
      ...(this.accounts ? {} : { agent }),
    });
    await this.persist();
    return { token, expiresAt };
  }

  async check(token: string): Promise<SessionCheck> {
    const key = tokenHash(token);
    const s = this.sessions.get(key);
    if (!s) return { ok: false, reason: 'unknown' };
    if (Date.parse(s.expiresAt) <= this.clock.now().getTime()) {
      this.sessions.delete(key);
      await this.persist();
      return { ok: false, reason: 'expired' };
    }
    if (s.ended) return { ok: false, reason: s.ended };
    const expiresAt = new Date(s.expiresAt);
    if (!this.accounts) return { ok: true, session: { agent: s.agent!, expiresAt } };
    const credential = await this.accounts.credential(s.agentId);
    if (credential && credential.stamp === s.stamp) return { ok: true, session: { agent: credential.agent, expiresAt } };
    s.ended = credential ? 'password-changed' : 'removed';
    await this.persist();
    return { ok: false, reason: s.ended };
  }

  async revoke(token: string): Promise<void> {
    if (this.sessions.delete(tokenHash(token))) await this.persist();
  }

  /** Saves the sessions (memory: nothing to do). */
  protected async persist(): Promise<void> {}

  /** Waits for pending writes (memory: none). */
  async close(): Promise<void> {}
}

interface SessionsFile {
  sessions: Record<string, StoredSession>;
}

/**
 * Sessions in `DATA_DIR/agent-sessions.json`, keyed by token hash, so a restart keeps everyone
 * signed in. The server is the only writer (`npm run agents` changes only the account file, which
 * every check consults), so the file is read once at open and rewritten, atomically, after a change.
 */
export class FileAgentSessions extends AgentSessions {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: JSONFile<SessionsFile>,
    options: SessionOptions & { accounts: AgentAccountStore },
  ) {
    super(options);
  }

  /** Opens (or starts) the sessions file in `dataDir`; `accounts` is what every check compares against. */
  static async open(dataDir: string, options: SessionOptions & { accounts: AgentAccountStore }): Promise<FileAgentSessions> {
    await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const file = path.join(dataDir, SESSIONS_FILE);
    const store = new FileAgentSessions(new PrivateJSONFile<SessionsFile>(file), options);
    let data: SessionsFile | null = null;
    try {
      data = JSON.parse(await readFile(file, 'utf8')) as SessionsFile;
    } catch (err) {
      // A missing file is the first start; an unreadable one (cannot come from an atomic write) signs everyone out rather than refusing to start.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
    }
    for (const [key, s] of Object.entries(data?.sessions ?? {})) {
      if (/^[0-9a-f]{64}$/.test(key) && typeof s?.agentId === 'string' && typeof s.expiresAt === 'string') store.sessions.set(key, s);
    }
    return store;
  }

  protected override persist(): Promise<void> {
    // Serialised now, written in order; steno renames a temporary file, so a crash leaves the previous file.
    const data: SessionsFile = { sessions: Object.fromEntries(this.sessions) };
    const next = this.writing.then(() => this.file.write(data));
    this.writing = next.catch(() => undefined);
    return next;
  }

  override async close(): Promise<void> {
    await this.writing;
  }
}

/** The sessions file's name in DATA_DIR. */
export const SESSIONS_FILE = 'agent-sessions.json';
