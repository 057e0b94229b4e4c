/**
 * The Meta base of the Messenger and WhatsApp adapters, on the shared turn engine
 * (`src/engine/turn-engine.ts`), which owns the inbox, the order per conversation, the crash replay
 * and proactive turns. What stays here is what the two Meta channels share and no other channel has:
 *
 *   POST /webhooks/<channel> → verify (X-Hub-Signature-256 over the raw bytes) → parse (zod)
 *     → engine: accept (stored, dedupe by mid/wamid) → answer 200 → the turn runs in the background
 *   bot reply → engine → `deliver`: reply-window check → platform rendering (subclass) → Graph API with
 *     retries → a final failure is recorded against the conversation and emitted as `sendFailed`.
 *   statuses (deliveries, reads, failures) → the channel's `DeliveryLog`.
 *
 * Subclasses supply only the mapping (payload → activities, activity → Graph requests) and the
 * platform's window rules, in keeping with "an adapter is a mapper plus one side effect".
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { Server, Request, Response } from 'restify';
import { ActivityTypes, TurnContext, type Activity, type ConversationReference } from 'botbuilder';
import { agentMarkOf, type BotLogic, type ReplyWindow } from '../../src/engine/channel.js';
import { TurnEngineAdapter, summarizeActivity, type TurnEngineOptions } from '../../src/engine/turn-engine.js';
import { FileChannelJournal } from '../../src/engine/file-journal.js';
import type { ChannelJournal, InboxItem, MessageStatus, SendFailure } from '../../src/engine/inbox.js';
import { systemClock } from '../../src/clock.js';
import { GraphClient, type FetchLike, type RetryOptions } from './graph-client.js';
import { GraphApiError, GraphUnavailableError, ReplyWindowClosedError } from './errors.js';
import { StoreUnavailableError } from '../../src/engine/errors.js';
import { verifyHandshake, verifySignature } from './verify.js';
import { MAX_JSON_DEPTH, jsonTooDeep } from '../../src/security/json-depth.js';
import type { MediaStore } from '../../src/media/store.js';
import { MediaFetcher, hasCustomerMedia, hasUnavailableMedia, type MediaLocation, type PendingMedia } from './media.js';

export type { SendFailure, MessageStatus } from '../../src/engine/inbox.js';

/** Options every Meta adapter takes besides its own channel settings (the engine's included). */
export interface MetaAdapterOptions extends TurnEngineOptions {
  /** Config.graphApiUrl: Meta's Graph API base with version (tests point it at a local fake). */
  graphApiUrl: string;
  /** Config.dataDir: without `journal`, the channel keeps `<dataDir>/<channelId>/journal.jsonl`. */
  dataDir?: string;
  /** The channel's inbox and delivery log (e.g. PostgreSQL's); default a `FileChannelJournal` under `dataDir/<channelId>`. */
  journal?: ChannelJournal;
  /** Node's fetch by default; tests and benchmarks may inject another. */
  fetch?: FetchLike;
  /** Jitter source for backoff, in [0, 1). */
  random?: () => number;
  retry?: RetryOptions;
  /**
   * What the customer is told when they send media, a location or a sticker. The adapter sends it
   * itself (through the middleware, so the transcript keeps both); the bot never sees such messages.
   */
  unsupportedText?: string;
  /**
   * What the bot tells a customer who sent a file, a sticker or a location while it owns the
   * conversation: `kept` when it is stored for a person to see, `notKept` when it could not be fetched
   * (the server passes the bot's `mediaKept` / `mediaNotKept`). Default: `unsupportedText`.
   */
  mediaText?: { kept: string; notKept: string };
  /** Mark inbound messages as read / show typing where the platform has it (default true). */
  markAsRead?: boolean;
  /** Largest webhook body accepted (default 1 MiB). */
  maxBodyBytes?: number;
  /** Where files are kept (`backend.media`): customers' media in, agents' attachments out. */
  media?: MediaStore;
}

/** Default reply to media, locations and stickers. */
export const DEFAULT_UNSUPPORTED_TEXT = 'Sorry, I can only read text here. Please type your question.';

/** An inbound customer message after mapping, before it is stored. */
export interface InboundMessage {
  /** `mid` / `wamid`: the dedupe key. */
  id: string;
  conversationId: string;
  activity: Partial<Activity>;
  /** Media, location, sticker, ...: kept in the transcript, answered with `mediaText` (files, locations) or `unsupportedText`. */
  unsupported: boolean;
  /**
   * Whether it opens the reply window (default true). False for a reaction, an edit or a delete
   * (`messageReaction` / `messageUpdate` / `messageDelete` activities): recorded, never answered.
   */
  opensWindow?: boolean;
}

/** One event of a POST that did not parse: kept in the journal on its own, the rest of the POST still runs. */
export interface UnparsedEvent {
  /** Where it was in the body, e.g. `entry[0].messaging[2]`. */
  where: string;
  reason: string;
  event: unknown;
}

/** A status change of an outbound message, from echoes, deliveries, reads or WhatsApp `statuses`. */
export type StatusUpdate =
  | { kind: 'message'; messageId: string; status: MessageStatus; conversationId?: string; error?: { code: number | string; message: string; details?: string } }
  | { kind: 'watermark'; conversationId: string; watermark: number; status: 'delivered' | 'read' };

/** What a subclass's `parseWebhook` makes of one POST body. */
export interface ParsedWebhook {
  messages: InboundMessage[];
  statuses: StatusUpdate[];
  /** Events consumed silently on purpose (standby, thread control, opt-ins, ...), for the debug log. */
  ignored: string[];
  /** Events that did not parse. */
  unparsed: UnparsedEvent[];
  /** Events an operator must hear of (a policy enforcement on the Page), for the warning log. */
  warnings: string[];
}

/** How a message may go out given the conversation's reply window. */
export type WindowMode = 'standard' | 'human_agent' | 'closed';

/** Payload of the `status` event. */
export interface StatusEvent {
  channelId: string;
  conversationId?: string;
  messageId: string;
  status: MessageStatus;
}

/** The channelData flag an unsupported (non-text) customer message carries; see `isUnsupportedActivity`. */
export const UNSUPPORTED_FLAG = 'unsupported';

/** True for an activity made from media, a location, a sticker, ... (`channelData.unsupported === true`). */
export function isUnsupportedActivity(activity: Partial<Activity>): boolean {
  return activity.channelData?.[UNSUPPORTED_FLAG] === true;
}


/** Entries of one webhook body parsed between two turns of the event loop (see `parseInSlices`). */
const PARSE_SLICE_ENTRIES = 100;

/** A Meta channel's journal: the one passed in, or the file under `dataDir/<channel>`. */
function journalOf(options: MetaAdapterOptions, channelId: string): ChannelJournal {
  if (options.journal) return options.journal;
  if (!options.dataDir) throw new TypeError(`${channelId}: pass \`journal\` or \`dataDir\` (where the channel's inbox is kept)`);
  const clock = options.clock ?? systemClock;
  return new FileChannelJournal(join(options.dataDir, channelId), () => clock.now().getTime());
}

/**
 * A botbuilder `BotAdapter` for a Meta webhook channel. Emits `sendFailed` (SendFailure) and
 * `status` (StatusEvent) on `events`.
 */
export abstract class MetaChannelAdapter extends TurnEngineAdapter {
  /** Fired with `sendFailed` (a SendFailure) and `status` (a StatusEvent). */
  readonly events = new EventEmitter();
  protected readonly unsupportedText: string;
  private readonly mediaText: { kept: string; notKept: string };
  /** Fetches customers' files during their turn (`prepare`), into `options.media`. */
  private readonly mediaFetcher: MediaFetcher;
  protected readonly markAsRead: boolean;
  protected graph!: GraphClient;
  /** The channel's inbox and delivery log (the engine's `inbox`). */
  protected readonly journal: ChannelJournal;
  private readonly maxBodyBytes: number;
  /** Last inbound message id per conversation (for WhatsApp's read receipt / typing indicator). */
  protected readonly lastInbound = new Map<string, string>();

  protected constructor(
    protected readonly base: MetaAdapterOptions,
    private readonly secrets: { appSecret: string; verifyToken: string },
    channelId: string,
  ) {
    const journal = journalOf(base, channelId);
    super(journal, base);
    this.journal = journal;
    this.unsupportedText = base.unsupportedText ?? DEFAULT_UNSUPPORTED_TEXT;
    this.mediaText = base.mediaText ?? { kept: this.unsupportedText, notKept: this.unsupportedText };
    this.mediaFetcher = new MediaFetcher({ store: base.media, channelId, locate: (p) => this.locateMedia(p), logger: this.logger, sleep: this.sleep });
    this.markAsRead = base.markAsRead ?? true;
    this.maxBodyBytes = base.maxBodyBytes ?? 1024 * 1024;
  }

  /** Builds the Graph client for this channel's token; called by subclasses in their constructor. */
  protected makeGraphClient(accessToken: string, auth: 'query' | 'bearer'): GraphClient {
    return new GraphClient({
      baseUrl: this.base.graphApiUrl.replace(/\/+$/, ''),
      accessToken,
      auth,
      name: this.channelId,
      fetch: this.base.fetch,
      sleep: this.sleep,
      random: this.base.random,
      logger: this.logger,
      metrics: this.base.metrics,
      ...this.base.retry,
    });
  }

  /** The webhook path: `/webhooks/messenger`, `/webhooks/whatsapp`. */
  get path(): string {
    return `/webhooks/${this.channelId}`;
  }

  /** Adds `GET` (handshake) and `POST` (events) at `/webhooks/<channel>`; runs `logic` for each message. */
  mount(server: Server, logic: BotLogic): void {
    this.logic = logic;
    void this.start(logic).catch((err) => this.logger.error('could not open the channel journal', { channel: this.channelId, error: (err as Error).message }));
    server.get(this.path, async (req: Request, res: Response) => {
      const query = Object.fromEntries(new URL(req.url ?? '', 'http://localhost').searchParams);
      const r = this.handshake(query);
      if (r.status === 200) res.sendRaw(200, r.body, { 'content-type': 'text/plain; charset=utf-8' });
      else res.send(r.status, { code: r.status === 403 ? 'Forbidden' : 'BadRequest', message: r.body });
    });
    server.post(this.path, async (req: Request, res: Response) => {
      let raw: Buffer;
      try {
        raw = await readBody(req, this.maxBodyBytes);
      } catch (err) {
        res.send(413, { code: 'PayloadTooLarge', message: `${this.path}: ${(err as Error).message}` });
        return;
      }
      const r = await this.handleWebhook(raw, req.headers);
      if (r.status === 200) res.sendRaw(200, 'EVENT_RECEIVED', { 'content-type': 'text/plain; charset=utf-8' });
      else res.send(r.status, { code: r.code, message: r.message });
    });
  }

  // ---------------------------------------------------------------- inbound

  /** The GET handshake: 200 with the challenge, or 400/403. */
  handshake(query: Record<string, unknown>): { status: number; body: string } {
    const r = verifyHandshake(query, this.secrets.verifyToken);
    return r.ok ? { status: 200, body: r.challenge } : { status: r.status, body: `${this.path}: ${r.reason}` };
  }

  /**
   * Everything a POST does except HTTP: verify, parse, accept. Returns the status to answer:
   * 200 once new messages are stored (or there were none), 401/403 for signatures, 400 for bodies
   * that are not JSON, 503 when storage fails (Meta will retry).
   */
  async handleWebhook(raw: Buffer, headers: Record<string, string | string[] | undefined>): Promise<{ status: number; code?: string; message?: string }> {
    const v = verifySignature(raw, headers, this.secrets.appSecret);
    if (!v.ok) {
      this.logger.warn('webhook signature rejected', { channel: this.channelId, reason: v.reason });
      return { status: v.status, code: v.status === 401 ? 'Unauthorized' : 'Forbidden', message: `${this.path}: ${v.reason}` };
    }
    try {
      await this.start();
    } catch (err) {
      return this.unavailable(err);
    }
    if (jsonTooDeep(raw.toString('utf8'))) return this.keepTooDeep(raw);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return { status: 400, code: 'BadRequest', message: `${this.path}: the body is not JSON` };
    }
    let parsed: ParsedWebhook;
    try {
      parsed = await this.parseInSlices(body);
    } catch (err) {
      // Signed by Meta but not in a shape we know: keep it (never lost) and answer 200 so Meta does not disable the webhook.
      this.logger.error('webhook body not understood; kept in the journal', { channel: this.channelId, error: (err as Error).message });
      try {
        await this.journal.recordUnparsed(raw.toString('utf8'), (err as Error).message);
      } catch (e) {
        return this.unavailable(e);
      }
      return { status: 200 };
    }
    if (parsed.ignored.length) this.logger.debug('webhook events ignored', { channel: this.channelId, ignored: parsed.ignored });
    for (const warning of parsed.warnings) this.logger.warn('webhook event for the operator', { channel: this.channelId, event: warning });
    for (const u of parsed.unparsed) {
      // One event Meta sent in a shape we do not know: kept on its own; the other events of the POST still run.
      this.logger.error('webhook event not understood; kept in the journal', { channel: this.channelId, where: u.where, error: u.reason });
      try {
        await this.journal.recordUnparsed(JSON.stringify(u.event) ?? 'undefined', `${u.where}: ${u.reason}`);
      } catch (e) {
        return this.unavailable(e);
      }
    }
    const now = this.clock.now().getTime();
    try {
      await this.accept(
        parsed.messages.map((m) => ({
          id: m.id,
          conversationId: m.conversationId,
          at: now,
          activity: m.unsupported ? { ...m.activity, channelData: { ...m.activity.channelData, [UNSUPPORTED_FLAG]: true } } : m.activity,
          opensWindow: m.opensWindow ?? true,
        })),
        // All stored before the 200, whatever a conversation's queue holds: refusing one customer's
        // part would make Meta retry the whole batch, everyone's messages with it. The engine still
        // runs them at most `maxConcurrentTurns` at a time.
        { whenQueueFull: 'store' },
      );
    } catch (err) {
      return this.unavailable(err);
    }
    for (const s of parsed.statuses) await this.applyStatus(s).catch((err) => this.logger.warn('status update failed', { error: (err as Error).message }));
    return { status: 200 };
  }

  /**
   * `parseWebhook`, `PARSE_SLICE_ENTRIES` entries at a time with the event loop let go in between:
   * Meta delivers a backlog as one body of thousands of entries, whose parse in one go would hold
   * every other request (`/healthz` too) for hundreds of milliseconds. An unparsed event's `where`
   * still counts entries from the start of the whole body.
   */
  private async parseInSlices(body: unknown): Promise<ParsedWebhook> {
    const entries = (body as { entry?: unknown } | null)?.entry;
    if (!Array.isArray(entries) || entries.length <= PARSE_SLICE_ENTRIES) return this.parseWebhook(body);
    const whole: Record<string, unknown[]> = {};
    for (let from = 0; from < entries.length; from += PARSE_SLICE_ENTRIES) {
      if (from > 0) await new Promise((resolve) => setImmediate(resolve));
      const part = this.parseWebhook({ ...(body as object), entry: entries.slice(from, from + PARSE_SLICE_ENTRIES) });
      for (const u of part.unparsed) u.where = u.where.replace(/^entry\[(\d+)\]/, (_, i) => `entry[${Number(i) + from}]`);
      for (const [key, list] of Object.entries(part)) if (Array.isArray(list)) (whole[key] ??= []).push(...list);
    }
    return whole as unknown as ParsedWebhook;
  }

  /**
   * A signed body nested deeper than `MAX_JSON_DEPTH`: nothing Meta documents does, and storing it as
   * a message would overflow the stack (a 503 on every retry). Meta retries every answer but 200 — a
   * 400 as much as a 503, until it disables the webhook — so it is kept for a person and answered 200.
   */
  private async keepTooDeep(raw: Buffer): Promise<{ status: number; code?: string; message?: string }> {
    const reason = `the body nests deeper than ${MAX_JSON_DEPTH} levels`;
    this.logger.error('webhook body not understood; kept in the journal', { channel: this.channelId, error: reason });
    try {
      await this.journal.recordUnparsed(raw.toString('utf8'), reason);
    } catch (e) {
      return this.unavailable(e);
    }
    return { status: 200 };
  }

  private unavailable(err: unknown) {
    this.logger.error('could not store webhook; answering 503 so Meta retries', { channel: this.channelId, error: (err as Error).message });
    return { status: 503, code: 'ServiceUnavailable', message: `${this.path}: ${err instanceof StoreUnavailableError ? err.message : 'storage failed'}` };
  }

  /** Maps one webhook body (already verified and JSON-parsed) to messages and status updates; throws when the shape is unknown. */
  protected abstract parseWebhook(body: unknown): ParsedWebhook;

  private async applyStatus(s: StatusUpdate): Promise<void> {
    if (s.kind === 'watermark') {
      const mids = await this.journal.recordWatermark(s.conversationId, s.watermark, s.status);
      for (const messageId of mids) this.events.emit('status', { channelId: this.channelId, conversationId: s.conversationId, messageId, status: s.status } satisfies StatusEvent);
      return;
    }
    const changedIn = await this.journal.recordStatus(s.messageId, s.status);
    // Only our own messages have a status; echoes of messages a person sent from the Page inbox are not ours.
    if (changedIn) this.events.emit('status', { channelId: this.channelId, conversationId: changedIn, messageId: s.messageId, status: s.status } satisfies StatusEvent);
    if (s.status === 'failed' && s.error) {
      const conv = changedIn ?? (await this.failureOwner(s.messageId, s.conversationId));
      if (!conv) {
        // Another sender on the same number or Page (a marketing tool), or a repeat of a failure already kept.
        this.logger.info('failed status for a message not sent from this server; no conversation to record it against', { channel: this.channelId, messageId: s.messageId, code: s.error.code });
        return;
      }
      await this.fail({
        channelId: this.channelId,
        conversationId: conv,
        at: this.clock.now().toISOString(),
        code: s.error.code,
        message: s.error.message + (s.error.details ? ` — ${s.error.details}` : ''),
        messageId: s.messageId,
      });
    }
  }

  /**
   * Whom a `failed` status whose message did not change belongs to: nobody when the message is ours
   * (its failure is already kept), the recipient only when they are a customer this channel knows.
   */
  private async failureOwner(messageId: string, recipient: string | undefined): Promise<string | undefined> {
    if (!recipient || (await this.journal.statusOf(messageId)) !== undefined) return undefined;
    return (await this.journal.lastCustomerMessageAt(recipient)) === undefined ? undefined : recipient;
  }

  protected override async prepare(item: InboxItem, activity: Partial<Activity>): Promise<void> {
    await this.enrich(activity).catch((err) => this.logger.debug('profile lookup failed', { error: (err as Error).message }));
    // Reactions, edits and deletes are recorded, not answered: no read receipt, no typing indicator.
    if (activity.type !== ActivityTypes.Message) return;
    this.lastInbound.set(item.conversationId, item.id);
    if (this.markAsRead) void this.acknowledge(item.conversationId, item.id, activity).catch((err) => this.logger.debug('mark-as-read failed', { error: (err as Error).message }));
    // After Meta's 200 and the read receipt: the customer sees "read" while the file downloads.
    await this.mediaFetcher.resolve(activity);
  }

  /** Where a customer's file can be downloaded; Messenger's webhook gives the URL, WhatsApp overrides this with its lookup. */
  protected async locateMedia(p: PendingMedia): Promise<MediaLocation> {
    if (!p.url) throw new TypeError(`${this.channelId}: a pending file without a URL (${p.source})`);
    return { url: p.url };
  }

  /**
   * Media, locations and stickers are not for the bot: the middleware still runs (transcript, handoff —
   * if a human owns the conversation the handoff middleware stops the turn and the agent sees the media).
   */
  protected override logicFor(activity: Partial<Activity>, logic: BotLogic): BotLogic {
    if (!isUnsupportedActivity(activity)) return logic;
    // A file, sticker or location was kept for a person (or could not be fetched): say which, truthfully.
    const text = !hasCustomerMedia(activity) ? this.unsupportedText : hasUnavailableMedia(activity) ? this.mediaText.notKept : this.mediaText.kept;
    return async (ctx) => {
      await ctx.sendActivity(text);
    };
  }

  /** Fills in what the webhook lacks (Messenger: the profile name). */
  protected async enrich(_activity: Partial<Activity>): Promise<void> {}

  /** Read receipt / typing indicator for a newly received message. */
  protected abstract acknowledge(conversationId: string, messageId: string, activity: Partial<Activity>): Promise<void>;

  // ---------------------------------------------------------------- outbound

  /** How long after the customer's last message the bot, and a human agent, may write. */
  protected abstract readonly windowRules: { botMs: number; agentMs: number };

  /** The conversation's reply window, or undefined when the customer never wrote. */
  async replyWindow(conversationId: string): Promise<ReplyWindow | undefined> {
    await this.start();
    const last = await this.journal.lastCustomerMessageAt(conversationId);
    if (last === undefined) return undefined;
    return {
      channelId: this.channelId,
      lastCustomerMessageAt: new Date(last),
      botClosesAt: new Date(last + this.windowRules.botMs),
      agentClosesAt: new Date(last + this.windowRules.agentMs),
    };
  }

  /** Sends that finally failed in this conversation (oldest first), with Meta's code and message. */
  async sendFailures(conversationId: string): Promise<SendFailure[]> {
    await this.start();
    return this.journal.failuresOf(conversationId);
  }

  /** Where an outbound message stands (`sent`, `delivered`, `read`, `failed`), if we sent it. */
  async messageStatus(messageId: string): Promise<MessageStatus | undefined> {
    await this.start();
    return this.journal.statusOf(messageId);
  }

  /** Outbound messages of a conversation with their statuses. */
  async outboundMessages(conversationId: string) {
    await this.start();
    return this.journal.outboundOf(conversationId);
  }

  /** Which mode a message may use now: within the bot window, the agent window, or none. */
  protected async windowMode(conversationId: string, activity: Partial<Activity>): Promise<{ mode: WindowMode; closedAt?: Date }> {
    const last = await this.journal.lastCustomerMessageAt(conversationId);
    if (last === undefined) return { mode: 'closed' };
    const now = this.clock.now().getTime();
    if (now < last + this.windowRules.botMs) return { mode: 'standard' };
    if (agentMarkOf(activity) && now < last + this.windowRules.agentMs) return { mode: 'human_agent' };
    return { mode: 'closed', closedAt: new Date(last + (agentMarkOf(activity) ? this.windowRules.agentMs : this.windowRules.botMs)) };
  }

  /**
   * Renders and posts one message activity to the platform; returns the platform ids of the messages
   * sent (a long text may become several). `mode` is `closed` only when `canSendOutsideWindow` allowed it.
   */
  protected abstract postMessage(conversationId: string, activity: Partial<Activity>, mode: WindowMode): Promise<string[]>;

  /** Outside every window: return true to let `postMessage` send anyway (WhatsApp's template); default refuse. */
  protected async canSendOutsideWindow(_activity: Partial<Activity>, _conversationId: string): Promise<boolean> {
    return false;
  }

  /** Records that an activity's content did not reach the customer although something was sent (a template). */
  protected async recordUndelivered(conversationId: string, activity: Partial<Activity>, message: string): Promise<void> {
    await this.fail({ channelId: this.channelId, conversationId, at: this.clock.now().toISOString(), code: 'REPLY_WINDOW_CLOSED', message, activity: summarizeActivity(activity) });
  }

  /** Shows a typing indicator for a `typing` activity. */
  protected abstract sendTyping(conversationId: string): Promise<void>;

  /** True when Meta's error means the window is closed (Messenger 10/2018278, WhatsApp 131047). */
  protected abstract isWindowError(err: GraphApiError): boolean;

  /**
   * `typing` shows the platform's indicator, `message` is checked against the reply window and posted;
   * events (handoff.initiate, ...) are for the bot's own plumbing, not for the customer. A message that
   * cannot be delivered is recorded (`sendFailures`, `sendFailed` event) and the error is thrown:
   * `ReplyWindowClosedError` or `GraphApiError`.
   */
  protected async deliver(context: TurnContext, activity: Partial<Activity>): Promise<string[]> {
    const conversationId = activity.conversation?.id ?? context.activity.conversation?.id;
    switch (activity.type) {
      case ActivityTypes.Typing:
        if (conversationId) await this.sendTyping(conversationId).catch((err) => this.logger.debug('typing indicator failed', { error: (err as Error).message }));
        return [];
      case ActivityTypes.Message:
      case undefined:
        if (!conversationId) throw new Error(`${this.channelId}: cannot send a message without conversation.id (use TurnContext or continueConversation)`);
        return this.sendMessage(conversationId, activity);
      default:
        return [];
    }
  }

  private async sendMessage(conversationId: string, activity: Partial<Activity>): Promise<string[]> {
    try {
      const { mode, closedAt } = await this.windowMode(conversationId, activity);
      if (mode === 'closed' && !(await this.canSendOutsideWindow(activity, conversationId))) {
        throw new ReplyWindowClosedError(this.channelId, conversationId, closedAt, agentMarkOf(activity) ? 'the human-agent window has closed too' : 'only a human agent (where the platform allows it) or a template may write now');
      }
      try {
        return await this.postMessage(conversationId, activity, mode);
      } catch (err) {
        if (err instanceof GraphApiError && this.isWindowError(err)) throw new ReplyWindowClosedError(this.channelId, conversationId, closedAt, `Meta refused it: ${err.graphMessage}`, err);
        throw err;
      }
    } catch (err) {
      await this.fail(failureOf(this.channelId, conversationId, this.clock.now(), err, activity));
      throw err;
    }
  }

  /** Keeps the message ids for their delivery and read statuses. */
  protected override async delivered(conversationId: string, _activity: Partial<Activity>, ids: string[]): Promise<void> {
    for (const id of ids) await this.journal.recordOutbound(conversationId, id).catch((err) => this.logger.warn('could not record an outbound message', { channel: this.channelId, error: (err as Error).message }));
  }

  private async fail(failure: SendFailure): Promise<void> {
    this.logger.warn('send failed', { channel: this.channelId, conversation: failure.conversationId, code: failure.code, message: failure.message });
    try {
      await this.journal.recordFailure(failure);
    } catch (err) {
      this.logger.error('could not record a send failure', { error: (err as Error).message, failure });
    }
    this.events.emit('sendFailed', failure);
  }

  /** Message edits are not possible on Messenger or WhatsApp. */
  async updateActivity(): Promise<void> {
    throw new Error(`${this.channelId}: updateActivity is not supported — Meta's APIs cannot edit a sent message; send a new one`);
  }

  /** Deleting a sent message is not possible on Messenger or WhatsApp. */
  async deleteActivity(): Promise<void> {
    throw new Error(`${this.channelId}: deleteActivity is not supported — Meta's APIs cannot delete a sent message`);
  }

  protected override completeReference(reference: Partial<ConversationReference>): Partial<ConversationReference> {
    return { ...reference, channelId: reference.channelId ?? this.channelId, serviceUrl: reference.serviceUrl ?? this.base.graphApiUrl };
  }

  /** A conversation reference for a customer id (PSID / wa_id), for proactive sends. */
  referenceFor(customerId: string, name?: string): Partial<ConversationReference> {
    return {
      channelId: this.channelId,
      serviceUrl: this.base.graphApiUrl,
      conversation: { id: customerId, isGroup: false, conversationType: 'personal', name: name ?? '' },
      user: { id: customerId, name: name ?? '' },
      bot: { id: this.channelId, name: 'Switchboard' },
    };
  }
}

function failureOf(channelId: string, conversationId: string, now: Date, err: unknown, activity: Partial<Activity>): SendFailure {
  const base = { channelId, conversationId, at: now.toISOString(), activity: summarizeActivity(activity) };
  if (err instanceof ReplyWindowClosedError) {
    const g = err.graphError;
    return g
      ? { ...base, code: g.code ?? 'REPLY_WINDOW_CLOSED', subcode: g.subcode, message: g.graphMessage, fbtraceId: g.fbtraceId }
      : { ...base, code: 'REPLY_WINDOW_CLOSED', message: err.message };
  }
  if (err instanceof GraphApiError) return { ...base, code: err.code ?? err.status, subcode: err.subcode, message: err.graphMessage, fbtraceId: err.fbtraceId };
  if (err instanceof GraphUnavailableError) return { ...base, code: 'UNREACHABLE', message: err.message };
  return { ...base, code: 'ERROR', message: (err as Error)?.message ?? String(err) };
}

/** Reads the raw request bytes (needed for the signature), refusing bodies over `limit`. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // Answer 413 instead of resetting the connection: stop keeping the bytes, let node discard the rest.
        reject(new Error(`body larger than ${limit} bytes`));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
