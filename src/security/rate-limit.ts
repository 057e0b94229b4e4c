/**
 * Per-client token buckets for the routes that mint credentials or check passwords (agent login,
 * Direct Line tokens, the demo page's token exchange). Each client key (normally the peer IP) holds a
 * bucket of `burst` requests that refills at `perMinute`; an empty bucket answers 429 with Retry-After.
 * Memory is bounded: at most `maxClients` buckets are kept, least recently used dropped first (a
 * dropped bucket was either full again or belongs to a client that went quiet).
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
  /** `POST /api/agent/login`: on top of the per-name lockout; 30 at once covers a team signing in together. */
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
