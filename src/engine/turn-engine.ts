/**
 * `TurnEngineAdapter`: the one turn engine every Switchboard channel adapter stands on, a botbuilder
 * `BotAdapter` that owns what all channels share:
 *
 *   channel route → verify → parse (subclass) → `accept(items)`: stored in the `Inbox` before the
 *     HTTP answer, deduplicated on the provider's id → per conversation, under a lease, the oldest
 *     pending item runs through the middleware and the bot → `settle` (its transcript is written)
 *     → done.
 *   bot reply → `sendActivities` → adapter-only activities (delay, invokeResponse, trace) handled here
 *     → `deliver` (subclass: render and send) → the send recorded against the turn, so a turn re-run
 *     after a crash does not send it again and still logs what the customer already got.
 *   proactive (agent replies) → `continueConversation[Async]` → the middleware and `logic`; every
 *     error reaches the caller, never `onTurnError`.
 *
 * A periodic sweep (and one at start) runs conversations left with pending items by a restart or by
 * an instance that died once its lease ran out. A subclass adds only verify, parse, `deliver` and its
 * reply windows, like botbuilder's `CloudAdapterBase` and bottender's `Connector`.
 */
import { createHash } from 'node:crypto';
import type { Server } from 'restify';
import {
  ActivityEventNames,
  ActivityTypes,
  BotAdapter,
  TurnContext,
  type Activity,
  type ConversationReference,
  type ResourceResponse,
} from 'botbuilder';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { handleAdapterOnlyActivity, type BotLogic, type MountableAdapter } from './channel.js';
import type { Inbox, InboxItem, TurnSend } from './inbox.js';
import { StoreUnavailableError } from './errors.js';
import type { ChannelMetrics, TurnOutcome } from '../ops/metrics.js';

/** What every channel's engine takes; the adapter's own options extend or include these. */
export interface TurnEngineOptions {
  clock?: Clock;
  logger?: Logger;
  /** Used for `delay` activities (and the Meta channels' backoff); tests inject one that does not wait. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Awaited after a turn and before its item is marked done, e.g. until the turn's transcript is
   * written (`LowdbTranscriptStore.whenWritten`). If it rejects, the item stays pending and runs again
   * (after `unsettledRetryMs`, or at the next start), so nothing acknowledged is lost.
   */
  settle?: (activity: Partial<Activity>) => Promise<void>;
  /** How long a conversation's lease lasts; renewed every third of it while a turn runs. Default 30 s. */
  leaseTtlMs?: number;
  /** How often conversations left with pending items (restart, a dead instance) are looked for. Default 2 s. */
  sweepIntervalMs?: number;
  /** How long a conversation whose turn could not be settled waits before it is tried again. Default 30 s. */
  unsettledRetryMs?: number;
  /**
   * Turns this process runs at once, all conversations together (Config.maxConcurrentTurns). The rest
   * wait their turn, so a burst (a signed batch of thousands of Meta messages) cannot crowd out
   * `/healthz` and the agent console. Default `DEFAULT_MAX_CONCURRENT_TURNS`.
   */
  maxConcurrentTurns?: number;
  /**
   * Items of one conversation this process accepted and has not run yet; one more is refused with
   * `TurnQueueFullError` before it is stored (see `accept`). Default `DEFAULT_MAX_QUEUED_TURNS_PER_CONVERSATION`.
   */
  maxQueuedTurnsPerConversation?: number;
  /** Turns, their outcome and duration, the bot's reply time, Graph API calls (`Metrics`); none: not measured. */
  metrics?: ChannelMetrics;
}

/** Default `TurnEngineOptions.leaseTtlMs`. */
export const DEFAULT_LEASE_TTL_MS = 30_000;
/** Default `TurnEngineOptions.sweepIntervalMs`. */
export const DEFAULT_SWEEP_INTERVAL_MS = 2_000;
/** Default `TurnEngineOptions.unsettledRetryMs`. */
export const DEFAULT_UNSETTLED_RETRY_MS = 30_000;
/** Conversations asked for per sweep. */
const SWEEP_BATCH = 200;
/**
 * Default `TurnEngineOptions.maxConcurrentTurns`. A turn is mostly waiting (storage, the platform's
 * API), so a few dozen keep two cores busy; thousands at once only lengthen every wait, `/healthz`'s too.
 */
export const DEFAULT_MAX_CONCURRENT_TURNS = 32;
/**
 * Default `TurnEngineOptions.maxQueuedTurnsPerConversation`: far more than a person types before the
 * bot answers, far less than a script posting in a loop.
 */
export const DEFAULT_MAX_QUEUED_TURNS_PER_CONVERSATION = 50;
/**
 * Conversations that wait in memory for a turn slot. Past it a conversation is not queued here: its
 * items stay pending in the inbox, where the sweep finds them once there is room, so memory stays
 * bounded and nothing accepted is dropped.
 */
export const MAX_WAITING_CONVERSATIONS = 10_000;
/** The longest `Retry-After` a full conversation queue asks for. */
const MAX_QUEUE_RETRY_AFTER_S = 60;

/**
 * `accept` refused items because their conversation already has `limit` turns waiting in this process.
 * Nothing of the call was stored, so a sender that retries after `retryAfterSeconds` loses nothing;
 * a channel answers 429 with `Retry-After`.
 */
export class TurnQueueFullError extends Error {
  override name = 'TurnQueueFullError';
  readonly statusCode = 429;
  readonly code = 'TooManyRequests';
  constructor(
    readonly conversationId: string,
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`turn engine: conversation ${conversationId} already has ${limit} messages waiting for the bot; send again in ${retryAfterSeconds} s`);
  }
}

/** How `accept` treats a conversation whose queue is full. */
export interface AcceptOptions {
  /**
   * `reject` (default): throw `TurnQueueFullError` before storing anything. `store`: store and run
   * everything regardless — for a sender that cannot retry one conversation alone (a Meta batch mixes
   * many customers; refusing it holds back all of them, and Meta disables a webhook that keeps failing).
   */
  whenQueueFull?: 'reject' | 'store';
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** turnState key of the inbound item a turn runs for (absent in proactive turns). */
const TURN_KEY = Symbol('switchboard.engine.turn');
/** turnState key of when the turn's message was accepted (ms since epoch): the bot's reply time is measured from it. */
export const TURN_ACCEPTED_AT = Symbol.for('switchboard.engine.acceptedAt');

/** turnState key set when `onTurnError` handled a turn's error (it never reaches `runItem` then). */
const TURN_FAILED = Symbol('switchboard.engine.failed');

/** A conversation's drain in progress (see `TurnEngineAdapter.running`). */
interface DrainState {
  again: boolean;
  yielded: boolean;
}

/** What a turn knows of itself for the crash replay. */
interface TurnMark {
  item: InboxItem;
  /** Message activities sent so far in this run. */
  sent: number;
  /** Sends of an earlier run of this turn (cut short by a crash), oldest first. */
  earlier: TurnSend[];
  /** Earlier sends already matched to a reply of this run. */
  claimed: Set<number>;
  /** Earlier sends being logged without a send (see `runItem`), in order. */
  relog?: number[];
}

/** A stable hash of what a message activity says, to recognise it when a turn is re-run. */
export function contentHash(a: Partial<Activity>): string {
  return createHash('sha256')
    .update(JSON.stringify([a.text ?? '', a.suggestedActions ?? null, a.attachments?.length ? a.attachments : null]))
    .digest('base64url')
    .slice(0, 16);
}

/** What a send record keeps of an activity: enough to log it again, nothing more. */
export function summarizeActivity(a: Partial<Activity>): Partial<Activity> {
  return {
    type: a.type,
    text: a.text,
    suggestedActions: a.suggestedActions,
    channelData: a.channelData?.switchboard ? { switchboard: a.channelData.switchboard } : undefined,
  };
}

const isMessage = (a: Partial<Activity>) => a.type === ActivityTypes.Message || a.type === undefined;

/** The shared turn machinery of every channel adapter; see the module comment. */
export abstract class TurnEngineAdapter extends BotAdapter implements MountableAdapter {
  abstract readonly channelId: string;
  protected readonly clock: Clock;
  protected readonly logger: Logger;
  protected readonly sleep: (ms: number) => Promise<void>;
  protected logic?: BotLogic;
  private readonly leaseTtlMs: number;
  private readonly sweepIntervalMs: number;
  private readonly unsettledRetryMs: number;
  private opening?: Promise<void>;
  private sweeper?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private closing = false;
  /**
   * Conversations this process is draining (each holds one of `maxConcurrentTurns` slots); `again`
   * asks the drain to look once more when it ends, `yielded` that it gave its slot to a waiting one.
   */
  private readonly running = new Map<string, DrainState>();
  /** Conversations waiting for a slot, oldest first (a Set keeps insertion order and dedupes). */
  private readonly waiting = new Set<string>();
  /** Conversations whose turn could not be settled, and when to try them again. */
  private readonly retryAt = new Map<string, number>();
  /** Ids of items this process accepted and has not run, per conversation (the per-conversation bound). */
  private readonly queued = new Map<string, Set<string>>();
  private readonly maxConcurrentTurns: number;
  private readonly maxQueuedPerConversation: number;
  /** Moving average of a turn's duration (ms), for the Retry-After of a full queue. */
  private turnMs = 100;
  private idleWaiters: (() => void)[] = [];

  protected constructor(
    /** The channel's durable inbox. */
    protected readonly inbox: Inbox,
    private readonly engine: TurnEngineOptions = {},
  ) {
    super();
    this.clock = engine.clock ?? systemClock;
    this.logger = engine.logger ?? silentLogger;
    this.sleep = engine.sleep ?? defaultSleep;
    this.leaseTtlMs = engine.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    this.sweepIntervalMs = engine.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.unsettledRetryMs = engine.unsettledRetryMs ?? DEFAULT_UNSETTLED_RETRY_MS;
    this.maxConcurrentTurns = engine.maxConcurrentTurns ?? DEFAULT_MAX_CONCURRENT_TURNS;
    this.maxQueuedPerConversation = engine.maxQueuedTurnsPerConversation ?? DEFAULT_MAX_QUEUED_TURNS_PER_CONVERSATION;
    if (!(this.maxConcurrentTurns >= 1) || !(this.maxQueuedPerConversation >= 1)) {
      throw new RangeError(`turn engine: maxConcurrentTurns and maxQueuedTurnsPerConversation must be at least 1 (got ${this.maxConcurrentTurns}, ${this.maxQueuedPerConversation})`);
    }
  }

  /** Adds the channel's routes to `server`; every inbound activity runs `logic` through the middleware. */
  abstract mount(server: Server, logic: BotLogic): void;

  // ---------------------------------------------------------------- lifecycle

  /**
   * Opens the inbox, then runs what earlier processes left pending and starts the periodic sweep.
   * `mount` calls it; call it yourself to wait until the adapter is ready. Idempotent.
   */
  start(logic?: BotLogic): Promise<void> {
    if (logic) this.logic = logic;
    if (!this.opening) {
      this.opening = this.inbox.open().then(() => {
        if (this.closing) return;
        this.sweeper = setInterval(() => void this.sweep(), this.sweepIntervalMs);
        this.sweeper.unref();
        void this.sweep();
      });
    }
    if (logic && this.opening) void this.opening.then(() => this.sweep()).catch(() => undefined);
    return this.opening;
  }

  /** The turn-error handler; the engine marks the turn failed before it runs (for the metrics). */
  override get onTurnError(): (context: TurnContext, error: Error) => Promise<void> {
    return super.onTurnError;
  }
  override set onTurnError(handler: (context: TurnContext, error: Error) => Promise<void>) {
    super.onTurnError = handler && (async (context, error) => {
      context.turnState.set(TURN_FAILED, true);
      return handler(context, error);
    });
  }

  /** Items this process accepted and has not run yet, all conversations together (the metrics' inbox backlog). */
  get backlog(): number {
    let n = 0;
    for (const ids of this.queued.values()) n += ids.size;
    return n;
  }

  /** Resolves once no turn of this process is running or due (tests, benchmarks, shutdown). */
  whenIdle(): Promise<void> {
    if (this.running.size === 0 && this.waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops the sweep, finishes the conversations this process is running (to their last accepted item) and closes the inbox. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    if (!this.opening) return;
    await this.opening.catch(() => undefined);
    await this.sweeping;
    await this.whenIdle();
    await this.inbox.close();
  }

  // ---------------------------------------------------------------- inbound

  /**
   * Stores inbound items (before the channel answers its HTTP request) and schedules the new ones;
   * one result per item. Throws the inbox's storage error when they could not be stored: the
   * channel then answers so that the sender retries (503).
   *
   * A conversation may have `maxQueuedTurnsPerConversation` items accepted here and not yet run. One
   * more throws `TurnQueueFullError` before anything of the call is stored: a refusal the sender can
   * retry loses nothing, whereas storing and then dropping would break "answered 200 means stored and
   * answered once". Repeats of items already stored are never refused (they are answered as repeats).
   * A sender that cannot retry per conversation passes `whenQueueFull: 'store'`.
   */
  protected async accept(items: InboxItem[], options: AcceptOptions = {}) {
    await this.start();
    if ((options.whenQueueFull ?? 'reject') === 'reject') this.checkQueueRoom(items);
    const results = await this.inbox.accept(items);
    items.forEach((item, i) => {
      if (!results[i]?.fresh) return;
      const ids = this.queued.get(item.conversationId) ?? new Set<string>();
      this.queued.set(item.conversationId, ids.add(item.id));
      this.schedule(item.conversationId);
    });
    return results;
  }

  /** Throws `TurnQueueFullError` when `items` would take a conversation past its queue bound. */
  private checkQueueRoom(items: InboxItem[]): void {
    const adding = new Map<string, Set<string>>();
    for (const item of items) {
      if (this.queued.get(item.conversationId)?.has(item.id)) continue; // a repeat: answered from the inbox
      const ids = adding.get(item.conversationId) ?? new Set<string>();
      adding.set(item.conversationId, ids.add(item.id));
    }
    for (const [conversationId, ids] of adding) {
      const waiting = this.queued.get(conversationId)?.size ?? 0;
      if (waiting + ids.size <= this.maxQueuedPerConversation) continue;
      const over = waiting + ids.size - this.maxQueuedPerConversation;
      const retryAfter = Math.min(MAX_QUEUE_RETRY_AFTER_S, Math.max(1, Math.ceil((over * this.turnMs) / 1000)));
      this.logger.warn('conversation queue full; refusing its new messages until the bot catches up', { channel: this.channelId, conversation: conversationId, waiting });
      throw new TurnQueueFullError(conversationId, this.maxQueuedPerConversation, retryAfter);
    }
  }

  /** Forgets one item (`id`) or all (the inbox has none pending) of a conversation's queue bound. */
  private unqueue(conversationId: string, id?: string): void {
    const ids = this.queued.get(conversationId);
    if (!ids) return;
    if (id !== undefined) ids.delete(id);
    if (id === undefined || ids.size === 0) this.queued.delete(conversationId);
  }

  /**
   * Runs a conversation's pending items in this process unless it is already doing so: at once while
   * fewer than `maxConcurrentTurns` conversations run, else after those waiting before it.
   */
  protected schedule(conversationId: string): void {
    if (this.closing) return;
    const running = this.running.get(conversationId);
    if (running) {
      running.again = true;
      return;
    }
    if (this.waiting.has(conversationId)) return;
    if (this.running.size < this.maxConcurrentTurns) this.begin(conversationId);
    else if (this.waiting.size < MAX_WAITING_CONVERSATIONS) this.waiting.add(conversationId);
    // else: its items stay pending in the inbox and a later sweep schedules it.
  }

  /** Starts draining a conversation in one of the slots. */
  private begin(conversationId: string): void {
    const state: DrainState = { again: false, yielded: false };
    this.running.set(conversationId, state);
    void this.drain(conversationId, state)
      .catch((err) => this.logger.error('could not run the conversation\'s turns; the sweep tries again', { channel: this.channelId, conversation: conversationId, error: (err as Error).message }))
      .finally(() => {
        this.running.delete(conversationId);
        // Back of the line: the conversations that waited for a slot go first. Also while closing,
        // so everything accepted before `close` still runs.
        if (state.yielded) this.waiting.add(conversationId);
        this.fillSlots();
      });
  }

  /** Fills free slots from the waiting conversations, oldest first; wakes `whenIdle` once all are done. */
  private fillSlots(): void {
    while (this.running.size < this.maxConcurrentTurns && this.waiting.size > 0) {
      const next = this.waiting.values().next().value!;
      this.waiting.delete(next);
      this.begin(next);
    }
    if (this.running.size === 0 && this.waiting.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Under the conversation's lease, runs its pending items oldest first until none is left — or,
   * while other conversations wait for a slot, one item and then gives the slot up (`yielded`), so
   * one busy conversation cannot hold back the others.
   */
  private async drain(conversationId: string, state: DrainState): Promise<void> {
    do {
      state.again = false;
      if (!this.logic) return;
      if (!(await this.inbox.lease(conversationId, this.leaseTtlMs))) {
        this.unqueue(conversationId); // another instance runs it, and counts what it runs
        return;
      }
      const renew = setInterval(() => {
        void this.inbox.lease(conversationId, this.leaseTtlMs).then(
          (ok) => ok || this.logger.warn('lost the lease of a conversation while its turn runs', { channel: this.channelId, conversation: conversationId }),
          (err) => this.logger.warn('could not renew a conversation lease', { channel: this.channelId, conversation: conversationId, error: (err as Error).message }),
        );
      }, Math.max(50, Math.floor(this.leaseTtlMs / 3)));
      renew.unref();
      let stopped = false;
      try {
        let item = await this.inbox.nextPending(conversationId);
        while (item) {
          const started = Date.now();
          if (!(await this.runItem(item))) {
            stopped = true;
            this.retryAt.set(conversationId, this.clock.now().getTime() + this.unsettledRetryMs);
            return;
          }
          this.unqueue(conversationId, item.id);
          this.turnMs += (Date.now() - started - this.turnMs) / 8;
          item = await this.inbox.nextPending(conversationId);
          if (item && this.waiting.size > 0) {
            state.yielded = true;
            return;
          }
        }
        this.unqueue(conversationId); // none pending: whatever was counted was run (here or elsewhere)
      } finally {
        clearInterval(renew);
        await this.inbox.release(conversationId).catch((err) => this.logger.warn('could not release a conversation lease', { channel: this.channelId, conversation: conversationId, error: (err as Error).message }));
      }
      // An item accepted by another instance while we held the lease could not be run there: look once more.
      if (!stopped && !state.again && (await this.inbox.nextPending(conversationId))) state.again = true;
    } while (state.again);
  }

  /** Schedules every conversation left with pending items and no live lease. */
  private sweep(): Promise<void> {
    if (this.sweeping || this.closing || !this.logic) return this.sweeping ?? Promise.resolve();
    this.sweeping = (async () => {
      try {
        const now = this.clock.now().getTime();
        for (const conv of await this.inbox.pendingConversations(SWEEP_BATCH)) {
          if (this.running.has(conv) || this.waiting.has(conv) || (this.retryAt.get(conv) ?? 0) > now) continue;
          this.retryAt.delete(conv);
          this.schedule(conv);
        }
      } catch (err) {
        this.logger.warn('could not look for pending conversations', { channel: this.channelId, error: (err as Error).message });
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  /** Runs one item's turn, measured (`TurnEngineOptions.metrics`); true once it is done, false when it stays pending. */
  private async runItem(item: InboxItem): Promise<boolean> {
    const ended = this.engine.metrics?.turnStarted(this.channelId);
    const turn = { failed: false, replayed: false };
    const done = await this.runTurn(item, turn);
    ended?.((!done || turn.failed ? 'failed' : turn.replayed ? 'replayed' : 'ok') satisfies TurnOutcome);
    return done;
  }

  /** `runItem` without the measuring; `turn` learns whether it failed or re-ran an earlier run's sends. */
  private async runTurn(item: InboxItem, turn: { failed: boolean; replayed: boolean }): Promise<boolean> {
    const activity = { ...item.activity } as Partial<Activity>;
    if (typeof activity.timestamp === 'string') activity.timestamp = new Date(activity.timestamp);
    if (typeof activity.localTimestamp === 'string') activity.localTimestamp = new Date(activity.localTimestamp);
    const logic = this.logic!;
    try {
      await this.prepare(item, activity);
      const context = new TurnContext(this, activity);
      const mark: TurnMark = { item, sent: 0, earlier: await this.earlierSends(item), claimed: new Set() };
      context.turnState.set(TURN_KEY, mark);
      context.turnState.set(TURN_ACCEPTED_AT, item.at);
      turn.replayed = mark.earlier.length > 0;
      const turnLogic = this.logicFor(activity, logic);
      await this.runMiddleware(context, async (ctx) => {
        await turnLogic(ctx);
        // A turn re-run after a crash: replies the customer already got but this run did not make
        // (the bot's state had moved on) still go into the transcript, under their ids, without a send.
        mark.relog = mark.earlier.map((_, k) => k).filter((k) => !mark.claimed.has(k) && mark.earlier[k]!.activity);
        if (mark.relog.length)
          await ctx.sendActivities(mark.relog.map((k) => ({ ...mark.earlier[k]!.activity, type: ActivityTypes.Message, timestamp: new Date(mark.earlier[k]!.at) })));
      });
      turn.failed = context.turnState.get(TURN_FAILED) === true;
    } catch (err) {
      turn.failed = true;
      // Without an onTurnError (or when it threw too); the turn is over either way.
      this.logger.error('turn failed', { channel: this.channelId, conversation: item.conversationId, error: (err as Error).message });
    }
    if (this.engine.settle) {
      try {
        await this.engine.settle(activity);
      } catch (err) {
        this.logger.error('turn not recorded; the item stays pending and runs again', { channel: this.channelId, conversation: item.conversationId, error: (err as Error).message });
        return false;
      }
    }
    try {
      await this.inbox.done(item.id);
    } catch (err) {
      this.logger.warn('could not mark an item done; it runs again later', { channel: this.channelId, conversation: item.conversationId, error: (err as Error).message });
      return false;
    }
    return true;
  }

  /** Before the turn: fill in what the channel lacks (a profile name), acknowledge receipt. Default nothing. */
  protected async prepare(_item: InboxItem, _activity: Partial<Activity>): Promise<void> {}

  /** The logic a turn runs; a channel may answer some activities itself (Meta: media it cannot read). */
  protected logicFor(_activity: Partial<Activity>, logic: BotLogic): BotLogic {
    return logic;
  }

  /** What earlier runs of this item's turn sent (default: the inbox's record); a channel whose log is the truth may read it instead. */
  protected earlierSends(item: InboxItem): Promise<TurnSend[]> {
    return this.inbox.sentInTurn(item.id);
  }

  // ---------------------------------------------------------------- outbound

  /**
   * Renders and sends one activity that is not adapter-only (message, typing, event, ...); returns the
   * channel's ids of what went out (a long text may be several messages; none for what is not shown).
   * A failure throws, with the platform's error kept.
   */
  protected abstract deliver(context: TurnContext, activity: Partial<Activity>): Promise<string[]>;

  /**
   * Sends the bot's (or an agent's) activities: `delay`, `invokeResponse` and `trace` are handled as
   * botbuilder's own adapters do, the rest goes to `deliver`. Within an inbound turn every message is
   * recorded against the turn, so a re-run after a crash returns the earlier ids instead of sending again.
   */
  async sendActivities(context: TurnContext, activities: Partial<Activity>[]): Promise<ResourceResponse[]> {
    await this.start();
    const responses: ResourceResponse[] = [];
    for (const activity of activities) {
      if (await handleAdapterOnlyActivity(context, activity, this.sleep)) {
        responses.push({ id: '' });
        continue;
      }
      responses.push({ id: await this.sendOne(context, activity) });
    }
    return responses;
  }

  private async sendOne(context: TurnContext, activity: Partial<Activity>): Promise<string> {
    const mark = context.turnState.get(TURN_KEY) as TurnMark | undefined;
    const inTurn = mark && isMessage(activity) && (!activity.conversation?.id || activity.conversation.id === context.activity.conversation?.id);
    if (!inTurn) {
      const ids = await this.deliver(context, activity);
      if (ids.length) await this.delivered(activity.conversation?.id ?? context.activity.conversation?.id ?? '', activity, ids);
      return ids.at(-1) ?? '';
    }
    const n = mark.sent++;
    const h = contentHash(activity);
    const relogged = mark.relog?.shift();
    const k = relogged ?? mark.earlier.findIndex((x, i) => !mark.claimed.has(i) && x.h === h);
    if (k >= 0) {
      mark.claimed.add(k);
      return mark.earlier[k]!.ids.at(-1) ?? '';
    }
    const ids = await this.deliver(context, activity);
    if (n === 0 && isMessage(mark.item.activity)) this.engine.metrics?.firstReply(this.channelId, this.clock.now().getTime() - mark.item.at);
    await this.recordSendDurably(mark.item.id, { n, h, ids, at: this.clock.now().getTime(), activity: summarizeActivity(activity) });
    if (ids.length) await this.delivered(activity.conversation?.id ?? context.activity.conversation?.id ?? '', activity, ids);
    return ids.at(-1) ?? '';
  }

  /**
   * Records a send the platform already has. While the database is briefly unreachable it tries again
   * (for up to half a lease, so no other instance can have taken the conversation meanwhile): giving up
   * at once would leave the turn to run again and send the same message a second time.
   */
  private async recordSendDurably(inbound: string, send: TurnSend): Promise<void> {
    const end = Date.now() + this.leaseTtlMs / 2;
    for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
      try {
        return await this.inbox.recordSend(inbound, send);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError) || Date.now() + wait > end) throw err;
        this.logger.warn('could not record a send; trying again', { channel: this.channelId, error: (err as Error).message });
        await defaultSleep(wait);
      }
    }
  }

  /**
   * After a send went out (and, in a turn, was recorded against it): a channel with delivery receipts
   * records the message ids here. Runs after the turn's record on purpose, so whatever a crash leaves
   * of this never makes a re-run send again. Default nothing.
   */
  protected async delivered(_conversationId: string, _activity: Partial<Activity>, _ids: string[]): Promise<void> {}

  // ---------------------------------------------------------------- proactive

  /** The reference a proactive turn runs with; a channel fills in its defaults (serviceUrl, bot). */
  protected completeReference(reference: Partial<ConversationReference>): Partial<ConversationReference> {
    return { ...reference, channelId: reference.channelId ?? this.channelId };
  }

  /** Throws when a proactive turn cannot reach `reference` at all (web chat: an unknown conversation). Default nothing. */
  protected async checkReference(_reference: Partial<ConversationReference>): Promise<void> {}

  /**
   * Runs `logic` in a proactive turn for `reference` (agent replies, follow-ups), through the
   * middleware. Its errors — a closed reply window, a platform error, an unknown conversation — reach
   * the caller rather than `onTurnError`, so the agent console can say why a message did not go out.
   */
  async continueConversation(reference: Partial<ConversationReference>, logic: (context: TurnContext) => Promise<void>): Promise<void> {
    await this.start();
    await this.checkReference(reference);
    const activity = TurnContext.applyConversationReference({ type: ActivityTypes.Event, name: ActivityEventNames.ContinueConversation }, this.completeReference(reference), true);
    const context = new TurnContext(this, activity);
    await this.middleware.run(context, () => logic(context));
  }

  /**
   * botbuilder's newer overloads: `(botAppId | claimsIdentity, reference, logic)` and
   * `(claimsIdentity, reference, audience, logic)`. There is no app identity to check here; all of them
   * run `continueConversation` with its error rule.
   */
  override async continueConversationAsync(
    _botAppIdOrClaims: unknown,
    reference: Partial<ConversationReference>,
    logicOrAudience: ((context: TurnContext) => Promise<void>) | string | undefined,
    maybeLogic?: (context: TurnContext) => Promise<void>,
  ): Promise<void> {
    const logic = typeof logicOrAudience === 'function' ? logicOrAudience : maybeLogic;
    if (typeof logic !== 'function') throw new TypeError(`${this.channelId}: continueConversationAsync needs a logic callback (its last argument)`);
    await this.continueConversation(reference, logic);
  }
}
