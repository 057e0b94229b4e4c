/**
 * Direct Line tokens: HS256 JWTs signed with the Direct Line secret, each bound to one conversation
 * and one user, with an expiry. Web Chat reads the `user` claim to learn its user id
 * (see botframework-directlinejs `parseToken`), so the user cannot be forged by the page.
 *
 * https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-direct-line-3-0-authentication
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../src/storage/files.js';

/** What a token grants: the REST API of one conversation, or only opening its WebSocket stream. */
export type TokenScope = 'conversation' | 'stream';

/** The verified content of a token. */
export interface TokenClaims {
  /** Conversation id the token is bound to. */
  conv: string;
  /** User id the token speaks for. */
  user: string;
  /** The customer's name as the site passed it to `tokens/generate` (shown to agents); absent when not given. */
  name?: string;
  /** The customer's e-mail and phone, only ever from the site's backend (with the secret): a verified identity. */
  email?: string;
  phone?: string;
  scope: TokenScope;
  /** This token's own id: a per-token rate limit is keyed on it. */
  jti?: string;
  /** Issued at / expires at, seconds since the epoch. */
  iat: number;
  exp: number;
}

const claimsSchema = z.object({
  conv: z.string().min(1).max(128),
  user: z.string().min(1).max(256),
  name: z.string().min(1).max(256).optional(),
  email: z.string().min(1).max(254).optional(),
  phone: z.string().min(1).max(32).optional(),
  scope: z.enum(['conversation', 'stream']),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string().max(64).optional(),
});

/** Who a token speaks for besides the user id: what the site's backend said about its customer. */
export type TokenProfile = Pick<TokenClaims, 'name' | 'email' | 'phone'>;

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

function base64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

/** Shortest secret we accept, in characters: anything shorter is guessable. */
export const MIN_SECRET_LENGTH = 32;

/** A problem with the Direct Line secret (too short, unreadable file). */
export class DirectLineSecretError extends Error {
  override name = 'DirectLineSecretError';
}

/**
 * Why a bearer credential was refused; the adapter turns it into 403. `expired` tells a token that was
 * valid once (Direct Line's `TokenExpired`) from one that never was.
 */
export type VerifyResult = { ok: true; claims: TokenClaims } | { ok: false; reason: string; expired?: true };

/** Signs and verifies Direct Line tokens with one secret. */
export class DirectLineTokens {
  private readonly secretDigest: Buffer;

  constructor(
    private readonly secret: string,
    private readonly clock: Clock = systemClock,
  ) {
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new DirectLineSecretError(
        `DirectLineTokens: DIRECTLINE_SECRET must be at least ${MIN_SECRET_LENGTH} characters (unset it to have one generated in DATA_DIR)`,
      );
    }
    this.secretDigest = createHash('sha256').update(secret).digest();
  }

  /**
   * A token for `conv`/`user` valid for `ttlSeconds`. The profile (the site's name, e-mail and phone for
   * its customer) rides in the signed claims, so every later token and activity of the conversation
   * carries it unforged. A bare string is the name alone.
   */
  issue(conv: string, user: string, ttlSeconds: number, scope: TokenScope = 'conversation', profile?: TokenProfile | string): string {
    const iat = Math.floor(this.clock.now().getTime() / 1000);
    const { name, email, phone } = typeof profile === 'string' ? { name: profile } : (profile ?? {});
    const known = { ...(name ? { name } : {}), ...(email ? { email } : {}), ...(phone ? { phone } : {}) };
    const payload = base64url(JSON.stringify({ conv, user, ...known, scope, iat, exp: iat + ttlSeconds, jti: randomBytes(6).toString('base64url') }));
    return `${HEADER}.${payload}.${this.sign(`${HEADER}.${payload}`)}`;
  }

  /** Checks signature (constant time), shape and expiry. */
  verify(token: string): VerifyResult {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== HEADER) return { ok: false, reason: 'not a Direct Line token' };
    const expected = Buffer.from(this.sign(`${parts[0]}.${parts[1]}`));
    const given = Buffer.from(parts[2]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad signature' };
    let claims: TokenClaims;
    try {
      claims = claimsSchema.parse(JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')));
    } catch {
      return { ok: false, reason: 'malformed claims' };
    }
    if (claims.exp * 1000 <= this.clock.now().getTime()) return { ok: false, reason: 'token expired', expired: true };
    return { ok: true, claims };
  }

  /** True when `candidate` is the secret itself (compared as digests, in constant time). */
  isSecret(candidate: string): boolean {
    const digest = createHash('sha256').update(candidate).digest();
    return timingSafeEqual(digest, this.secretDigest);
  }

  private sign(data: string): string {
    return createHmac('sha256', this.secret).update(data).digest('base64url');
  }
}

/** File in DATA_DIR holding the generated secret. */
export const SECRET_FILE = 'directline-secret';

/**
 * The Direct Line secret: `configured` when set (DIRECTLINE_SECRET), otherwise the one kept in
 * `dataDir/directline-secret`, generated on first start (mode 0600, created atomically so two
 * processes starting together agree on one secret).
 */
export async function loadOrCreateDirectLineSecret(dataDir: string, configured?: string): Promise<string> {
  if (configured) {
    if (configured.length < MIN_SECRET_LENGTH) {
      throw new DirectLineSecretError(`DIRECTLINE_SECRET must be at least ${MIN_SECRET_LENGTH} characters (or unset it to have one generated in ${dataDir})`);
    }
    return configured;
  }
  const file = path.join(dataDir, SECRET_FILE);
  const existing = await readSecret(file);
  if (existing) return existing;
  await fs.mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const secret = randomBytes(32).toString('base64url');
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, secret + '\n', { mode: PRIVATE_FILE_MODE });
  try {
    await fs.link(tmp, file); // fails with EEXIST when another process won the race
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  const stored = await readSecret(file);
  if (!stored) throw new DirectLineSecretError(`loadOrCreateDirectLineSecret: ${file} is unreadable or too short; delete it to generate a new secret`);
  return stored;
}

async function readSecret(file: string): Promise<string | undefined> {
  try {
    const text = (await fs.readFile(file, 'utf8')).trim();
    if (text.length >= MIN_SECRET_LENGTH) return text;
    throw new DirectLineSecretError(`loadOrCreateDirectLineSecret: ${file} holds a secret shorter than ${MIN_SECRET_LENGTH} characters; delete it or set DIRECTLINE_SECRET`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
