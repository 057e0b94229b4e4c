/**
 * `WebChatAdapter`: a botbuilder `BotAdapter` that *is* a Direct Line 3.0 service, so Microsoft's
 * Web Chat widget and `botframework-directlinejs` talk to the bot with no Azure Bot Service between.
 *
 * Routes (under `basePath`, default `/v3/directline`), as the client library calls them
 * (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-direct-line-3-0-api-reference):
 *   POST tokens/generate                 (secret)  → {conversationId, token, expires_in}
 *   POST tokens/refresh                  (token)   → {conversationId, token, expires_in}
 *   POST conversations                   (either)  → 201 new / 200 already started {conversationId, token, expires_in, streamUrl}
 *   GET  conversations/{id}?watermark=   (either)  → a fresh streamUrl (reconnect)
 *   GET  conversations/{id}/activities?watermark= → {activities, watermark}
 *   POST conversations/{id}/activities            → {id}
 *   POST conversations/{id}/upload                → {id} (multipart: `activity` + files; see upload.ts)
 *   GET  conversations/{id}/attachments/{mediaId} → the file (signed URL or token; see upload.ts)
 *   WebSocket conversations/{id}/stream?t=&watermark= → {activities, watermark} frames, "" keep-alives
 *
 * Every error under `basePath` answers Direct Line's `{"error": {"code", "message"}}` (errors.ts), and
 * activity POSTs and uploads are rate limited per token and per conversation (post-limits.ts).
 *
 * Every user activity is echoed back with a server id and its `channelData.clientActivityID`, because
 * Web Chat shows "Send failed" until it sees that echo.
 *
 * Turns run on the shared turn engine (`src/engine/turn-engine.ts`): a POSTed activity is written to
 * the conversation log (the echo) and accepted into the durable inbox before the POST is answered
 * (dedupe on `clientActivityID`), so a crash never loses an acknowledged message and a retried POST
 * does not run the bot twice. Live delivery goes through an `EventBus`: every append publishes
 * "conversation X has grown to watermark W", and each instance's sockets on X read the log from what
 * they already sent — so with a shared store a socket held by one instance gets replies written by another.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { ActivityTypes, TurnContext, type Activity, type ConversationReference, type ResourceResponse } from 'botbuilder';
import type { Request, Response, Server } from 'restify';
import { WebSocket, WebSocketServer } from 'ws';
import { agentMarkOf, type BotLogic } from '../../src/engine/channel.js';
import { TurnEngineAdapter, contentHash, summarizeActivity, type TurnEngineOptions } from '../../src/engine/turn-engine.js';
import { FileChannelJournal } from '../../src/engine/file-journal.js';
import { LocalEventBus, type EventBus } from '../../src/engine/bus.js';
import type { Inbox, InboxItem, TurnSend } from '../../src/engine/inbox.js';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import type { Logger } from '../../src/log.js';
import { DEFAULT_MAX_BODY_BYTES } from '../../src/server.js';
import { requestInfo } from '../../src/security/proxy.js';
import { DEFAULT_RATE_LIMITS, enforceRateLimit, makeLimiter, type RateLimiter, type RateLimitOptions } from '../../src/security/rate-limit.js';
import {
  CORS_ALLOWED_HEADERS,
  badRequest,
  bearerOf,
  conversationIdSchema,
  inboundActivitySchema,
  readJsonBody,
  startBodySchema,
  watermarkSchema,
} from './schema.js';
import { FileConversationStore, type WebChatConversation, type WebChatConversationStore } from './store.js';
import { DirectLineTokens, type TokenClaims, type TokenProfile } from './tokens.js';
import { DirectLineError, directLineRoute, upgradeRefusal, type DirectLineHandler } from './errors.js';
import { ActivityRateLimits, type ActivityRateLimitOptions } from './post-limits.js';
import { MediaUrls, handleUpload, serveAttachment } from './upload.js';
import type { MediaStore } from '../../src/media/store.js';

/** Options of {@link WebChatAdapter}. Only `secret` and `dataDir` (or both `store` and `inbox`) are required. */
export interface WebChatAdapterOptions extends TurnEngineOptions {
  /** Signs tokens; from `loadOrCreateDirectLineSecret(config.dataDir, config.directLineSecret)`. */
  secret: string;
  /** Where conversations and their activities are kept; default a `FileConversationStore` in `dataDir/webchat`. */
  store?: WebChatConversationStore;
  /** The durable inbox of posted activities; default a `FileChannelJournal` in `dataDir/webchat/inbox`. */
  inbox?: Inbox;
  /** Carries "conversation X has new activities" to every instance's sockets; default a `LocalEventBus` (one process). */
  bus?: EventBus;
  dataDir?: string;
  logger?: Logger;
  clock?: Clock;
  /** Route prefix; default `/v3/directline` (Web Chat's `domain` is `origin + basePath`). */
  basePath?: string;
  /** Public origin (e.g. `https://chat.example.com`) for stream URLs behind a proxy; default: the request's Host. */
  publicUrl?: string;
  /** Token lifetime; default 3600 s (directlinejs refreshes every 15 minutes). */
  tokenTtlSeconds?: number;
  /** How long a streamUrl may be used to connect; default 300 s. */
  streamUrlTtlSeconds?: number;
  /** Empty keep-alive frame and ping interval on WebSockets; default 15 s. */
  keepAliveMs?: number;
  /** Largest accepted request body; default the server's 256 KiB. */
  maxBodyBytes?: number;
  /** Where uploaded and agent-sent files are kept (`backend.media`); without it uploads answer 415. */
  media?: MediaStore;
  /** Origins allowed to call the API from a browser; default `'*'` (credentials are bearer tokens, never cookies). */
  corsOrigins?: '*' | string[];
  /** The bot's account in activities; default `{id: 'switchboard', name: 'Switchboard'}`. */
  bot?: { id: string; name: string };
  /** Open WebSockets per conversation (a new one closes the oldest); default 4. */
  maxSocketsPerConversation?: number;
  /**
   * Per-address limit on `tokens/generate` and `conversations` (default `DEFAULT_RATE_LIMITS.directLine`);
   * `false`: none. Requests with the secret (the site's backend, minting for all its visitors) and
   * `conversations` with a valid token (which only ever opens its own one conversation) are not charged,
   * so the limit bites credential guessing and anonymous floods.
   */
  rateLimit?: RateLimiter | RateLimitOptions | false;
  /**
   * Limits on activity POSTs and uploads, per token and per conversation (default
   * `DEFAULT_ACTIVITY_RATE_LIMITS`, see post-limits.ts); `false`: none.
   */
  activityRateLimit?: ActivityRateLimitOptions | false;
}

/** The answer of `tokens/generate` and `tokens/refresh`. */
export interface DirectLineToken {
  conversationId: string;
  token: string;
  expires_in: number;
}

/** A send or continuation for a conversation this adapter never started. */
export class WebChatConversationNotFoundError extends Error {
  override name = 'WebChatConversationNotFoundError';
}

type Auth = { kind: 'secret' } | { kind: 'token'; claims: TokenClaims };

/**
 * A conversation as this adapter keeps it: also what the site said about its customer — the name, and
 * e-mail and phone from its backend (both stores keep the whole record).
 */
type Conversation = WebChatConversation & { userName?: string; userEmail?: string; userPhone?: string };

const profileOf = (c: Conversation): TokenProfile => ({ name: c.userName, email: c.userEmail, phone: c.userPhone });
/** Just the profile of a token's claims or a start body's user. */
const profileIn = ({ name, email, phone }: TokenProfile = {}): TokenProfile => ({ name, email, phone });
/** What was given now, and the stored value where nothing was. */
const withStored = (given: TokenProfile, stored: TokenProfile): TokenProfile => ({
  name: given.name ?? stored.name,
  email: given.email ?? stored.email,
  phone: given.phone ?? stored.phone,
});

/** Told when a customer starts typing in Web Chat (the agent console shows it); see {@link WebChatAdapter.onCustomerTyping}. */
export type CustomerTypingListener = (conversationId: string, activity: Partial<Activity>) => void;

interface Subscriber {
  ws: WebSocket;
  /** What the socket has been sent of the log. */
  sentWatermark: number;
  /** A read of the log is under way; `again` asks it to read once more when it ends. */
  pumping: boolean;
  again: boolean;
  alive: boolean;
}

/** Bus topic: a conversation's log grew (`{conversationId, watermark}`; no activity bodies). */
export const WEBCHAT_ACTIVITY_TOPIC = 'webchat.activity';
/** Bus topic: a typing activity, which is not stored (`{conversationId, activity}`). */
export const WEBCHAT_TYPING_TOPIC = 'webchat.typing';
/** Posts remembered per process for an immediate answer to a repeated clientActivityID. */
const RECENT_POSTS_KEPT = 10_000;

/** Above this many bytes queued on a socket the client is too slow: drop it, it reconnects with its watermark. */
const MAX_SOCKET_BUFFER = 1 << 20;
/** Activities per GET page and per replay frame. */
const PAGE_SIZE = 200;

const newId = () => randomBytes(16).toString('base64url');

/** The inbox a web chat adapter uses: the one passed in, or the file under `dataDir/webchat/inbox`. */
function inboxOf(options: WebChatAdapterOptions): Inbox {
  if (options.inbox) return options.inbox;
  if (!options.dataDir) throw new TypeError('WebChatAdapter: pass `dataDir`, or both `store` and `inbox` (where web chat history and posted activities are kept)');
  const clock = options.clock ?? systemClock;
  return new FileChannelJournal(path.join(options.dataDir, 'webchat', 'inbox'), () => clock.now().getTime());
}

/** Serves Direct Line 3.0 for Web Chat and runs the bot for each activity. */
export class WebChatAdapter extends TurnEngineAdapter {
  readonly channelId = 'webchat';
  readonly basePath: string;
  /** The bot's account (`from` of its activities). */
  readonly bot: { id: string; name: string };

  private readonly tokens: DirectLineTokens;
  private readonly store: WebChatConversationStore;
  private readonly bus: EventBus;
  private readonly ownsBus: boolean;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly tokenTtl: number;
  private readonly streamTtl: number;
  private readonly maxBody: number;
  private readonly maxSockets: number;
  private readonly limiter?: RateLimiter;
  private readonly postLimits: ActivityRateLimits;
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  /** Recent posts by dedupe key: a repeated clientActivityID is answered without a second echo. */
  private readonly recentPosts = new Map<string, Promise<string>>();
  /** Items accepted by this process and not yet run: their turn cannot have sent anything before. */
  private readonly acceptedHere = new Set<string>();
  /**
   * Only with the inbox it made itself (a file in `dataDir`) is this process the one that runs what it
   * accepts. With a shared inbox another instance may run, and die in the middle of, an item accepted
   * here (it held the conversation's lease), so `acceptedHere` would wrongly say "never run".
   */
  private readonly soleRunner: boolean;
  private readonly starting = new Map<string, Promise<{ conversation: Conversation; created: boolean }>>();
  private readonly typingListeners = new Set<CustomerTypingListener>();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private keepAliveTimer?: NodeJS.Timeout;
  private httpServer?: { on(e: 'upgrade', l: (...a: any[]) => void): unknown; off(e: 'upgrade', l: (...a: any[]) => void): unknown };
  private typingCounter = 0;
  private readonly mediaUrls: MediaUrls;

  constructor(private readonly options: WebChatAdapterOptions) {
    if (!options.store && !options.dataDir) throw new TypeError('WebChatAdapter: pass `store` or `dataDir` (where web chat history is kept)');
    super(inboxOf(options), options);
    this.soleRunner = !options.inbox;
    this.tokens = new DirectLineTokens(options.secret, this.clock);
    this.store = options.store ?? new FileConversationStore({ dir: path.join(options.dataDir!, 'webchat') });
    this.ownsBus = !options.bus;
    this.bus = options.bus ?? new LocalEventBus((topic, err) => this.logger.warn('web chat bus handler failed', { topic, error: (err as Error).message }));
    this.basePath = (options.basePath ?? '/v3/directline').replace(/\/+$/, '');
    this.tokenTtl = options.tokenTtlSeconds ?? 3600;
    this.streamTtl = options.streamUrlTtlSeconds ?? 300;
    this.maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.maxSockets = options.maxSocketsPerConversation ?? 4;
    this.limiter = makeLimiter(options.rateLimit, DEFAULT_RATE_LIMITS.directLine, this.clock);
    this.postLimits = new ActivityRateLimits(options.activityRateLimit, this.clock);
    this.bot = options.bot ?? { id: 'switchboard', name: 'Switchboard' };
    this.mediaUrls = new MediaUrls(options.secret, this.clock);
  }

  /**
   * A token for a new conversation, for the site's own backend to hand to its page (what
   * `tokens/generate` does, without an HTTP round trip). The conversation starts when the client
   * first uses the token. `user.name` (the site's name for its signed-in customer) is kept in the
   * token, so the customer's activities carry it as `from.name` and agents see it; so do `email` and
   * `phone`, which only the site's backend may vouch for (this call, or `tokens/generate` with the secret).
   */
  generateToken(user?: { id?: string } & TokenProfile): DirectLineToken {
    const conversationId = newId();
    const userId = user?.id ?? `dl_${newId()}`;
    return { conversationId, token: this.tokens.issue(conversationId, userId, this.tokenTtl, 'conversation', user), expires_in: this.tokenTtl };
  }

  /**
   * Calls `listener` when a customer types in Web Chat (a posted `typing` activity), on the instance
   * that received it; the handoff hub uses it to show "Customer is typing…" to the agent. Returns the
   * function that stops listening.
   */
  onCustomerTyping(listener: CustomerTypingListener): () => void {
    this.typingListeners.add(listener);
    return () => this.typingListeners.delete(listener);
  }

  // ---------------------------------------------------------------- HTTP

  mount(server: Server, logic: BotLogic): void {
    this.logic = logic;
    void this.start(logic).catch((err) => this.logger.error('could not open the web chat inbox', { error: (err as Error).message }));
    this.unsubscribe.push(
      this.bus.subscribe(WEBCHAT_ACTIVITY_TOPIC, (e: { conversationId: string; watermark: number }) => this.onActivity(e.conversationId, e.watermark)),
      this.bus.subscribe(WEBCHAT_TYPING_TOPIC, (e: { conversationId: string; activity: Partial<Activity> }) => this.onTyping(e.conversationId, e.activity)),
    );
    const p = this.basePath;

    server.pre((req, res, next) => {
      if ((req.path?.() ?? req.url ?? '').startsWith(p + '/')) this.cors(req, res);
      return next();
    });
    server.opts(`${p}/*`, async (_req: Request, res: Response) => {
      res.header('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.header('Access-Control-Allow-Headers', CORS_ALLOWED_HEADERS);
      res.header('Access-Control-Max-Age', '600');
      res.send(204);
    });

    server.post(`${p}/tokens/generate`, this.directLine(async (req: Request, res: Response) => {
      const auth = this.authenticateLimited(req, res, 'tokens/generate');
      if (auth.kind !== 'secret') throw new DirectLineError(403, 'Forbidden', 'tokens/generate needs the Direct Line secret (Authorization: Bearer <secret>), not a token');
      const body = await this.parse(req, startBodySchema, 'tokens/generate');
      res.json(200, this.generateToken(body.user));
    }));

    server.post(`${p}/tokens/refresh`, this.directLine(async (req: Request, res: Response) => {
      const auth = this.authenticate(req);
      if (auth.kind !== 'token') throw new DirectLineError(403, 'Forbidden', 'tokens/refresh refreshes a token; the secret never expires');
      const { conv, user } = auth.claims;
      res.json(200, { conversationId: conv, token: this.tokens.issue(conv, user, this.tokenTtl, 'conversation', profileIn(auth.claims)), expires_in: this.tokenTtl });
    }));

    server.post(`${p}/conversations`, this.directLine(async (req: Request, res: Response) => {
      const auth = this.authenticateLimited(req, res, 'conversations');
      const body = await this.parse(req, startBodySchema, 'conversations');
      if (auth.kind === 'token' && (body.user?.email || body.user?.phone)) {
        throw new DirectLineError(403, 'Forbidden', "conversations: user.email and user.phone are accepted only with the Direct Line secret (from the site's backend); a token already says who its user is");
      }
      const conversationId = auth.kind === 'token' ? auth.claims.conv : newId();
      const userId = auth.kind === 'token' ? auth.claims.user : (body.user?.id ?? `dl_${newId()}`);
      const given = profileIn(auth.kind === 'token' ? auth.claims : body.user);
      const { conversation, created } = await this.ensureStarted(conversationId, userId, req, body.locale, given);
      res.json(created ? 201 : 200, {
        conversationId,
        token: this.tokens.issue(conversationId, userId, this.tokenTtl, 'conversation', withStored(given, profileOf(conversation))),
        expires_in: this.tokenTtl,
        streamUrl: this.streamUrl(req, conversationId, userId),
      });
    }));

    server.get(`${p}/conversations/:conversationId`, this.directLine(async (req: Request, res: Response) => {
      const { conversation } = await this.conversationFor(req);
      const watermark = this.watermarkOf(req);
      res.json(200, {
        conversationId: conversation.id,
        token: this.tokens.issue(conversation.id, conversation.userId, this.tokenTtl, 'conversation', profileOf(conversation)),
        expires_in: this.tokenTtl,
        streamUrl: this.streamUrl(req, conversation.id, conversation.userId, watermark),
      });
    }));

    server.get(`${p}/conversations/:conversationId/activities`, this.directLine(async (req: Request, res: Response) => {
      const { conversation } = await this.conversationFor(req);
      const page = await this.store.read(conversation.id, this.watermarkOf(req), PAGE_SIZE);
      res.json(200, { activities: this.mediaUrls.sign(page.activities, this.basePath), watermark: String(page.watermark) });
    }));

    server.post(`${p}/conversations/:conversationId/activities`, this.directLinePost(async (req: Request, res: Response) => {
      const { conversation, auth } = await this.conversationFor(req);
      const raw = await readJsonBody(req, this.maxBody);
      const parsed = inboundActivitySchema.safeParse(raw);
      if (!parsed.success) throw badRequest('POST activities', parsed.error, raw);
      const id = await this.receive(conversation, parsed.data, auth, req);
      res.json(200, { id });
    }));

    server.post(`${p}/conversations/:conversationId/upload`, this.directLinePost(async (req: Request, res: Response) => {
      const { conversation, auth } = await this.conversationFor(req);
      res.json(200, await handleUpload(req, { conversationId: conversation.id, media: this.options.media, receive: (inbound) => this.receive(conversation, inbound, auth, req) }));
    }));

    server.get(`${p}/conversations/:conversationId/attachments/:mediaId`, this.directLine(async (req: Request, res: Response) => {
      const ctx = { conversationId: String(req.params?.conversationId), mediaId: String(req.params?.mediaId), media: this.options.media, urls: this.mediaUrls };
      await serveAttachment(req, res, { ...ctx, authorize: () => this.conversationFor(req) });
    }));

    this.mountUnknownRoutes(server);

    this.httpServer = server.server as unknown as NonNullable<WebChatAdapter['httpServer']>;
    this.httpServer.on('upgrade', this.onUpgrade);
    const keepAlive = this.options.keepAliveMs ?? 15_000;
    this.keepAliveTimer = setInterval(() => this.keepAlive(), keepAlive);
    this.keepAliveTimer.unref();
  }

  /** Closes sockets, lets running turns finish, then closes the inbox, the store and (when it made it) the bus. */
  override async close(): Promise<void> {
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.httpServer?.off('upgrade', this.onUpgrade);
    for (const off of this.unsubscribe.splice(0)) off();
    for (const subs of this.subscribers.values()) for (const s of subs) s.ws.close(1001, 'server shutting down');
    this.subscribers.clear();
    await new Promise<void>((r) => this.wss.close(() => r()));
    await super.close();
    await this.store.close();
    if (this.ownsBus) await this.bus.close();
  }

  private cors(req: Request, res: Response): void {
    const allowed = this.options.corsOrigins ?? '*';
    if (allowed === '*') {
      res.header('Access-Control-Allow-Origin', '*');
      return;
    }
    const origin = req.headers.origin;
    if (origin && allowed.includes(origin)) {
      res.header('Access-Control-Allow-Origin', origin);
      res.header('Vary', 'Origin');
    }
  }

  /** A Direct Line route: whatever it throws is answered as `{"error": {"code", "message"}}` (errors.ts). */
  private directLine(handler: DirectLineHandler): DirectLineHandler {
    return directLineRoute(handler, { logger: this.logger, clock: this.clock });
  }

  /**
   * A route that posts into a conversation (activities, uploads): {@link directLine}, charged to the
   * token's and the conversation's rate limits before the body is read. A request these limits cannot
   * place (no credential, a bad id, another conversation's token) is left to the route to refuse.
   */
  private directLinePost(handler: DirectLineHandler): DirectLineHandler {
    return this.directLine(async (req, res) => {
      const auth = this.authenticate(req);
      const id = conversationIdSchema.safeParse(req.params?.conversationId);
      if (id.success && (auth.kind === 'secret' || auth.claims.conv === id.data)) {
        const tokenId = auth.kind === 'token' ? (auth.claims.jti ?? `${auth.claims.conv}/${auth.claims.user}`) : undefined;
        this.postLimits.charge(id.data, tokenId, res, `POST ${req.path?.() ?? 'activities'}`.replace(this.basePath + '/', ''));
      }
      await handler(req, res);
    });
  }

  /**
   * Answers what no route under `basePath` takes in Direct Line's shape too: 405 with `Allow` when the
   * path is a route of another method, 404 otherwise. (Catch-all routes, because restify's router
   * answers these itself, and a second listener on its error events crashes the server.)
   */
  private mountUnknownRoutes(server: Server): void {
    const p = this.basePath;
    const routes = () =>
      Object.values(server.router.getDebugInfo() as Record<string, { method: string; path: string }>)
        .filter((r) => typeof r.path === 'string' && r.path.startsWith(p + '/') && !r.path.endsWith('/*'))
        .map((r) => ({ method: r.method.toUpperCase(), pattern: new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+')}$`) }));
    const unknown = this.directLine(async (req: Request, res: Response) => {
      const path = req.path?.() ?? '';
      const allowed = [...new Set(routes().filter((r) => r.pattern.test(path)).map((r) => r.method))];
      if (allowed.length === 0) throw new DirectLineError(404, 'NotFound', `${path} is not a Direct Line route`);
      res.header('Allow', [...allowed, 'OPTIONS'].join(', '));
      throw new DirectLineError(405, 'MethodNotAllowed', `${req.method} is not allowed on ${path}; use ${allowed.join(' or ')}`);
    });
    for (const method of ['get', 'post', 'put', 'patch', 'del', 'head'] as const) server[method](`${p}/*`, unknown);
  }

  private authenticate(req: IncomingMessage): Auth {
    const credential = bearerOf(req);
    if (!credential) throw new DirectLineError(401, 'BadArgument', 'Missing token or secret: send Authorization: Bearer <Direct Line token or secret>');
    if (this.tokens.isSecret(credential)) return { kind: 'secret' };
    const verified = this.tokens.verify(credential);
    if (!verified.ok) throw refusedToken(verified);
    if (verified.claims.scope !== 'conversation') throw new DirectLineError(403, 'Forbidden', 'a stream token only opens the WebSocket stream');
    return { kind: 'token', claims: verified.claims };
  }

  /** `authenticate`, charging the address's rate limit unless the credential is the secret or a valid token. */
  private authenticateLimited(req: Request, res: Response, where: string): Auth {
    let auth: Auth;
    try {
      auth = this.authenticate(req);
    } catch (err) {
      enforceRateLimit(this.limiter, req, res, where);
      throw err;
    }
    if (auth.kind === 'token' && where !== 'conversations') enforceRateLimit(this.limiter, req, res, where);
    return auth;
  }

  /** Authenticates a request for `:conversationId`: a token only for its own conversation. */
  private async conversationFor(req: Request): Promise<{ conversation: Conversation; auth: Auth }> {
    const auth = this.authenticate(req);
    const id = conversationIdSchema.safeParse(req.params?.conversationId);
    if (!id.success) throw badRequest('conversation', id.error);
    if (auth.kind === 'token') {
      if (auth.claims.conv !== id.data) throw new DirectLineError(403, 'Forbidden', 'this token belongs to another conversation');
      return { conversation: (await this.ensureStarted(id.data, auth.claims.user, req, undefined, profileIn(auth.claims))).conversation, auth };
    }
    const conversation: Conversation | undefined = await this.store.getConversation(id.data);
    if (!conversation?.startedAt) throw new DirectLineError(404, 'NotFound', `conversation ${id.data} does not exist; start one with POST ${this.basePath}/conversations`);
    return { conversation, auth };
  }

  private async parse<T>(req: IncomingMessage, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: any } }, where: string): Promise<T> {
    const raw = await readJsonBody(req, this.maxBody);
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw badRequest(where, parsed.error, raw);
    return parsed.data;
  }

  private watermarkOf(req: Request): number {
    const parsed = watermarkSchema.safeParse((req.query as Record<string, unknown> | undefined)?.watermark);
    if (!parsed.success) throw badRequest('watermark', parsed.error);
    return parsed.data;
  }

  private origin(req: IncomingMessage): string {
    if (this.options.publicUrl) return this.options.publicUrl.replace(/\/+$/, '');
    // Behind TRUST_PROXY hops the protocol and host the customer used (a TLS-terminating proxy: wss://).
    const { protocol, host } = requestInfo(req);
    return `${protocol}://${host}`;
  }

  private streamUrl(req: IncomingMessage, conversationId: string, userId: string, watermark?: number): string {
    const t = this.tokens.issue(conversationId, userId, this.streamTtl, 'stream');
    const ws = this.origin(req).replace(/^http/, 'ws');
    const wm = watermark ? `watermark=${watermark}&` : '';
    return `${ws}${this.basePath}/conversations/${conversationId}/stream?${wm}t=${t}`;
  }

  // ---------------------------------------------------------------- conversations and turns

  /**
   * Starts the conversation once: stores it and tells the bot (a conversationUpdate through the
   * inbox, so a crash cannot lose it), never again on reconnect.
   */
  private ensureStarted(id: string, userId: string, req: IncomingMessage, locale?: string, profile: TokenProfile = {}) {
    const inFlight = this.starting.get(id);
    if (inFlight) return inFlight;
    const work = (async () => {
      const existing: Conversation | undefined = await this.store.getConversation(id);
      if (existing?.startedAt) return { conversation: existing, created: false };
      const { name: userName, email: userEmail, phone: userPhone } = profile;
      const known = { ...(userName ? { userName } : {}), ...(userEmail ? { userEmail } : {}), ...(userPhone ? { userPhone } : {}) };
      const conversation: Conversation = existing ?? { id, userId, ...known, createdAt: this.clock.now().toISOString() };
      // Stored before the bot is told, so its welcome has a conversation to go to; `startedAt` only
      // once the update is in the inbox, so a crash in between tells the bot at the next start.
      if (!existing) await this.store.saveConversation(conversation);
      const update: Partial<Activity> = {
        type: ActivityTypes.ConversationUpdate,
        id: `${id}|start`,
        channelId: this.channelId,
        serviceUrl: this.origin(req) + this.basePath,
        conversation: { id } as Activity['conversation'],
        from: { id: conversation.userId, ...(conversation.userName ? { name: conversation.userName } : {}), role: 'user' } as Activity['from'],
        recipient: { ...this.bot, role: 'bot' } as Activity['recipient'],
        membersAdded: [{ ...this.bot, role: 'bot' }, { id: conversation.userId, name: conversation.userName ?? '', role: 'user' }] as Activity['membersAdded'],
        timestamp: this.clock.now().toISOString() as unknown as Date,
        locale: locale ?? conversation.locale,
      };
      await this.acceptOrUnavailable({ id: `${id}|start`, conversationId: id, at: this.clock.now().getTime(), activity: update, opensWindow: false });
      const started: Conversation = { ...conversation, startedAt: this.clock.now().toISOString(), ...(locale ? { locale } : {}) };
      await this.store.saveConversation(started);
      return { conversation: started, created: true };
    })();
    this.starting.set(id, work);
    work.finally(() => this.starting.delete(id)).catch(() => undefined);
    return work;
  }

  /**
   * Stores and echoes a user activity and accepts it into the inbox; the POST is answered after that,
   * and the bot runs on it in this conversation's order. A repeated `clientActivityID` answers with
   * the first POST's id and does not run the bot again.
   */
  private async receive(conversation: Conversation, inbound: Record<string, any>, auth: Auth, req: IncomingMessage): Promise<string> {
    const { channelData, from, deliveryMode: _deliveryMode, ...rest } = inbound;
    const cleanChannelData = channelData ? { ...channelData } : undefined;
    if (cleanChannelData) delete cleanChannelData.switchboard; // only the server marks agent-written activities
    const userId = auth.kind === 'token' ? auth.claims.user : (from?.id ?? conversation.userId);
    // The name the site passed (signed into the token) wins over whatever the page says.
    const userName = (auth.kind === 'token' ? auth.claims.name : undefined) ?? conversation.userName ?? from?.name;
    const base = {
      ...rest,
      channelId: this.channelId,
      serviceUrl: this.origin(req) + this.basePath,
      conversation: { id: conversation.id },
      from: { id: userId, ...(userName ? { name: userName } : {}), role: 'user' },
      recipient: { ...this.bot, role: 'bot' },
      timestamp: this.clock.now().toISOString(),
      ...(cleanChannelData ? { channelData: cleanChannelData } : {}),
    } as unknown as Partial<Activity>;
    this.options.metrics?.activityPosted(this.channelId, base.type);

    if (base.type === ActivityTypes.Typing) {
      // Shown to the conversation's other sockets, not stored and not a turn (not worth a durable write per keystroke).
      const typing = { ...base, id: this.typingId(conversation.id) };
      await this.publish(WEBCHAT_TYPING_TOPIC, { conversationId: conversation.id, activity: typing });
      for (const listener of this.typingListeners) {
        try {
          listener(conversation.id, typing);
        } catch (err) {
          this.logger.warn('a web chat typing listener failed', { error: (err as Error).message });
        }
      }
      return typing.id;
    }
    const clientId = typeof cleanChannelData?.clientActivityID === 'string' && cleanChannelData.clientActivityID ? cleanChannelData.clientActivityID : undefined;
    // Scoped to the conversation, so one client cannot suppress another conversation's messages.
    const key = clientId ? `${conversation.id}/${clientId}` : undefined;
    const earlier = key ? this.recentPosts.get(key) : undefined;
    if (earlier) {
      const id = await earlier.catch(() => undefined);
      if (id) return id;
    }
    const work = (async () => {
      const { activity, watermark } = await this.store.append(conversation.id, (position) => ({ ...base, id: activityId(conversation.id, position) }));
      await this.publish(WEBCHAT_ACTIVITY_TOPIC, { conversationId: conversation.id, watermark });
      const item: InboxItem = { id: key ?? activity.id!, conversationId: conversation.id, at: this.clock.now().getTime(), activity, opensWindow: true };
      if (this.soleRunner) this.acceptedHere.add(item.id);
      const result = await this.acceptOrUnavailable(item).catch((err) => {
        this.acceptedHere.delete(item.id);
        throw err;
      });
      if (!result.fresh) this.acceptedHere.delete(item.id);
      return result.fresh ? activity.id! : (result.activityId ?? activity.id!);
    })();
    if (key) {
      this.recentPosts.set(key, work);
      if (this.recentPosts.size > RECENT_POSTS_KEPT) this.recentPosts.delete(this.recentPosts.keys().next().value!);
      work.catch(() => this.recentPosts.get(key) === work && this.recentPosts.delete(key));
    }
    return work;
  }

  /** `accept` for one item; a storage failure answers 503, so the client may retry. */
  private async acceptOrUnavailable(item: InboxItem) {
    try {
      const [result] = await this.accept([item]);
      return result!;
    } catch (err) {
      this.logger.error('could not store a web chat activity; answering 503', { conversationId: item.conversationId, error: (err as Error).message });
      throw new DirectLineError(503, 'ServiceError', `web chat: the activity could not be stored (${(err as Error).message}); send it again`);
    }
  }

  /**
   * What an earlier run of this item's turn sent: the inbox's record, and the replies to it in the log
   * (the log is the truth of what the customer got, so a crash between an append and its record in
   * the inbox still does not append it twice). A conversation's welcome has no `replyToId` on Direct
   * Line (botbuilder leaves it out for conversationUpdate), so for it only the inbox's record counts.
   */
  protected override async earlierSends(item: InboxItem): Promise<TurnSend[]> {
    if (this.acceptedHere.delete(item.id)) return []; // accepted by this process and never run
    const sends = await this.inbox.sentInTurn(item.id);
    const known = new Set(sends.flatMap((x) => x.ids));
    const inboundId = item.activity.id ?? '';
    const position = Number(/\|(\d+)$/.exec(inboundId)?.[1] ?? -1);
    if (position < 0) return sends;
    for (let watermark = position + 1; ; ) {
      const page = await this.store.read(item.conversationId, watermark, PAGE_SIZE);
      if (page.activities.length === 0) break;
      for (const a of page.activities) {
        if (a.replyToId !== inboundId || known.has(a.id!) || a.from?.role === 'user' || agentMarkOf(a) || (a.type !== ActivityTypes.Message && a.type !== undefined)) continue;
        sends.push({ n: sends.length, h: contentHash(a), ids: [a.id!], at: Date.parse(String(a.timestamp)) || this.clock.now().getTime(), activity: summarizeActivity(a) });
      }
      watermark = page.watermark;
    }
    return sends;
  }

  private async publish(topic: string, payload: unknown): Promise<void> {
    try {
      await this.bus.publish(topic, payload);
    } catch (err) {
      // The log holds the activity; sockets catch up at the next event or when the client reconnects.
      this.logger.warn('could not publish a web chat event', { topic, error: (err as Error).message });
    }
  }

  // ---------------------------------------------------------------- BotAdapter

  /** Appends the new version under the same id; Web Chat replaces the activity it shows. */
  async updateActivity(context: TurnContext, activity: Partial<Activity>): Promise<ResourceResponse | void> {
    if (!activity.id) throw new TypeError('WebChatAdapter.updateActivity: activity.id is required (the id sendActivity returned)');
    return { id: await this.append(context, activity, activity.id) };
  }

  /** Appends a `messageDelete` with the deleted activity's id, which replaces it in Web Chat. */
  async deleteActivity(context: TurnContext, reference: Partial<ConversationReference>): Promise<void> {
    if (!reference.activityId) throw new TypeError('WebChatAdapter.deleteActivity: reference.activityId is required');
    await this.append(context, { type: ActivityTypes.MessageDelete, conversation: reference.conversation ?? context.activity.conversation }, reference.activityId);
  }

  /** A proactive turn needs a conversation this server started. */
  protected override async checkReference(reference: Partial<ConversationReference>): Promise<void> {
    const conversationId = reference.conversation?.id;
    if (!conversationId || !(await this.store.getConversation(conversationId))) {
      throw new WebChatConversationNotFoundError(`WebChatAdapter.continueConversation: conversation ${JSON.stringify(conversationId)} is unknown; use a reference from TurnContext.getConversationReference of a web chat turn`);
    }
  }

  protected override completeReference(reference: Partial<ConversationReference>): Partial<ConversationReference> {
    return { channelId: this.channelId, bot: { ...this.bot, role: 'bot' }, ...reference } as Partial<ConversationReference>;
  }

  /**
   * Delivers the bot's activities to the conversation's log and, through the bus, to its sockets;
   * `typing` goes to open sockets only (Direct Line does not keep typing for polling clients).
   */
  protected async deliver(context: TurnContext, activity: Partial<Activity>): Promise<string[]> {
    return [await this.append(context, activity)];
  }

  private async append(context: TurnContext, activity: Partial<Activity>, keepId?: string): Promise<string> {
    const conversationId = activity.conversation?.id ?? context.activity.conversation?.id;
    if (!conversationId || !(await this.store.getConversation(conversationId))) {
      throw new WebChatConversationNotFoundError(`WebChatAdapter.sendActivities: conversation ${JSON.stringify(conversationId)} is unknown to the web chat store`);
    }
    const agent = agentMarkOf(activity);
    const base = JSON.parse(
      JSON.stringify({
        ...activity,
        channelId: this.channelId,
        conversation: { ...(activity.conversation ?? {}), id: conversationId },
        // A human agent's reply shows the agent's name (Web Chat displays `from.name` where names are on).
        from: { ...this.bot, ...(activity.from ?? {}), ...(agent ? { name: agent.agentName } : {}), role: activity.from?.role ?? 'bot' },
        timestamp: this.clock.now(),
      }),
    ) as Partial<Activity>;
    if (base.type === ActivityTypes.Typing) {
      base.id = this.typingId(conversationId);
      await this.publish(WEBCHAT_TYPING_TOPIC, { conversationId, activity: base });
      return base.id;
    }
    const { activity: stored, watermark } = await this.store.append(conversationId, (position) => ({
      ...base,
      id: keepId ?? activityId(conversationId, position),
    }));
    await this.publish(WEBCHAT_ACTIVITY_TOPIC, { conversationId, watermark });
    return stored.id!;
  }

  private typingId(conversationId: string): string {
    return `${conversationId}|typing-${++this.typingCounter}`;
  }

  // ---------------------------------------------------------------- WebSocket stream

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const prefix = `${this.basePath}/conversations/`;
    if (!url.pathname.startsWith(prefix) || !url.pathname.endsWith('/stream')) return; // another plugin's socket
    const conversationId = url.pathname.slice(prefix.length, -'/stream'.length);
    const reject = (err: DirectLineError) => void socket.end(upgradeRefusal(err));
    const verified = this.tokens.verify(url.searchParams.get('t') ?? '');
    if (!verified.ok) return reject(refusedToken(verified, `get a fresh streamUrl with GET ${prefix}{id}`));
    if (verified.claims.conv !== conversationId) return reject(new DirectLineError(403, 'Forbidden', 'this stream token belongs to another conversation'));
    const wm = watermarkSchema.safeParse(url.searchParams.get('watermark') ?? undefined);
    if (!wm.success) return reject(new DirectLineError(400, 'BadArgument', 'watermark must be a number'));
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(conversationId, ws, wm.data));
  };

  private attach(conversationId: string, ws: WebSocket, watermark: number): void {
    const sub: Subscriber = { ws, sentWatermark: watermark, pumping: false, again: false, alive: true };
    let subs = this.subscribers.get(conversationId);
    if (!subs) this.subscribers.set(conversationId, (subs = new Set()));
    if (subs.size >= this.maxSockets) {
      const oldest = subs.values().next().value!;
      oldest.ws.close(4000, 'collision');
      subs.delete(oldest);
    }
    subs.add(sub);
    const closed = this.options.metrics?.streamOpened(this.channelId);
    ws.on('pong', () => (sub.alive = true));
    ws.on('message', () => (sub.alive = true)); // directlinejs pings with empty messages
    ws.on('close', () => {
      closed?.();
      subs!.delete(sub);
      if (subs!.size === 0 && this.subscribers.get(conversationId) === subs) this.subscribers.delete(conversationId);
    });
    ws.on('error', () => ws.terminate());
    void this.pump(conversationId, sub); // the history from the client's watermark, then whatever is new
  }

  /** The bus says a conversation's log grew: the sockets on it that have not seen that far read on. */
  private onActivity(conversationId: string, watermark: number): void {
    for (const sub of this.subscribers.get(conversationId) ?? []) if (watermark > sub.sentWatermark) void this.pump(conversationId, sub);
  }

  private onTyping(conversationId: string, activity: Partial<Activity>): void {
    for (const sub of this.subscribers.get(conversationId) ?? []) this.send(sub, { activities: [activity] });
  }

  /** Sends a socket the log from its watermark on, one read at a time, so frames never repeat or skip. */
  private async pump(conversationId: string, sub: Subscriber): Promise<void> {
    if (sub.pumping) {
      sub.again = true;
      return;
    }
    sub.pumping = true;
    try {
      do {
        sub.again = false;
        for (;;) {
          if (sub.ws.readyState !== WebSocket.OPEN) return;
          const page = await this.store.read(conversationId, sub.sentWatermark, PAGE_SIZE);
          if (page.activities.length === 0) break;
          sub.sentWatermark = page.watermark;
          this.send(sub, { activities: this.mediaUrls.sign(page.activities, this.basePath), watermark: String(page.watermark) });
        }
      } while (sub.again);
    } catch (err) {
      this.logger.error('web chat stream read failed', { conversationId, error: (err as Error).message });
      sub.ws.close(1011, 'read failed');
    } finally {
      sub.pumping = false;
    }
  }

  private send(sub: Subscriber, frame: unknown): void {
    if (sub.ws.readyState !== WebSocket.OPEN) return;
    if (sub.ws.bufferedAmount > MAX_SOCKET_BUFFER) {
      sub.ws.terminate();
      return;
    }
    sub.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  private keepAlive(): void {
    for (const subs of this.subscribers.values()) {
      for (const sub of subs) {
        if (!sub.alive) {
          sub.ws.terminate();
          continue;
        }
        sub.alive = false;
        sub.ws.ping();
        this.send(sub, ''); // Direct Line's keep-alive: an empty frame, which directlinejs ignores
      }
    }
  }
}

/**
 * The 403 for a token that does not verify: `TokenExpired` when it was valid once (Direct Line's code,
 * so a client knows to get a new one from the site), `BadArgument` when it never was.
 */
function refusedToken(verified: { reason: string; expired?: true }, remedy = 'get a new one from the site (tokens/refresh works until it expires)'): DirectLineError {
  if (verified.expired) return new DirectLineError(403, 'TokenExpired', `the Direct Line token has expired; ${remedy}`);
  return new DirectLineError(403, 'BadArgument', `Invalid token or secret: ${verified.reason}`);
}

/** Direct Line style ids: `<conversationId>|<position>`, unique per conversation and sortable. */
function activityId(conversationId: string, position: number): string {
  return `${conversationId}|${String(position).padStart(7, '0')}`;
}
