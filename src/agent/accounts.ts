/**
 * Agent accounts: who may sign in to the console. Two backends behind `AgentAccountStore`: a file
 * (`DATA_DIR/agents.json`, lowdb, atomic writes; `FileAgentAccounts`, also exported as `AgentAccounts`)
 * and PostgreSQL (`PgAgentAccounts` in pg-agents.ts). Passwords are salted scrypt hashes.
 *
 * Every account has a credential stamp that changes whenever its password does (a new salt makes a new
 * hash); a session remembers the stamp it was opened with, so removing an agent or changing a password
 * ends their sessions at the next check, whichever process made the change (see sessions.ts).
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, createHash, type ScryptOptions } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { JSONFile } from 'lowdb/node';
import { PrivateJSONFile } from '../storage/adapters.js';
import { PRIVATE_DIR_MODE } from '../storage/files.js';
import { passwordProblem, type PasswordOwner } from './password-policy.js';

export { MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH } from './password-policy.js';

/** scrypt cost parameters (OWASP's recommended minimum: N=2^17 is slower; 2^15 keeps logins ~50 ms on a small box). */
export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1, keyLength: 64 } as const;

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
  /** When the password was last changed with `agents passwd` (absent: never since `add`). */
  passwordChangedAt?: string;
}

/** An account as the API shows it. */
export type PublicAgent = Omit<AgentAccount, 'passwordHash' | 'passwordChangedAt'>;

/** An account and the stamp of its current password, which a session must still match. */
export interface AgentCredential {
  agent: PublicAgent;
  /** Changes with every password change; a removed and re-added agent gets a new one too. */
  stamp: string;
}

/** What `add` may set besides the name and password. */
export interface AddAgentOptions {
  displayName?: string;
  teams?: string[];
  capacity?: number;
}

/** A problem with an account command, e.g. a duplicate name or a short password. */
export class AgentAccountError extends Error {
  override name = 'AgentAccountError';
}

/**
 * Agent accounts, on files or on PostgreSQL. Names are case-insensitive (stored lower-case).
 * Removing an account or changing its password ends its sessions: sessions compare `credential(id)`.
 */
export interface AgentAccountStore {
  /** Creates an account; `username` is the sign-in name (letters, digits, `.`, `_`, `-`). */
  add(username: string, password: string, options?: AddAgentOptions): Promise<PublicAgent>;
  /** Deletes the account; false when there was none. Its sessions end at their next check. */
  remove(username: string): Promise<boolean>;
  /** Sets a new password; false when there is no such agent. Its sessions end at their next check. */
  setPassword(username: string, password: string): Promise<boolean>;
  /** The account if the password matches; spends the same time for unknown names. */
  verify(username: string, password: string): Promise<PublicAgent | undefined>;
  /** `verify`, with the stamp of the password it matched (for `AgentSessionStore.create`). */
  authenticate(username: string, password: string): Promise<AgentCredential | undefined>;
  list(): Promise<PublicAgent[]>;
  get(id: string): Promise<PublicAgent | undefined>;
  /** The account as it is now, with its password stamp; undefined once removed. */
  credential(id: string): Promise<AgentCredential | undefined>;
  close?(): Promise<void>;
}

/** The normalised sign-in name, or an `AgentAccountError` naming the command. */
export function agentId(username: string, command = 'agents add'): string {
  const id = username.trim().toLowerCase();
  if (!/^[a-z0-9._-]{1,64}$/.test(id)) throw new AgentAccountError(`${command}: ${JSON.stringify(username)} is not a valid name (letters, digits, ".", "_", "-"; at most 64)`);
  return id;
}

/**
 * Refuses a password the policy of password-policy.ts does not accept (too short, too common, or
 * containing the agent's name), as an `AgentAccountError` naming the command. Every way of setting a
 * password goes through here, so the console, the CLI and code that seeds accounts follow one rule.
 */
export function checkPassword(password: string, owner: PasswordOwner & { command?: string } = {}): void {
  const problem = passwordProblem(password, owner);
  if (problem) throw new AgentAccountError(`${owner.command ?? 'agents add'}: ${problem}`);
}


/** A file account's stamp: derived from its hash, so files written before stamps existed need no change. */
export function stampOf(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url').slice(0, 22);
}

interface AccountsFile {
  agents: AgentAccount[];
}

/**
 * The account file. `npm run agents` writes it from another process while the server runs, so every
 * read first stats the file (one `stat`, no read when unchanged: lowdb's writes replace the file, so a
 * change shows as a new inode, size or mtime) and re-reads it when it changed.
 */
export class FileAgentAccounts implements AgentAccountStore {
  private agents: AgentAccount[] = [];
  private seen = '';
  /** Changes made by this process, one after another (each re-reads the file first). */
  private changes: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly adapter: JSONFile<AccountsFile>,
    private readonly file: string,
  ) {}

  /** Opens `dataDir/agents.json` (created on the first `add`). */
  static async open(dataDir: string): Promise<FileAgentAccounts> {
    await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const file = path.join(dataDir, 'agents.json');
    const accounts = new FileAgentAccounts(new PrivateJSONFile<AccountsFile>(file), file);
    await accounts.fresh();
    return accounts;
  }

  /** The accounts as the file holds them now. */
  private async fresh(): Promise<AgentAccount[]> {
    const key = await this.fileKey();
    if (key !== this.seen) {
      const data = key === 'missing' ? null : await this.adapter.read();
      this.agents = data?.agents ?? [];
      this.seen = key;
    }
    return this.agents;
  }

  private async fileKey(): Promise<string> {
    try {
      const s = await stat(this.file, { bigint: true });
      return `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw err;
    }
  }

  /** Re-reads the file, changes a copy of its accounts and writes it (so a change by another process is kept). */
  private change<T>(fn: (agents: AgentAccount[]) => T): Promise<T> {
    const run = async () => {
      this.seen = '';
      const agents = structuredClone(await this.fresh());
      const result = fn(agents);
      await this.adapter.write({ agents });
      this.agents = agents;
      this.seen = await this.fileKey();
      return result;
    };
    const next = this.changes.then(run, run);
    this.changes = next.catch(() => undefined);
    return next;
  }

  async add(username: string, password: string, options: AddAgentOptions = {}): Promise<PublicAgent> {
    const id = agentId(username);
    checkPassword(password, { command: 'agents add', username: id, displayName: options.displayName });
    const passwordHash = await hashPassword(password);
    return this.change((agents) => {
      if (agents.some((a) => a.id === id)) throw new AgentAccountError(`agents add: an agent named ${id} already exists (change the password with agents passwd ${id})`);
      const account: AgentAccount = {
        id,
        name: options.displayName?.trim() || username.trim(),
        teams: options.teams ?? [],
        capacity: options.capacity ?? 3,
        passwordHash,
        createdAt: new Date().toISOString(),
      };
      agents.push(account);
      return publicAgent(account);
    });
  }

  async remove(username: string): Promise<boolean> {
    const id = username.trim().toLowerCase();
    return this.change((agents) => {
      const i = agents.findIndex((a) => a.id === id);
      if (i >= 0) agents.splice(i, 1);
      return i >= 0;
    });
  }

  async setPassword(username: string, password: string): Promise<boolean> {
    const id = username.trim().toLowerCase();
    checkPassword(password, { command: 'agents passwd', username: id });
    const passwordHash = await hashPassword(password);
    return this.change((agents) => {
      const account = agents.find((a) => a.id === id);
      if (account) Object.assign(account, { passwordHash, passwordChangedAt: new Date().toISOString() });
      return !!account;
    });
  }

  async verify(username: string, password: string): Promise<PublicAgent | undefined> {
    return (await this.authenticate(username, password))?.agent;
  }

  async authenticate(username: string, password: string): Promise<AgentCredential | undefined> {
    const account = (await this.fresh()).find((a) => a.id === username.trim().toLowerCase());
    const ok = await verifyPassword(password, account?.passwordHash ?? DUMMY_HASH);
    return ok && account ? { agent: publicAgent(account), stamp: stampOf(account.passwordHash) } : undefined;
  }

  async list(): Promise<PublicAgent[]> {
    return (await this.fresh()).map(publicAgent);
  }

  async get(id: string): Promise<PublicAgent | undefined> {
    return (await this.credential(id))?.agent;
  }

  async credential(id: string): Promise<AgentCredential | undefined> {
    const a = (await this.fresh()).find((x) => x.id === id.trim().toLowerCase());
    return a && { agent: publicAgent(a), stamp: stampOf(a.passwordHash) };
  }
}

/** The file backend under its first name (`AgentAccounts.open(dataDir)`), kept for existing callers. */
export { FileAgentAccounts as AgentAccounts };

/** Compared against for unknown names, so a wrong name costs as long as a wrong password. */
export const DUMMY_HASH = `scrypt$${SCRYPT_PARAMS.N}$8$1$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(64).toString('base64url')}`;

/** The account without its password fields, as the API shows it. */
export function publicAgent({ passwordHash: _h, passwordChangedAt: _c, ...rest }: AgentAccount): PublicAgent {
  return rest;
}
