/**
 * The agent API of DESIGN.md and the console page at `/agent`. Every route but login needs
 * `Authorization: Bearer <token>` from `POST /api/agent/login`; bodies are checked with zod; errors are
 * JSON `{code, message}` (409s also name the `holder`, and a closed reply window says until when it was open).
 * Besides the routes of DESIGN.md: `GET /api/agent/knowledge?days=30` (the knowledge view: the folder's
 * state, a rejected edit's problems, what customers asked that it did not answer) and
 * `GET /api/agent/knowledge/search?q=` (the reply box), `POST /api/agent/conversations/{id}/typing` (the
 * customer sees "typing…"); the event stream also sends `knowledge` events and `typing` (the customer types).
 *
 * @example
 *   const { accounts, sessions } = await openAgentDirectory({ dataDir: config.dataDir, db });
 *   mountAgentApi(server, { hub, accounts, sessions, knowledge, insights, logger });
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage } from 'node:http';
import type { Request, Response, Server } from 'restify';
import { z } from 'zod';
import type { Activity } from 'botbuilder';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import type { KnowledgeSearcher } from '../knowledge/types.js';
import type { KnowledgeBase } from '../knowledge/knowledge-base.js';
import type { ReloadDiffs } from '../knowledge/reload-diff.js';
import { DEFAULT_GAPS_DAYS, MAX_GAPS_DAYS, knowledgeGaps, type InsightsReader } from '../bot/insights.js';
import { ChannelUnavailableError, slim, type AgentRef, type HandoffHub, type HubEvent } from '../handoff/hub.js';
import { ConflictError, ConversationNotFoundError, type ConversationRecord } from '../handoff/queue-store.js';
import { AGENT_CONSOLE_CSP } from '../security/headers.js';
import { MAX_JSON_DEPTH, jsonTooDeep } from '../security/json-depth.js';
import { DEFAULT_RATE_LIMITS, LoginThrottle, clientKey, makeLimiter, waitInWords, type LoginThrottleOptions, type RateLimiter, type RateLimitOptions } from '../security/rate-limit.js';
import { isUnavailable } from '../storage/postgres/database.js';
import { ANALYTICS_CHANNELS, MAX_REPORT_DAYS, type AnalyticsReporter } from '../analytics/index.js';
import type { AgentAccountStore, PublicAgent } from './accounts.js';
import type { CsatStore } from '../bot/csat-store.js';
import { MEDIA_ID_PATTERN, type MediaStore } from '../media/store.js';
import { mediaOfTranscript, sendMedia } from '../media/serve.js';
import { MAX_AGENT_ATTACHMENTS } from '../media/outbound.js';
import { attachmentRefusal, replyAttachments, storeAgentAttachment } from './attachments.js';
import { MAX_PASSWORD_LENGTH } from './password-policy.js';
import { consoleActivity, deliveryStatusOf } from './transcript-view.js';
import { AgentSessions, DEFAULT_SESSION_TTL_MS, SessionRefusedError, type AgentSession, type AgentSessionStore, type SessionEnd } from './sessions.js';

/** Largest JSON body the agent API reads. */
export const MAX_AGENT_BODY_BYTES = 64 * 1024;
/** Most recent conversations listed for `bot` and `resolved` (the queue itself is always complete). */
export const MAX_LISTED = 200;
/** SSE keep-alive comment interval (proxies close idle streams). */
export const SSE_KEEPALIVE_MS = 15_000;
/** How often an open event stream re-checks its session, so a removed agent or a changed password ends it. */
export const SSE_SESSION_RECHECK_MS = 5_000;
/** Problems of a rejected knowledge reload the console is sent (the count says how many there are in all). */
export const MAX_KNOWLEDGE_PROBLEMS = 50;

/** Knowledge whose state the console can show and follow live: a `KnowledgeBase`. */
export type WatchedKnowledge = KnowledgeSearcher & Pick<KnowledgeBase, 'summary' | 'on'>;

const isWatched = (k: KnowledgeSearcher | undefined): k is WatchedKnowledge => typeof (k as Partial<WatchedKnowledge> | undefined)?.summary === 'function';

export interface AgentApiOptions {
  hub: HandoffHub;
  accounts: AgentAccountStore;
  /**
   * For the reply box's search over knowledge answers. A `KnowledgeBase` also gives the console its
   * knowledge view: the state of the folder, and a live banner when an edit is rejected.
   */
  knowledge?: KnowledgeSearcher | WatchedKnowledge;
  /** The bot's records (`InsightsStore`): the knowledge view lists what customers asked that the knowledge did not answer. */
  insights?: InsightsReader;
  /** Where sessions live (`openAgentDirectory`); default: in memory, checked against `accounts`, lost on restart. */
  sessions?: AgentSessionStore;
  sessionTtlMs?: number;
  /** How often an open event stream re-checks its session (default `SSE_SESSION_RECHECK_MS`). */
  sessionRecheckMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** Per-address limit on `POST /api/agent/login` (default `DEFAULT_RATE_LIMITS.login`); `false`: none. */
  loginRateLimit?: RateLimiter | RateLimitOptions | false;
  /**
   * Limits on wrong passwords per name and address and per name overall (`LoginThrottle`; its options
   * or an instance shared by several mounts); `false`: none. Default `DEFAULT_LOGIN_THROTTLE`.
   */
  loginThrottle?: LoginThrottle | Partial<LoginThrottleOptions> | false;
  /** The analytics report (`GET /api/agent/analytics`); without it the route answers 404. */
  analytics?: AnalyticsReporter;
  /** Satisfaction surveys: a conversation's view carries its latest one as `csat`. */
  csat?: Pick<CsatStore, 'latest'>;
  /** Files (`backend.media`): agents attach them to replies. */
  media?: MediaStore;
  /** What the last knowledge edit changed for saved customer questions: the knowledge view and `knowledge` events carry it as `changes`. */
  knowledgeChanges?: Pick<ReloadDiffs, 'latest' | 'on'>;
}

/** The 401 message for each way a session ends (the response also carries the `reason`). */
const SESSION_ENDED: Record<SessionEnd, string> = {
  unknown: 'agent API: unknown token (signed out, or never issued); sign in with POST /api/agent/login',
  expired: 'agent API: the session has expired; sign in again',
  removed: 'agent API: the session has ended because this agent account was removed; ask an administrator (npm run agents -- add)',
  'password-changed': 'agent API: the session has ended because the password was changed; sign in again with the new password',
};

/** An HTTP error with a JSON body. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const loginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(MAX_PASSWORD_LENGTH) });
const messageBody = z
  .object({ text: z.string().trim().max(4096).default(''), attachments: z.array(z.string().regex(MEDIA_ID_PATTERN, 'not a media id')).max(MAX_AGENT_ATTACHMENTS).default([]) })
  .refine((b) => b.text !== '' || b.attachments.length > 0, { message: 'write a text, attach a file (attachments: [mediaId]), or both', path: ['text'] });
const noteBody = z.object({ text: z.string().trim().min(1).max(4096) });
const transferBody = z
  .object({ agentId: z.string().min(1).optional(), team: z.string().min(1).nullable().optional() })
  .refine((b) => (b.agentId !== undefined) !== (b.team !== undefined), { message: 'give exactly one of agentId or team (null: back to the general queue)' });
const statusQuery = z.enum(['queued', 'assigned', 'bot', 'resolved', 'active']).default('active');
const daysError = `must be a whole number of days from 1 to ${MAX_GAPS_DAYS}`;
const analyticsDaysError = `must be a whole number of days from 1 to ${MAX_REPORT_DAYS}`;
const analyticsQuery = z.object({
  days: z.string().regex(/^[0-9]{1,9}$/, analyticsDaysError).transform(Number).refine((d) => d >= 1 && d <= MAX_REPORT_DAYS, analyticsDaysError).default(30),
  channel: z.enum(ANALYTICS_CHANNELS).optional(),
});
const knowledgeQuery = z.object({
  days: z.string().regex(/^[0-9]{1,9}$/, daysError).transform(Number).refine((d) => d >= 1 && d <= MAX_GAPS_DAYS, daysError).default(DEFAULT_GAPS_DAYS),
});

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_AGENT_BODY_BYTES) throw new HttpError(413, 'PayloadTooLarge', `agent API: body over ${MAX_AGENT_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks).toString('utf8');
  if (!raw.trim()) return {};
  if (jsonTooDeep(raw)) throw new HttpError(400, 'BadRequest', `agent API: the body nests deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(raw);
  } catch {
    throw new HttpError(400, 'BadRequest', 'agent API: the body is not valid JSON');
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new HttpError(400, 'BadRequest', `agent API ${where}: ${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return r.data;
}

/** Maps errors to status codes; platform refusals keep their own name and message. */
function toHttp(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const refused = attachmentRefusal(err);
  if (refused) return new HttpError(refused.status, refused.code, refused.message);
  const e = err as Error & { code?: unknown };
  if (err instanceof ConflictError) return new HttpError(409, 'Conflict', err.message, err.holder ? { holder: err.holder } : {});
  if (err instanceof ConversationNotFoundError) return new HttpError(404, 'NotFound', err.message);
  if (err instanceof ChannelUnavailableError) return new HttpError(503, 'ChannelUnavailable', err.message);
  if (isUnavailable(err)) return new HttpError(503, 'DatabaseUnavailable', 'agent API: the database is unavailable; try again in a moment');
  if (e?.name === 'ReplyWindowClosedError') {
    // adapters/shared/errors.ts; matched by name so the agent API does not depend on the Meta adapters.
    const closedAt = (e as { closedAt?: Date }).closedAt;
    return new HttpError(409, 'ReplyWindowClosed', e.message, { closedAt: closedAt instanceof Date ? closedAt.toISOString() : undefined });
  }
  if (e?.name && /Graph|Platform|Send|Delivery/i.test(e.name)) return new HttpError(502, e.name, e.message, { platformCode: e.code });
  return new HttpError(500, 'InternalServerError', 'agent API: unexpected error (see the server log)');
}

/** Longest last-message preview a queue row is sent (the console shortens it further to fit). */
export const MAX_PREVIEW_CHARS = 160;

/**
 * Who the customer is, in words an agent can say: `label` is the title (the name the channel or the
 * site gave, else the WhatsApp number, else "Web visitor · 7KQ2" — never a raw `dl_…` id), `contact`
 * the number or email the agent can see as well.
 */
export interface CustomerView {
  id: string;
  name?: string;
  label: string;
  contact?: string;
}

/** The conversation as the console shows it. */
export interface ConversationView extends Omit<ConversationRecord, 'reference' | 'version' | 'customer'> {
  customer: CustomerView;
  position?: number;
  replyWindow?: { botClosesAt?: string; agentClosesAt?: string; lastCustomerMessageAt?: string };
  /** The customer's last message, as plain text (shortened). */
  preview?: { text: string; at?: string };
}

// ITU-T E.164 country codes of one and two digits; every other code has three.
const ONE_DIGIT_CODES = new Set(['1', '7']);
const TWO_DIGIT_CODES = new Set('20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98'.split(' '));

/**
 * A WhatsApp id (the number in international format, digits only) as people write it:
 * `4915123456789` → `+49 151 23456789`, `14155550100` → `+1 415 555 0100`. Anything else: undefined.
 */
export function formatPhoneNumber(digits: string): string | undefined {
  if (!/^[1-9][0-9]{6,14}$/.test(digits)) return undefined;
  const ccLength = ONE_DIGIT_CODES.has(digits[0]!) ? 1 : TWO_DIGIT_CODES.has(digits.slice(0, 2)) ? 2 : 3;
  const cc = digits.slice(0, ccLength);
  const rest = digits.slice(ccLength);
  if (cc === '1' && rest.length === 10) return `+1 ${rest.slice(0, 3)} ${rest.slice(3, 6)} ${rest.slice(6)}`;
  return `+${cc} ${rest.slice(0, 3)} ${rest.slice(3)}`.trimEnd();
}

/** A short, stable, readable tag for an id without a name (same id, same tag; no look-alike letters). */
function shortTag(id: string): string {
  const alphabet = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
  const hash = createHash('sha256').update(id).digest();
  return Array.from(hash.subarray(0, 4), (b) => alphabet[b % alphabet.length]).join('');
}

const ANONYMOUS: Record<string, string> = { webchat: 'Web visitor', messenger: 'Messenger user', whatsapp: 'WhatsApp user' };

/** How the console names the customer of `r` (see `CustomerView`). */
export function customerView(r: Pick<ConversationRecord, 'channelId' | 'customer' | 'summary'>): CustomerView {
  const name = r.customer.name?.trim() || undefined;
  const phone = r.channelId === 'whatsapp' ? formatPhoneNumber(r.customer.id) : undefined;
  const email = (r.summary as { emails?: string[] } | undefined)?.emails?.[0];
  const label = name ?? phone ?? `${ANONYMOUS[r.channelId] ?? 'Customer'} · ${shortTag(r.customer.id)}`;
  const contact = [phone, email].filter((x) => x && x !== label).join(' · ') || undefined;
  return { id: r.customer.id, ...(name ? { name } : {}), label, ...(contact ? { contact } : {}) };
}

/** A customer's message (not the bot's, not an agent's, not an event) with text. */
const isCustomerText = (a: Partial<Activity>, customerId: string): boolean =>
  a.type === 'message' && !!a.text?.trim() && a.from?.role !== 'bot' && !a.channelData?.switchboard?.agent && (a.from?.id === customerId || a.from?.role === 'user');

const previewOf = (a: Partial<Activity>): { text: string; at?: string } => {
  const text = a.text!.replace(/\s+/g, ' ').trim();
  const time = a.timestamp ? new Date(a.timestamp) : undefined;
  const at = time && !Number.isNaN(time.getTime()) ? time.toISOString() : undefined;
  return { text: text.length > MAX_PREVIEW_CHARS ? `${text.slice(0, MAX_PREVIEW_CHARS - 1)}…` : text, ...(at ? { at } : {}) };
};

/** What a mounted agent API holds open, for shutdown. */
export interface AgentApi {
  /**
   * Ends every open event stream (and any opened after), so a server that stops does not wait for the
   * consoles: they reconnect by themselves (`retry:`) to the next instance, or once it is back.
   */
  close(): void;
}

/** Adds the agent API routes and the console page to `server`. */
export function mountAgentApi(server: Server, options: AgentApiOptions): AgentApi {
  const { hub, accounts, knowledge, insights } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const sessions = options.sessions ?? new AgentSessions({ ttlMs: options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS, clock, accounts });
  const publicDir = fileURLToPath(new URL('./public/', import.meta.url));

  // The last customer message of each conversation: read from the transcript once per change of the
  // record, and kept current by the customer messages the hub passes to the consoles.
  const previews = new Map<string, { preview?: { text: string; at?: string }; updatedAt?: string }>();
  type Preview = { text: string; at?: string };
  const later = (a?: Preview, b?: Preview): Preview | undefined => (!b || (a && (a.at ?? '') >= (b.at ?? '')) ? a : b);
  // Message events carry customer messages (while a person owns the conversation) and agents' replies.
  const stopPreviews = hub.subscribe((e) => {
    if (e.type !== 'message' || !isCustomerText({ ...e.activity, from: { role: 'user', ...e.activity.from } as Activity['from'] }, '')) return;
    const known = previews.get(e.conversationId);
    previews.set(e.conversationId, { ...known, preview: later(previewOf(e.activity), known?.preview) });
    if (previews.size > 10_000) previews.delete(previews.keys().next().value!); // bounded memory
  });
  server.server?.on('close', stopPreviews);
  async function preview(r: ConversationRecord): Promise<{ text: string; at?: string } | undefined> {
    const known = previews.get(r.id);
    if (known && known.updatedAt === r.updatedAt) return known.preview;
    const last = (await hub.transcript(r).catch(() => [])).filter((a) => a.conversation?.id === r.id && isCustomerText(a, r.customer.id)).at(-1);
    const found = later(last && previewOf(last), previews.get(r.id)?.preview);
    previews.set(r.id, { preview: found, updatedAt: r.updatedAt });
    return found;
  }

  async function view(r: ConversationRecord, queue?: ConversationRecord[]): Promise<ConversationView> {
    const { reference: _ref, version: _v, ...rest } = r;
    const q = queue ?? (r.owner === 'queued' ? await hub.list({ owner: 'queued' }) : []);
    const i = q.findIndex((x) => x.id === r.id);
    const [w, last] = await Promise.all([hub.replyWindow(r), preview(r)]);
    return {
      ...rest,
      customer: customerView(r),
      position: i < 0 ? undefined : i + 1,
      replyWindow: w && { botClosesAt: w.botClosesAt?.toISOString(), agentClosesAt: w.agentClosesAt?.toISOString(), lastCustomerMessageAt: w.lastCustomerMessageAt?.toISOString() },
      ...(last ? { preview: last } : {}),
    };
  }

  const bearerToken = (req: Request): string => {
    const header = req.headers.authorization ?? '';
    return header.startsWith('Bearer ') ? header.slice(7).trim() : '';
  };

  async function bearer(req: Request): Promise<AgentSession> {
    const token = bearerToken(req);
    if (!token) throw new HttpError(401, 'Unauthorized', 'agent API: missing Authorization: Bearer <token>; sign in with POST /api/agent/login');
    const check = await sessions.check(token);
    if (!check.ok) throw new HttpError(401, 'Unauthorized', SESSION_ENDED[check.reason], { reason: check.reason });
    return check.session;
  }

  const agentRef = (a: PublicAgent): AgentRef => ({ id: a.id, name: a.name, teams: a.teams, capacity: a.capacity });

  /** Wraps a JSON route: auth (unless public), errors as JSON. A handler that answers itself (a file) returns nothing. */
  function route(handler: (req: Request, res: Response, session: AgentSession) => Promise<[number, unknown] | void>, isPublic = false) {
    return async (req: Request, res: Response) => {
      try {
        const session = isPublic ? (undefined as unknown as AgentSession) : await bearer(req);
        const answer = await handler(req, res, session);
        if (answer) res.json(answer[0], answer[1]);
      } catch (err) {
        const h = toHttp(err);
        if (h.status >= 500) logger.error('agent API failed', { path: req.path(), error: (err as Error).message });
        res.json(h.status, { code: h.code, message: h.message, ...h.extra });
      }
    };
  }

  const id = (req: Request) => String(req.params.id);

  const loginLimiter = makeLimiter(options.loginRateLimit, DEFAULT_RATE_LIMITS.login, clock);
  const throttle = options.loginThrottle === false ? undefined : options.loginThrottle instanceof LoginThrottle ? options.loginThrottle : new LoginThrottle({ clock, ...options.loginThrottle });
  server.post(
    '/api/agent/login',
    route(async (req, res) => {
      const address = clientKey(req);
      const limited = loginLimiter?.take(address);
      if (limited && !limited.ok) {
        res.header('Retry-After', String(limited.retryAfterSeconds));
        throw new HttpError(429, 'TooManyRequests', `Sign-in paused: too many attempts from this address; try again in ${waitInWords(limited.retryAfterSeconds)}.`, { retryAfterSeconds: limited.retryAfterSeconds });
      }
      const body = parse(loginBody, await readJson(req), 'login');
      const name = body.username.trim().toLowerCase();
      const verdict = throttle?.begin(name, address) ?? { ok: true };
      if (!verdict.ok) {
        res.header('Retry-After', String(verdict.retryAfterSeconds));
        const wait = waitInWords(verdict.retryAfterSeconds);
        const message =
          verdict.limit === 'address'
            ? `Sign-in paused: too many wrong passwords for ${name} from this address; try again in ${wait}.`
            : `Sign-in slowed down: there have been many wrong passwords for ${name} from other addresses; try again in ${wait}, or from where you usually sign in.`;
        throw new HttpError(429, 'TooManyRequests', message, { retryAfterSeconds: verdict.retryAfterSeconds });
      }
      let verified;
      try {
        verified = await accounts.authenticate(body.username, body.password);
      } catch (err) {
        throttle?.abandoned(name, address); // no password was checked (e.g. the database is unavailable)
        throw err;
      }
      if (!verified) throw new HttpError(401, 'Unauthorized', 'agent API: wrong name or password');
      throttle?.succeeded(name, address);
      const agent = verified.agent;
      const { token, expiresAt } = await sessions.create(agent, verified.stamp).catch((err: unknown) => {
        throw err instanceof SessionRefusedError ? new HttpError(401, 'Unauthorized', 'agent API: the account changed while signing in; sign in again') : err;
      });
      logger.info('agent signed in', { agentId: agent.id });
      return [200, { token, expiresAt: expiresAt.toISOString(), agent }];
    }, true),
  );

  server.post(
    '/api/agent/logout',
    route(async (req) => {
      await sessions.revoke(bearerToken(req));
      return [200, { ok: true }];
    }),
  );

  server.get('/api/agent/me', route(async (_req, _res, s) => [200, { agent: s.agent, expiresAt: s.expiresAt.toISOString() }]));

  server.get(
    '/api/agent/agents',
    route(async () => {
      const online = new Set(hub.onlineAgents());
      return [200, { agents: (await accounts.list()).map((a) => ({ ...a, online: online.has(a.id) })) }];
    }),
  );

  server.get(
    '/api/agent/conversations',
    route(async (req) => {
      const status = parse(statusQuery, (req.query as Record<string, unknown> | undefined)?.status, 'conversations ?status');
      const queue = await hub.list({ owner: 'queued' });
      let rows: ConversationRecord[];
      if (status === 'active') rows = [...queue, ...(await hub.list({ owner: 'assigned' }))];
      else if (status === 'queued') rows = queue;
      else if (status === 'resolved') rows = (await hub.list({ resolved: true })).slice(0, MAX_LISTED);
      else if (status === 'bot') rows = (await hub.list({ owner: 'bot' })).slice(0, MAX_LISTED);
      else rows = await hub.list({ owner: status });
      return [200, { conversations: await Promise.all(rows.map((r) => view(r, queue))), agentsOnline: hub.onlineAgents() }];
    }),
  );

  server.get(
    '/api/agent/conversations/:id',
    route(async (req) => {
      const record = await hub.mustGet(id(req));
      const transcript = await hub.transcript(record);
      const rejected = record.rejectedEntryIds.map((entryId) => ({ id: entryId, question: knowledge?.get(entryId)?.question }));
      const failures = (await hub.deliveryFailures(record)).map((f) => ({ at: f.at, code: f.code, message: f.message, text: f.activity?.text }));
      return [
        200,
        {
          conversation: await view(record),
          transcript: transcript.map(consoleActivity),
          context: { reason: record.reason, question: record.question, rejected, summary: record.summary, team: record.team, priority: record.priority },
          deliveryFailures: failures,
          deliveryStatus: await deliveryStatusOf(hub, record),
          csat: (await options.csat?.latest(record.id)) ?? null,
          media: options.media ? await mediaOfTranscript(options.media, transcript) : [],
        },
      ];
    }),
  );

  // A stored file (a customer's photo, an agent's attachment), for agents only; see src/media/serve.ts for the headers.
  server.get(
    '/api/agent/media/:id',
    route(async (req, res) => {
      const found = await options.media?.get(id(req));
      if (!found) throw new HttpError(404, 'NotFound', `agent API: no file ${id(req)}`);
      sendMedia(res, found);
    }),
  );

  server.post(
    '/api/agent/conversations/:id/claim',
    route(async (req, _res, s) => [200, { conversation: await view(await hub.claim(id(req), agentRef(s.agent))) }]),
  );

  server.post(
    '/api/agent/conversations/:id/messages',
    route(async (req, _res, s) => {
      const body = parse(messageBody, await readJson(req), 'messages');
      const attachments = await replyAttachments(options.media, await hub.mustGet(id(req)), body.attachments);
      const activity = await hub.sendAgentMessage(id(req), agentRef(s.agent), body.text, attachments);
      return [201, { activity: slim(activity as Partial<Activity>) }];
    }),
  );

  // One file for a reply (multipart, field `file`): stored and checked against the customer's channel; `{mediaId}`.
  server.post(
    '/api/agent/conversations/:id/attachments',
    route(async (req, _res, s) => {
      const record = await hub.mustGet(id(req));
      if (record.owner !== 'assigned' || record.agentId !== s.agent.id) {
        req.resume();
        throw new HttpError(409, 'Conflict', `agent API attachments: claim conversation ${record.id} before attaching files to a reply`);
      }
      const stored = await storeAgentAttachment(req, options.media, record);
      return [201, { mediaId: stored.id, contentType: stored.contentType, name: stored.name, size: stored.size }];
    }),
  );

  // The holder is writing: the customer sees "typing…" (sent at most every few seconds; `sent: false` when skipped).
  server.post(
    '/api/agent/conversations/:id/typing',
    route(async (req, _res, s) => [200, { sent: await hub.sendAgentTyping(id(req), agentRef(s.agent)) }]),
  );

  server.post(
    '/api/agent/conversations/:id/resolve',
    route(async (req, _res, s) => [200, { conversation: await view(await hub.resolve(id(req), agentRef(s.agent))) }]),
  );

  server.post(
    '/api/agent/conversations/:id/transfer',
    route(async (req, _res, s) => {
      const body = parse(transferBody, await readJson(req), 'transfer');
      let target: AgentRef | undefined;
      if (body.agentId) {
        const account = await accounts.get(body.agentId);
        if (!account) throw new HttpError(404, 'NotFound', `agent API transfer: no agent ${JSON.stringify(body.agentId)}; see GET /api/agent/agents`);
        target = agentRef(account);
      }
      return [200, { conversation: await view(await hub.transfer(id(req), agentRef(s.agent), { agent: target, team: body.team ?? undefined })) }];
    }),
  );

  server.post(
    '/api/agent/conversations/:id/notes',
    route(async (req, _res, s) => {
      const body = parse(noteBody, await readJson(req), 'notes');
      return [201, { conversation: await view(await hub.addNote(id(req), agentRef(s.agent), body.text)) }];
    }),
  );

  // The knowledge view: the folder's state (null without a KnowledgeBase) and what it did not cover (null without insights).
  server.get(
    '/api/agent/knowledge',
    route(async (req) => {
      const { days } = parse(knowledgeQuery, req.query ?? {}, 'knowledge');
      const gaps = insights && (await knowledgeGaps(insights, { days, clock }));
      return [
        200,
        {
          status: isWatched(knowledge) ? knowledge.summary(MAX_KNOWLEDGE_PROBLEMS) : null,
          changes: options.knowledgeChanges?.latest() ?? null,
          gaps: gaps ? { ...gaps, unhelpful: gaps.unhelpful.map((f) => ({ ...f, question: knowledge?.get(f.entryId)?.question })) } : null,
        },
      ];
    }),
  );

  server.get(
    '/api/agent/analytics',
    route(async (req) => {
      const query = parse(analyticsQuery, req.query ?? {}, 'analytics');
      if (!options.analytics) throw new HttpError(404, 'NotFound', 'agent API analytics: this server records no analytics');
      return [200, await options.analytics(query)];
    }),
  );

  server.get(
    '/api/agent/knowledge/search',
    route(async (req) => {
      const q = String((req.query as Record<string, unknown> | undefined)?.q ?? '').slice(0, 500);
      const matches = q && knowledge ? knowledge.search(q, { limit: 5 }) : [];
      return [200, { matches: matches.map((m) => ({ id: m.entry.id, question: m.entry.question, answer: m.entry.answer, confidence: m.confidence })) }];
    }),
  );

  // Server-sent events: one JSON payload per queue or conversation change. The view of a change is
  // computed once and shared by every connected console.
  const rendered = new WeakMap<HubEvent, Promise<string>>();
  const render = (e: HubEvent): Promise<string> => {
    let p = rendered.get(e);
    if (!p) {
      p = (async () => {
        if (e.type === 'conversation') return `event: conversation\ndata: ${JSON.stringify({ change: e.change, conversation: await view(e.conversation) })}\n\n`;
        if (e.type === 'message') return `event: message\ndata: ${JSON.stringify({ conversationId: e.conversationId, activity: e.activity })}\n\n`;
        if (e.type === 'typing') return `event: typing\ndata: ${JSON.stringify({ conversationId: e.conversationId, from: e.from })}\n\n`;
        return `event: presence\ndata: ${JSON.stringify({ agentsOnline: e.agentsOnline })}\n\n`;
      })();
      rendered.set(e, p);
    }
    return p;
  };

  // A knowledge reload, or a rejected one, goes to every console: the banner appears and goes without a refresh.
  const knowledgeStreams = new Set<(text: string) => void>();
  if (isWatched(knowledge)) {
    const push = (change: 'reloaded' | 'rejected' | 'changes') => () => {
      const changes = options.knowledgeChanges?.latest() ?? null;
      const text = `event: knowledge\ndata: ${JSON.stringify({ change, status: knowledge.summary(MAX_KNOWLEDGE_PROBLEMS), changes })}\n\n`;
      for (const write of knowledgeStreams) write(text);
    };
    knowledge.on('reloaded', push('reloaded'));
    knowledge.on('rejected', push('rejected'));
    options.knowledgeChanges?.on('computed', push('changes')); // the replay of the saved questions, after a reload
  }

  // The session is checked first (asynchronously), then the stream handler runs with it.
  const streamSessions = new WeakMap<Request, AgentSession>();
  const authenticateStream = (req: Request, res: Response, next: (err?: unknown) => void) => {
    bearer(req).then(
      (session) => {
        streamSessions.set(req, session);
        next();
      },
      (err) => {
        const h = toHttp(err);
        res.json(h.status, { code: h.code, message: h.message, ...h.extra });
        next(false);
      },
    );
  };
  // Open streams' `end`, so shutdown can end them (see `AgentApi.close`).
  const openStreams = new Set<() => void>();
  let streamsClosed = false;
  server.get('/api/agent/events', authenticateStream, (req: Request, res: Response, next: (err?: unknown) => void) => {
    const session = streamSessions.get(req)!;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: 3000\nevent: hello\ndata: ${JSON.stringify({ agent: session.agent })}\n\n`);
    const end = () => res.end();
    openStreams.add(end);
    if (streamsClosed) end();
    // Events are written in the order they happened, even though rendering is asynchronous.
    let chain = Promise.resolve();
    const send = (text: string | Promise<string>) => {
      chain = chain.then(async () => {
        if (!res.writableEnded) res.write(await text);
      }).catch((err) => logger.warn('SSE write failed', { error: (err as Error).message }));
    };
    const unsubscribe = hub.subscribe((e) => send(render(e)));
    knowledgeStreams.add(send);
    const release = hub.agentConnected(session.agent.id);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), SSE_KEEPALIVE_MS);
    const expiry = setTimeout(() => res.end(), Math.max(0, session.expiresAt.getTime() - clock.now().getTime()));
    // A removal or password change (by `npm run agents`, another instance) ends the stream at the next re-check;
    // the console's reconnect then gets the 401 that says why.
    const token = bearerToken(req);
    const recheck = setInterval(() => {
      sessions.check(token).then(
        (c) => !c.ok && res.end(),
        (err) => logger.warn('SSE session re-check failed', { error: (err as Error).message }),
      );
    }, options.sessionRecheckMs ?? SSE_SESSION_RECHECK_MS);
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      next(false); // the stream is over; restify's chain ends here
      clearInterval(keepAlive);
      clearTimeout(expiry);
      clearInterval(recheck);
      unsubscribe();
      knowledgeStreams.delete(send);
      openStreams.delete(end);
      release();
    };
    req.on('close', stop);
    res.on('close', stop);
  });

  // The console: static files, no build step.
  const files: Record<string, string> = {
    'index.html': 'text/html; charset=utf-8',
    'app.js': 'text/javascript; charset=utf-8',
    'markdown.js': 'text/javascript; charset=utf-8',
    'analytics.js': 'text/javascript; charset=utf-8',
    'media.js': 'text/javascript; charset=utf-8',
    'chart.umd.js': 'text/javascript; charset=utf-8',
    'marked.js': 'text/javascript; charset=utf-8',
    'style.css': 'text/css; charset=utf-8',
    'favicon.svg': 'image/svg+xml',
  };
  // marked's browser ES module build straight from node_modules (no CDN): the console renders the bot's Markdown with it.
  // Chart.js's UMD build likewise, for the analytics view's charts.
  const outside: Record<string, string> = {
    'marked.js': createRequire(import.meta.url).resolve('marked'),
    'chart.umd.js': path.join(path.dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js'),
  };
  const serve = (name: string) => async (_req: Request, res: Response) => {
    const type = Object.hasOwn(files, name) ? files[name] : undefined;
    if (!type) {
      // No `return res.json(...)`: restify logs a returned value with the whole request, headers included.
      res.json(404, { code: 'NotFound', message: `agent console: no file ${name}` });
      return;
    }
    const body = await readFile(Object.hasOwn(outside, name) ? outside[name]! : path.join(publicDir, name));
    res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache', 'Content-Security-Policy': AGENT_CONSOLE_CSP });
    res.end(body);
  };
  server.get('/agent', serve('index.html'));
  server.get('/agent/', serve('index.html'));
  server.get('/agent/:file', async (req: Request, res: Response) => serve(String(req.params.file))(req, res));

  return {
    close: () => {
      streamsClosed = true;
      for (const end of [...openStreams]) end();
    },
  };
}

