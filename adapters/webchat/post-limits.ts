/**
 * How fast one web chat may post: activity POSTs and uploads are charged to the token that sends them
 * and to the conversation they go to. The per-token bucket stops one tab flooding; the
 * per-conversation bucket holds however many tokens a conversation has (refreshed ones, several tabs,
 * the site's backend with the secret), so minting fresh tokens buys no extra rate. An empty bucket
 * answers 429 (Direct Line's `TooManyRequests`) with Retry-After, which the Direct Line routes send as
 * an HTTP date (errors.ts says why); botframework-directlinejs then fails that one post at once ("Send
 * failed", the customer may retry) and stays connected.
 *
 * Memory is bounded: each limiter keeps at most `MAX_LIMITED_CLIENTS` buckets (about 200 bytes each, so
 * some 2 MB per limiter), least recently used dropped first — a dropped bucket had refilled or belongs
 * to a chat gone quiet.
 */
import type { ServerResponse } from 'node:http';
import type { Clock } from '../../src/clock.js';
import { RateLimiter, enforceRateLimitOn, makeLimiter, type RateLimitOptions } from '../../src/security/rate-limit.js';

/** Most tokens, and most conversations, whose buckets are remembered at once. */
export const MAX_LIMITED_CLIENTS = 10_000;

/**
 * Defaults: a customer typing fast sends a message every few seconds plus a `typing` activity at most
 * every 3 s (Web Chat's throttle), well under 60 a minute; 30 at once covers a reconnect flushing its
 * outbox. A conversation gets twice a token's rate, for a second tab.
 */
export const DEFAULT_ACTIVITY_RATE_LIMITS = {
  perToken: { burst: 30, perMinute: 60 },
  perConversation: { burst: 60, perMinute: 120 },
} as const satisfies Record<string, RateLimitOptions>;

/** The limits of {@link WebChatAdapterOptions.activityRateLimit}; each `false` turns that one off. */
export interface ActivityRateLimitOptions {
  perToken?: RateLimiter | RateLimitOptions | false;
  perConversation?: RateLimiter | RateLimitOptions | false;
}

/**
 * The limits for an operator's one number (`DIRECTLINE_POSTS_PER_MINUTE`): that many per token per
 * minute with half a minute's worth at once, twice both per conversation; 0 turns them off.
 */
export function activityRateLimitsFor(perMinute: number): ActivityRateLimitOptions | false {
  if (perMinute <= 0) return false;
  const burst = Math.max(1, Math.ceil(perMinute / 2));
  return { perToken: { burst, perMinute }, perConversation: { burst: 2 * burst, perMinute: 2 * perMinute } };
}

/** The two buckets every activity POST and upload is charged to. */
export class ActivityRateLimits {
  private readonly perToken?: RateLimiter;
  private readonly perConversation?: RateLimiter;

  constructor(options: ActivityRateLimitOptions | false | undefined, clock: Clock) {
    const o = options === false ? { perToken: false as const, perConversation: false as const } : (options ?? {});
    this.perToken = makeLimiter(bounded(o.perToken), DEFAULT_ACTIVITY_RATE_LIMITS.perToken, clock);
    this.perConversation = makeLimiter(bounded(o.perConversation), DEFAULT_ACTIVITY_RATE_LIMITS.perConversation, clock);
  }

  /**
   * Charges one post to `conversationId` and, for a token, to `tokenId` (the secret is the site's one
   * credential for every chat, so only its conversations are charged); throws the 429 when either is spent.
   */
  charge(conversationId: string, tokenId: string | undefined, res: ServerResponse, where: string): void {
    if (tokenId !== undefined) enforceRateLimitOn(this.perToken, tokenId, res, `${where}: this token is sending too fast`);
    enforceRateLimitOn(this.perConversation, conversationId, res, `${where}: this conversation is sending too fast`);
  }
}

function bounded(option: RateLimiter | RateLimitOptions | false | undefined): RateLimiter | RateLimitOptions | false | undefined {
  if (option === false || option instanceof RateLimiter) return option;
  return { maxClients: MAX_LIMITED_CLIENTS, ...option } as RateLimitOptions;
}
