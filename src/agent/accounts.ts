/**
 * Agent accounts and sessions. Accounts live in `DATA_DIR/agents.json` (lowdb, atomic writes), each
 * password as a salted scrypt hash; sessions are random opaque tokens kept in memory that expire, so
 * a Direct Line token (or anything else not issued by `login`) never opens the agent API.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, createHash, type ScryptOptions } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { systemClock, type Clock } from '../clock.js';

/** scrypt cost parameters (OWASP's recommended minimum: N=2^17 is slower; 2^15 keeps logins ~50 ms on a small box). */
export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1, keyLength: 64 } as const;
/** Shortest password `agents add` accepts. */
export const MIN_PASSWORD_LENGTH = 8;
/** How long a console session lasts without signing in again. */
export const DEFAULT_SESSION_TTL_MS = 8 * 60 * 60 * 1000;

function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** Hashes a password as `scrypt$N$r$p$salt$hash` (base64url parts). */
export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, keyLength } = SCRYPT_PARAMS;
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, keyLength, { N, r, p, maxmem: 256 * N * r });
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Checks a password against `hashPassword`'s output in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const N = Number(n);
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N, r: Number(r), p: Number(p), maxmem: 256 * N * Number(r) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** One agent as stored (the hash never leaves this module's callers' hands into responses). */
export interface AgentAccount {
  /** The sign-in name; also the agent's id in the queue. */
  id: string;
  /** Shown to customers ("Ada from our team has joined"). */
  name: string;
  teams: string[];
  capacity: number;
  passwordHash: string;
  createdAt: string;
}

/** An account as the API shows it. */
export type PublicAgent = Omit<AgentAccount, 'passwordHash'>;

/** A problem with an account command, e.g. a duplicate name or a short password. */
export class AgentAccountError extends Error {
  override name = 'AgentAccountError';
}

interface AccountsFile {
  agents: AgentAccount[];
}

/** The account file; re-read on every sign-in so `npm run agents -- add` works while the server runs. */
export class AgentAccounts {
  private constructor(private readonly db: Low<AccountsFile>) {}

  static async open(dataDir: string): Promise<AgentAccounts> {
    await mkdir(dataDir, { recursive: true });
    const db = new Low<AccountsFile>(new JSONFile(path.join(dataDir, 'agents.json')), { agents: [] });
    await db.read();
    db.data ??= { agents: [] };
    return new AgentAccounts(db);
  }

  /** Creates an account; `name` is the sign-in name (letters, digits, `.`, `_`, `-`). */
  async add(username: string, password: string, options: { displayName?: string; teams?: string[]; capacity?: number } = {}): Promise<PublicAgent> {
    const id = username.trim().toLowerCase();
    if (!/^[a-z0-9._-]{1,64}$/.test(id)) throw new AgentAccountError(`agents add: ${JSON.stringify(username)} is not a valid name (letters, digits, ".", "_", "-"; at most 64)`);
    if (password.length < MIN_PASSWORD_LENGTH) throw new AgentAccountError(`agents add: the password needs at least ${MIN_PASSWORD_LENGTH} characters`);
    await this.db.read();
    if (this.db.data.agents.some((a) => a.id === id)) throw new AgentAccountError(`agents add: an agent named ${id} already exists (remove it first to reset the password)`);
    const account: AgentAccount = {
      id,
      name: options.displayName?.trim() || username.trim(),
      teams: options.teams ?? [],
      capacity: options.capacity ?? 3,
      passwordHash: await hashPassword(password),
      createdAt: new Date().toISOString(),
    };
    this.db.data.agents.push(account);
    await this.db.write();
    return publicAgent(account);
  }

  async remove(username: string): Promise<boolean> {
    await this.db.read();
    const before = this.db.data.agents.length;
    this.db.data.agents = this.db.data.agents.filter((a) => a.id !== username.trim().toLowerCase());
    await this.db.write();
    return this.db.data.agents.length < before;
  }

  /** The account if the password matches; spends the same time for unknown names. */
  async verify(username: string, password: string): Promise<PublicAgent | undefined> {
    await this.db.read();
    const account = this.db.data.agents.find((a) => a.id === username.trim().toLowerCase());
    const ok = await verifyPassword(password, account?.passwordHash ?? DUMMY_HASH);
    return ok && account ? publicAgent(account) : undefined;
  }

  list(): PublicAgent[] {
    return this.db.data.agents.map(publicAgent);
  }

  get(id: string): PublicAgent | undefined {
    const a = this.db.data.agents.find((x) => x.id === id.trim().toLowerCase());
    return a && publicAgent(a);
  }
}

const DUMMY_HASH = `scrypt$${SCRYPT_PARAMS.N}$8$1$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(64).toString('base64url')}`;

function publicAgent({ passwordHash: _h, ...rest }: AgentAccount): PublicAgent {
  return rest;
}

/** A signed-in console. */
export interface AgentSession {
  agent: PublicAgent;
  expiresAt: Date;
}

/** Why a token was refused, for the 401 message. */
export type SessionCheck = { ok: true; session: AgentSession } | { ok: false; reason: 'unknown' | 'expired' };

/** Opaque tokens (`sbagent_...`) stored by their SHA-256, valid for `ttlMs` after sign-in. */
export class AgentSessions {
  private readonly sessions = new Map<string, AgentSession>();
  constructor(
    private readonly ttlMs: number = DEFAULT_SESSION_TTL_MS,
    private readonly clock: Clock = systemClock,
  ) {}

  create(agent: PublicAgent): { token: string; expiresAt: Date } {
    const token = `sbagent_${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(this.clock.now().getTime() + this.ttlMs);
    this.sessions.set(digest(token), { agent, expiresAt });
    return { token, expiresAt };
  }

  check(token: string): SessionCheck {
    const key = digest(token);
    const session = this.sessions.get(key);
    if (!session) return { ok: false, reason: 'unknown' };
    if (session.expiresAt.getTime() <= this.clock.now().getTime()) {
      this.sessions.delete(key);
      return { ok: false, reason: 'expired' };
    }
    return { ok: true, session };
  }

  revoke(token: string): void {
    this.sessions.delete(digest(token));
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
