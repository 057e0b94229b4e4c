/**
 * Per-client token buckets for the routes that mint credentials or check passwords (agent login,
 * Direct Line tokens, the demo page's token exchange). Each client key (normally the peer IP) holds a
 * bucket of `burst` requests that refills at `perMinute`; an empty bucket answers 429 with Retry-After.
 * Memory is bounded: at most `maxClients` buckets are kept, least recently used dropped first (a
 * dropped bucket was either full again or belongs to a client that went quiet).
 * `LoginThrottle` adds the limits on wrong passwords: per name and address, and per name overall.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import errors from 'restify-errors';
import { systemClock, type Clock } from '../clock.js';
import { requestInfo } from './proxy.js';

/** Size of one limit. */
export interface RateLimitOptions {
  /** Requests a client may make at once (bucket size). */
  burst: number;
  /** Requests per minute a client gets back. */
  perMinute: number;
  /** Most clients remembered at once (default 10,000). */
  maxClients?: number;
  clock?: Clock;
}

/** The verdict for one request. */
export type RateLimitResult = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

/** Defaults, sized for one office of agents behind one NAT and a busy site (see also each mount's option). */
export const DEFAULT_RATE_LIMITS = {
  /** `POST /api/agent/login`: on top of `LoginThrottle`'s limits on wrong passwords; 30 at once covers a team signing in together. */
  login: { burst: 30, perMinute: 10 },
  /** `POST /api/webchat/token`: anonymous visitors; one per chat opened. */
  webChatToken: { burst: 20, perMinute: 20 },
  /** Direct Line `tokens/generate` and `conversations` without the secret or a valid token (guessing). */
  directLine: { burst: 20, perMinute: 20 },
} as const satisfies Record<string, RateLimitOptions>;

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets keyed by client. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly burst: number;
  private readonly perMs: number;
  private readonly maxClients: number;
  private readonly clock: Clock;

  constructor(options: RateLimitOptions) {
    if (!(options.burst >= 1) || !(options.perMinute > 0)) {
      throw new RangeError(`RateLimiter: burst must be >= 1 and perMinute > 0 (got ${options.burst}, ${options.perMinute})`);
    }
    this.burst = options.burst;
    this.perMs = options.perMinute / 60_000;
    this.maxClients = Math.max(1, options.maxClients ?? 10_000);
    this.clock = options.clock ?? systemClock;
  }

  /** Takes one request from `key`'s bucket. */
  take(key: string): RateLimitResult {
    const now = this.clock.now().getTime();
    const known = this.buckets.get(key);
    const bucket: Bucket = known ? { tokens: Math.min(this.burst, known.tokens + (now - known.at) * this.perMs), at: now } : { tokens: this.burst, at: now };
    // Re-inserted so the Map's order is least recently used first.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true, remaining: Math.floor(bucket.tokens) };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000)) };
  }

  /** How many clients are remembered (bounded by `maxClients`). */
  get size(): number {
    return this.buckets.size;
  }
}

/** The key of a request: the client's address, behind `TRUST_PROXY` hops of our own proxies (src/security/proxy.ts). */
export function clientKey(req: IncomingMessage): string {
  return requestInfo(req).address;
}

/** Accepts a limiter, its options, or `false` (no limit) and gives a limiter or undefined. */
export function makeLimiter(option: RateLimiter | RateLimitOptions | false | undefined, defaults: RateLimitOptions, clock?: Clock): RateLimiter | undefined {
  if (option === false) return undefined;
  if (option instanceof RateLimiter) return option;
  return new RateLimiter({ clock, ...defaults, ...option });
}

/**
 * Charges `req`'s client; when the bucket is empty sets Retry-After and throws restify's 429
 * (`{code: 'TooManyRequests', message}`), naming `where` and when to come back.
 */
export function enforceRateLimit(limiter: RateLimiter | undefined, req: IncomingMessage, res: ServerResponse, where: string): void {
  if (!limiter) return;
  const r = limiter.take(clientKey(req));
  if (r.ok) return;
  res.setHeader('Retry-After', String(r.retryAfterSeconds));
  throw new errors.TooManyRequestsError(`${where}: too many requests from this address; try again in ${r.retryAfterSeconds} s`);
}

/**
 * Charges `key` (a token, a conversation — anything but the address) like {@link enforceRateLimit}:
 * when its bucket is empty sets Retry-After and throws restify's 429 with `refusal` and the wait.
 */
export function enforceRateLimitOn(limiter: RateLimiter | undefined, key: string, res: ServerResponse, refusal: string): void {
  const r = limiter?.take(key);
  if (!r || r.ok) return;
  res.setHeader('Retry-After', String(r.retryAfterSeconds));
  throw new errors.TooManyRequestsError(`${refusal}; try again in ${r.retryAfterSeconds} s`);
}

/** Sizes of `LoginThrottle`'s limits (see its comment for why these). */
export interface LoginThrottleOptions {
  /** Wrong passwords for one name from one address before that address must wait (default 5). */
  freeFailures: number;
  /** The first wait after them; every further wrong password doubles it (default 1 minute). */
  baseDelayMs: number;
  /** The longest wait (default 15 minutes). */
  maxDelayMs: number;
  /** A name and address with no wrong password for this long start again from zero (default 1 day). */
  forgetMs: number;
  /** Wrong passwords for one name from all addresses taken together, at once (default 50). */
  nameBurst: number;
  /** ... and given back per hour (default 30: one every two minutes). */
  namePerHour: number;
  /** How long an address where a name signed in stays exempt from the per-name limit (default 30 days). */
  trustMs: number;
  /** Most names, name–address pairs and trusted addresses remembered each (default 10,000). */
  maxEntries: number;
  clock?: Clock;
}

/** `LoginThrottle`'s defaults. */
export const DEFAULT_LOGIN_THROTTLE: Omit<LoginThrottleOptions, 'clock'> = {
  freeFailures: 5,
  baseDelayMs: 60_000,
  maxDelayMs: 15 * 60_000,
  forgetMs: 24 * 60 * 60_000,
  nameBurst: 50,
  namePerHour: 30,
  trustMs: 30 * 24 * 60 * 60_000,
  maxEntries: 10_000,
};

/**
 * The verdict on a sign-in attempt: go ahead, or wait `retryAfterSeconds` because of this address's
 * wrong passwords for the name (`address`) or everyone's (`name`).
 */
export type LoginVerdict = { ok: true } | { ok: false; retryAfterSeconds: number; limit: 'address' | 'name' };

interface PairState {
  failures: number;
  lastFailureAt: number;
}

/** Puts `key` last in `map`'s order (least recently used first) and keeps the map at most `max` long. */
function touch<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value!);
}

/**
 * Slows password guessing without letting a stranger lock an agent out. A lock per name alone (the
 * old rule: 5 wrong passwords from anywhere lock the name) hands every stranger a switch that keeps
 * the real agent out; a limit per address alone lets a botnet guess from thousands of addresses. So:
 *
 * 1. Per name and address: `freeFailures` wrong passwords, then a wait of `baseDelayMs` that doubles
 *    with every further wrong one, up to `maxDelayMs` (5 tries, then 1, 2, 4, 8, 15, 15 … minutes:
 *    about 100 guesses a day from one address). Only that address waits; the agent elsewhere does not.
 *    A right password clears it.
 * 2. Per name across all addresses, a budget of `nameBurst` wrong passwords refilled at `namePerHour`
 *    (a distributed attack gets ~50 + 30/hour, ~770 a day, however many addresses it has). When it is
 *    spent, attempts from new addresses wait for the next token — slowed, not locked — while an address
 *    where this name signed in within `trustMs` is exempt: the agent at their usual desk still gets in.
 *    The cost: while an attack lasts, the agent on a new network waits up to two minutes per try.
 *
 * Unknown names are treated exactly like known ones, so the answers say nothing about which exist.
 * An attempt is counted when it starts (`begin`), not when scrypt is done, so a burst of parallel
 * guesses cannot all slip through; `succeeded` undoes it, `abandoned` too when no password was checked.
 * The state is in memory: one instance's view (N instances allow N times the per-name budget), and
 * fresh after a restart. Memory is bounded by `maxEntries` per map, least recently used dropped first;
 * the per-address request bucket (`DEFAULT_RATE_LIMITS.login`) keeps anyone from flooding them.
 */
export class LoginThrottle {
  private readonly options: LoginThrottleOptions;
  private readonly clock: Clock;
  private readonly pairs = new Map<string, PairState>();
  private readonly names = new Map<string, Bucket>();
  private readonly trusted = new Map<string, number>();

  constructor(options: Partial<LoginThrottleOptions> = {}) {
    this.options = { ...DEFAULT_LOGIN_THROTTLE, ...options };
    this.clock = options.clock ?? systemClock;
    const o = this.options;
    if (!(o.freeFailures >= 1) || !(o.nameBurst >= 1) || !(o.namePerHour > 0) || !(o.baseDelayMs > 0) || !(o.maxDelayMs >= o.baseDelayMs)) {
      throw new RangeError('LoginThrottle: freeFailures and nameBurst must be >= 1, namePerHour and baseDelayMs > 0, maxDelayMs >= baseDelayMs');
    }
  }

  /** Whether `name` may try a password from `address` now; when it may, the attempt counts as a failure until `succeeded`. */
  begin(name: string, address: string): LoginVerdict {
    const now = this.clock.now().getTime();
    const key = pairKey(name, address);
    const pair = this.pair(key, now);
    const lockedUntil = this.lockedUntil(pair);
    if (now < lockedUntil) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((lockedUntil - now) / 1000)), limit: 'address' };
    const trusted = (this.trusted.get(key) ?? 0) > now;
    const bucket = this.bucket(normal(name), now);
    if (!trusted) {
      if (bucket.tokens < 1) {
        const perMs = this.options.namePerHour / 3_600_000;
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)), limit: 'name' };
      }
      bucket.tokens -= 1;
    }
    touch(this.pairs, key, { failures: pair.failures + 1, lastFailureAt: now }, this.options.maxEntries);
    return { ok: true };
  }

  /** The password was right: this address starts again from zero and is trusted for `name`. */
  succeeded(name: string, address: string): void {
    const key = pairKey(name, address);
    const wasTrusted = (this.trusted.get(key) ?? 0) > this.clock.now().getTime();
    this.pairs.delete(key);
    if (!wasTrusted) this.refund(name);
    touch(this.trusted, key, this.clock.now().getTime() + this.options.trustMs, this.options.maxEntries);
  }

  /** No password was checked after `begin` (the store was unavailable): the attempt does not count. */
  abandoned(name: string, address: string): void {
    const key = pairKey(name, address);
    const pair = this.pairs.get(key);
    if (pair) pair.failures = Math.max(0, pair.failures - 1);
    if (!((this.trusted.get(key) ?? 0) > this.clock.now().getTime())) this.refund(name);
  }

  private refund(name: string): void {
    const bucket = this.names.get(normal(name));
    if (bucket) bucket.tokens = Math.min(this.options.nameBurst, bucket.tokens + 1);
  }

  private pair(key: string, now: number): PairState {
    const known = this.pairs.get(key);
    return known && now - known.lastFailureAt <= this.options.forgetMs ? known : { failures: 0, lastFailureAt: now };
  }

  private lockedUntil(pair: PairState): number {
    const { freeFailures, baseDelayMs, maxDelayMs } = this.options;
    if (pair.failures < freeFailures) return 0;
    return pair.lastFailureAt + Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(30, pair.failures - freeFailures));
  }

  private bucket(name: string, now: number): Bucket {
    const known = this.names.get(name);
    const perMs = this.options.namePerHour / 3_600_000;
    const bucket: Bucket = known ? { tokens: Math.min(this.options.nameBurst, known.tokens + (now - known.at) * perMs), at: now } : { tokens: this.options.nameBurst, at: now };
    touch(this.names, name, bucket, this.options.maxEntries);
    return bucket;
  }
}

const normal = (name: string) => name.trim().toLowerCase();
const pairKey = (name: string, address: string) => `${normal(name)}\n${address}`;

/** Seconds as people say them in a "try again in …" sentence: "45 seconds", "1 minute", "15 minutes". */
export function waitInWords(seconds: number): string {
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
