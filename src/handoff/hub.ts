/**
 * The agent hub: the owner state machine (bot → queued → assigned → bot) over a `QueueStore`, the
 * queue order, claims, transfers, resolution, position and wait estimates, and the live event stream
 * the agent console listens to. `HandoffMiddleware` uses it on the bot side, the agent API on the
 * console side; proactive messages go out through each channel adapter's `continueConversationAsync`.
 *
 * With several instances on one database, the hub's events travel on the `EventBus` (hub-events.ts),
 * presence is shared through it (presence.ts), and the hub keeps its caches (owners, handling times)
 * right from what the other instances publish.
 */
import { randomUUID } from 'node:crypto';
import {
  ActivityTypes,
  EventFactory,
  MessageFactory,
  TurnContext,
  type Activity,
  type Attachment,
  type BotAdapter,
  type ResourceResponse,
  type TranscriptInfo,
  type TranscriptStore,
} from 'botbuilder';
import type { MountableAdapter, ReplyWindow } from '../engine/channel.js';
import type { KnowledgeSearcher } from '../knowledge/types.js';
import { LocalEventBus, type EventBus } from '../engine/bus.js';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import type { BusinessHours } from './business-hours.js';
import { HubEventStream, type HubEvent } from './hub-events.js';
import { AgentPresence } from './presence.js';
import {
  ConflictError,
  ConversationNotFoundError,
  VersionConflictError,
  type ConversationRecord,
  type QueueQuery,
  type QueueStore,
} from './queue-store.js';
import { defaultHandoffStrings, fill, handoffStrings, type HandoffStrings } from './strings.js';
import { customerMessages } from './summary.js';
import { summarizeOffThread } from './summary-pool.js';
import { boundQuestion } from './limits.js';
import type { HandoffReason, HandoffRequest, Owner } from './types.js';
import { mediaContentOf } from '../media/attachments.js';

/** A channel adapter as the hub uses it: any botbuilder adapter, optionally with routes and a reply window. */
export type ChannelAdapter = BotAdapter &
  Partial<MountableAdapter> & {
    replyWindow?(conversationId: string): ReplyWindow | undefined | Promise<ReplyWindow | undefined>;
    /** Sends that finally failed (e.g. a WhatsApp `failed` status after the API accepted the message). */
    sendFailures?(conversationId: string): Promise<DeliveryFailure[]>;
    /** Tells the hub when a customer types (web chat), for the console's "Customer is typing…"; returns the unsubscribe. */
    onCustomerTyping?(listener: (conversationId: string, activity: Partial<Activity>) => void): () => void;
  };

/** A message the platform did not deliver, as the Meta adapters record it. */
export interface DeliveryFailure {
  at: string;
  code: number | string;
  message: string;
  activity?: Partial<Activity>;
}

/** A transcript store that can list one customer's conversations (optional; LowdbTranscriptStore has it). */
export interface CustomerIndexedTranscripts {
  listTranscriptsOfUser(channelId: string, customerId: string): Promise<TranscriptInfo[]>;
}

/** Who does something in the queue (from the agent's session). */
export interface AgentRef {
  id: string;
  name: string;
  /** Teams the agent answers for; empty or undefined: any team. */
  teams?: string[];
  /** How many conversations the agent may hold at once. */
  capacity?: number;
}

export type { HubEvent } from './hub-events.js';

/** The result of a handoff request: what the middleware tells the customer. */
export interface HandoffOutcome {
  record: ConversationRecord;
  alreadyQueued: boolean;
  position: number;
  /** Undefined when there is no honest basis for an estimate (no agent online, or no handled conversations yet). */
  waitMs?: number;
  open: boolean;
  agentsOnline: number;
}

/** The default priority of each reason (higher first): customers the bot already failed wait least. */
export const DEFAULT_PRIORITIES: Record<HandoffReason, number> = {
  'customer-asked': 1,
  'two-misses': 2,
  'not-helpful': 2,
  'entry-handoff': 1,
  'agent-takeover': 3,
};

/** Entry tags with a meaning of their own (knowledge/README.md) that never name a team. */
export const NON_TEAM_TAGS = ['smalltalk', 'handoff-request'];

/** Least time between two typing indicators an agent's console sends to one customer (each shows for a few seconds). */
export const AGENT_TYPING_INTERVAL_MS = 3000;

/** Default number of conversations one agent holds at once. */
export const DEFAULT_AGENT_CAPACITY = 3;
/** How many recent handling times feed the wait estimate. */
export const WAIT_SAMPLE_SIZE = 20;

/**
 * Who owns the conversation after a notice, for the customer's page (the Web Chat demo's header shows
 * the agent while one holds the conversation): `status` is the header line in the customer's language.
 */
export interface NoticeOwner {
  owner: Owner;
  agentName?: string;
  status?: string;
}

/**
 * Marks a message the handoff plugin itself sends to the customer (position, joined, resolved); it
 * passes the middleware's filter. With `owner`, it also says who holds the conversation now
 * (`channelData.switchboard.handoff`).
 */
export function handoffNotice(text: string, owner?: NoticeOwner): Partial<Activity> {
  const a = MessageFactory.text(text);
  a.channelData = { switchboard: { notice: 'handoff', ...(owner ? { handoff: owner } : {}) } };
  return a;
}

/** Whether an outgoing activity is one of the plugin's own notices. */
export function isHandoffNotice(activity: Partial<Activity>): boolean {
  return activity.channelData?.switchboard?.notice === 'handoff';
}

/** A step after a resolution: `continueWith` runs a proactive turn on the customer's channel. */
export type ResolvedListener = (record: ConversationRecord, continueWith: (logic: (context: TurnContext) => Promise<void>) => Promise<void>) => Promise<void>;

/** The channel has no adapter in this server (so no reply can go out). */
export class ChannelUnavailableError extends Error {
  override name = 'ChannelUnavailableError';
}

export interface HandoffHubOptions {
  store: QueueStore;
  /** Read for the agent's transcript, and where handoff events are recorded. */
  transcripts?: TranscriptStore;
  /** By `channelId`; replies to customers go through these. */
  adapters?: Record<string, ChannelAdapter>;
  /** For teams (entry tags) and the names of rejected entries. */
  knowledge?: KnowledgeSearcher;
  businessHours?: BusinessHours;
  strings?: HandoffStrings;
  priorities?: Partial<Record<HandoffReason, number>>;
  clock?: Clock;
  logger?: Logger;
  /** Passed to `continueConversationAsync` (our adapters ignore it). */
  botAppId?: string;
  /**
   * Carries events and presence to the other instances (a `PgEventBus`); default: this process only.
   * The hub does not close it: whoever opened it does, after `hub.close()`.
   */
  bus?: EventBus;
  /** Presence heartbeat and expiry (defaults: 10 s and 30 s; see presence.ts). */
  presence?: { heartbeatMs?: number; expiryMs?: number };
  /** Hears this hub's own conversation changes (not other instances'), e.g. the analytics recorder: each change once. */
  observe?: (change: Extract<HubEvent, { type: 'conversation' }>['change'], record: ConversationRecord) => void;
}

/** Orders the queue: higher priority first, then first come first served. */
export function queueOrder(a: ConversationRecord, b: ConversationRecord): number {
  return b.priority - a.priority || (a.queuedAt ?? '').localeCompare(b.queuedAt ?? '') || a.id.localeCompare(b.id);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The queue and its live events; one per server, several servers sharing one store and one bus. */
export class HandoffHub {
  /** Names this hub in the events and presence it publishes. */
  readonly instanceId = randomUUID();
  readonly store: QueueStore;
  readonly strings: HandoffStrings;
  readonly adapters: Record<string, ChannelAdapter>;
  readonly transcripts?: TranscriptStore;
  readonly knowledge?: KnowledgeSearcher;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly events: HubEventStream;
  private readonly presence: AgentPresence;
  /** Owner (and the record version it was read at) of each conversation saved, read or heard of, for the synchronous send filter. */
  private readonly owners = new Map<string, { owner: Owner; version: number }>();
  private handlingTimes?: number[];

  constructor(private readonly options: HandoffHubOptions) {
    this.store = options.store;
    this.strings = options.strings ?? defaultHandoffStrings;
    this.adapters = options.adapters ?? {};
    this.transcripts = options.transcripts;
    this.knowledge = options.knowledge;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    const bus = options.bus ?? new LocalEventBus();
    this.events = new HubEventStream(bus, this.instanceId, this.logger, (e) => this.heard(e));
    this.presence = new AgentPresence({
      bus,
      instanceId: this.instanceId,
      clock: this.clock,
      logger: this.logger,
      onChange: (agentsOnline) => this.events.deliver({ type: 'presence', agentsOnline }),
      ...options.presence,
    });
    for (const adapter of Object.values(this.adapters)) {
      const off = adapter.onCustomerTyping?.((conversationId) => this.customerTyping(conversationId));
      if (off) this.stopListening.push(off);
    }
  }

  /** Stops the adapters' typing listeners at close. */
  private readonly stopListening: (() => void)[] = [];

  /** Stops the presence heartbeat (telling other instances this one's agents are gone) and stops listening to the bus. */
  async close(): Promise<void> {
    for (const off of this.stopListening.splice(0)) off();
    this.presence.close();
    this.events.close();
    await this.settled();
  }

  /** The sentences for a customer's locale (the configured `strings` when given, else the bot's strings file). */
  stringsFor(locale?: string): HandoffStrings {
    return this.options.strings ?? handoffStrings(locale);
  }

  // ---- events and presence -------------------------------------------------------------------

  /** Listens to queue, message and presence events from every instance; returns the function that stops listening. */
  subscribe(listener: (e: HubEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  private emit(e: Exclude<HubEvent, { type: 'presence' }>): void {
    if (e.type === 'conversation') this.options.observe?.(e.change, e.conversation);
    this.events.publish(e);
  }

  /** Keeps this instance's caches right when another instance changed a conversation. */
  private heard(e: HubEvent): void {
    if (e.type !== 'conversation') return;
    this.remember(e.conversation);
    if (e.change === 'resolved') this.handlingTimes = undefined; // read again, with the other instance's handling time
  }

  /** Records an owner unless a newer version of the conversation is already known (events and reads can cross). */
  private remember(r: ConversationRecord): void {
    const known = this.owners.get(r.id);
    if (!known || known.version <= r.version) this.owners.set(r.id, { owner: r.owner, version: r.version });
  }

  /** Marks an agent online (on every instance) while a console is connected; returns the release function. */
  agentConnected(agentId: string): () => void {
    return this.presence.connect(agentId);
  }

  /** Agents with a console open on any instance. */
  onlineAgents(): string[] {
    return this.presence.online();
  }

  /** Whether agents work now (always true without configured business hours). */
  isOpen(at: Date = this.clock.now()): boolean {
    return this.options.businessHours?.isOpen(at) ?? true;
  }

  // ---- reading -------------------------------------------------------------------------------

  async get(id: string): Promise<ConversationRecord | undefined> {
    const r = await this.store.get(id);
    if (r) this.remember(r);
    return r;
  }

  async mustGet(id: string): Promise<ConversationRecord> {
    const r = await this.get(id);
    if (!r) throw new ConversationNotFoundError(id);
    return r;
  }

  /** Records in queue order for `queued`, most recent first otherwise. */
  async list(query?: QueueQuery): Promise<ConversationRecord[]> {
    const rows = await this.store.list(query);
    if (query?.owner === 'queued') return rows.sort(queueOrder);
    return rows.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }

  /** The owner as last seen by this process, without I/O (the middleware's send filter needs it synchronously). */
  knownOwner(id: string): Owner | undefined {
    return this.owners.get(id)?.owner;
  }

  /** 1-based place in the queue (among everyone waiting, by priority then time), or undefined when not queued. */
  async position(id: string): Promise<number | undefined> {
    const queued = await this.list({ owner: 'queued' });
    const i = queued.findIndex((r) => r.id === id);
    return i < 0 ? undefined : i + 1;
  }

  /**
   * An honest wait estimate: the median of recent handling times (claim → resolve) times the number
   * of "rounds" before this customer, given the agents online. No agents or no history: no estimate.
   */
  async estimateWaitMs(position: number): Promise<number | undefined> {
    const agents = this.onlineAgents().length;
    if (agents === 0 || !this.isOpen()) return undefined;
    const samples = await this.recentHandlingTimes();
    if (samples.length === 0) return undefined;
    return median(samples) * Math.ceil(position / agents);
  }

  private async recentHandlingTimes(): Promise<number[]> {
    if (!this.handlingTimes) {
      const done = (await this.store.list({ resolved: true }))
        .filter((r) => r.assignedAt && r.resolvedAt)
        .sort((a, b) => a.resolvedAt!.localeCompare(b.resolvedAt!))
        .slice(-WAIT_SAMPLE_SIZE);
      this.handlingTimes = done.map((r) => Date.parse(r.resolvedAt!) - Date.parse(r.assignedAt!)).filter((ms) => ms >= 0);
    }
    return this.handlingTimes;
  }

  /** The reply window of a Messenger/WhatsApp conversation, if its adapter knows one. */
  async replyWindow(record: Pick<ConversationRecord, 'id' | 'channelId'>): Promise<ReplyWindow | undefined> {
    const adapter = this.adapters[record.channelId];
    try {
      return await adapter?.replyWindow?.(record.id);
    } catch (err) {
      this.logger.warn('reply window unavailable', { conversationId: record.id, error: (err as Error).message });
      return undefined;
    }
  }

  /** Messages to this customer that the platform finally refused, so the console can say why a reply did not arrive. */
  async deliveryFailures(record: Pick<ConversationRecord, 'id' | 'channelId'>): Promise<DeliveryFailure[]> {
    try {
      return (await this.adapters[record.channelId]?.sendFailures?.(record.id)) ?? [];
    } catch (err) {
      this.logger.warn('delivery failures unavailable', { conversationId: record.id, error: (err as Error).message });
      return [];
    }
  }

  /**
   * Every activity of this conversation and of the same customer's earlier ones on the same channel,
   * oldest first (customer identities are per channel: a Messenger PSID and a WhatsApp number cannot be linked).
   */
  async transcript(record: ConversationRecord): Promise<Activity[]> {
    if (!this.transcripts) return [];
    const ids = new Set((await this.store.list({ channelId: record.channelId, customerId: record.customer.id })).map((r) => r.id));
    // A store that indexes customers (LowdbTranscriptStore) also knows conversations the queue never saw.
    const byUser = (this.transcripts as Partial<CustomerIndexedTranscripts>).listTranscriptsOfUser;
    if (byUser) for (const info of await byUser.call(this.transcripts, record.channelId, record.customer.id)) ids.add(info.id);
    ids.delete(record.id);
    const all: Activity[] = [];
    for (const conv of [...[...ids].map((id) => ({ id, channelId: record.channelId })), record]) {
      let token: string | undefined;
      do {
        const page = await this.transcripts.getTranscriptActivities(conv.channelId, conv.id, token);
        all.push(...page.items);
        token = page.continuationToken || undefined;
      } while (token);
    }
    const time = (a: Activity) => new Date(a.timestamp ?? 0).getTime();
    return all.sort((a, b) => time(a) - time(b));
  }

  // ---- bot side ------------------------------------------------------------------------------

  /** Makes sure the queue knows this conversation (created bot-owned on the customer's first message). */
  async touch(context: TurnContext): Promise<ConversationRecord> {
    const a = context.activity;
    const existing = await this.get(a.conversation.id);
    if (existing) return existing;
    const now = this.clock.now().toISOString();
    const record: ConversationRecord = {
      id: a.conversation.id,
      channelId: a.channelId,
      reference: TurnContext.getConversationReference(a),
      customer: { id: a.from?.id ?? 'unknown', name: a.from?.name },
      owner: 'bot',
      priority: 0,
      rejectedEntryIds: [],
      notes: [],
      createdAt: now,
      updatedAt: now,
      handoffs: 0,
      version: 0,
    };
    try {
      const saved = await this.store.save(record);
      this.remember(saved);
      this.emit({ type: 'conversation', change: 'seen', conversation: saved });
      return saved;
    } catch (err) {
      if (err instanceof VersionConflictError) return this.mustGet(record.id); // created by a concurrent turn
      throw err;
    }
  }

  /** Reads, changes and saves with the store's compare-and-set, retrying when someone else saved first. */
  private async mutate(id: string, change: (r: ConversationRecord) => ConversationRecord): Promise<ConversationRecord> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.mustGet(id);
      const next = change(current);
      next.updatedAt = this.clock.now().toISOString();
      try {
        const saved = await this.store.save(next);
        this.remember(saved);
        return saved;
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err;
      }
    }
    throw new ConflictError(`Handoff: conversation ${id} is changing too often to update; try again`);
  }

  /**
   * Queues the conversation for a human (the bot side of `HandoffRequester.requestHandoff`): records
   * the handoff context, attaches the transcript to a `handoff.initiate` event, and tells consoles.
   */
  async requestHandoff(context: TurnContext, request: HandoffRequest): Promise<HandoffOutcome> {
    const base = await this.touch(context);
    const a = context.activity;
    if (base.owner !== 'bot') {
      const position = (await this.position(base.id)) ?? 0;
      return { record: base, alreadyQueued: true, position, open: this.isOpen(), agentsOnline: this.onlineAgents().length, waitMs: position ? await this.estimateWaitMs(position) : undefined };
    }
    const team = request.entryId ? this.knowledge?.get(request.entryId)?.tags.find((t) => !NON_TEAM_TAGS.includes(t)) : undefined;
    const priority = this.options.priorities?.[request.reason] ?? DEFAULT_PRIORITIES[request.reason];
    const now = this.clock.now().toISOString();
    // Any bot's question is kept bounded on the record (rewritten on every change); the transcript has it whole.
    const question = boundQuestion(request.question);
    const record = await this.mutate(base.id, (r) => {
      if (r.owner !== 'bot') return r; // a concurrent turn queued it first
      return {
        ...r,
        owner: 'queued',
        agentId: undefined,
        agentName: undefined,
        reference: TurnContext.getConversationReference(a),
        customer: { id: r.customer.id, name: a.from?.name ?? r.customer.name },
        team,
        priority,
        queuedAt: now,
        assignedAt: undefined,
        reason: request.reason,
        question,
        rejectedEntryIds: request.rejectedEntryIds ?? [],
        summary: undefined,
        handoffs: r.handoffs + 1,
      };
    });
    this.emit({ type: 'conversation', change: 'queued', conversation: record });
    this.logger.info('handoff queued', { conversationId: record.id, channelId: record.channelId, reason: request.reason });
    // Reading the transcript and running recognizers-text takes longer than queueing: it happens
    // after the consoles know, and they receive the summary as a follow-up change.
    const current = JSON.parse(JSON.stringify(a)) as Activity;
    const handoffContext = { reason: request.reason, question, rejectedEntryIds: request.rejectedEntryIds ?? [], entryId: request.entryId, team, priority };
    this.track(this.enrich(record, current, handoffContext));
    const position = (await this.position(record.id)) ?? 1;
    return { record, alreadyQueued: false, position, waitMs: await this.estimateWaitMs(position), open: this.isOpen(), agentsOnline: this.onlineAgents().length };
  }

  private readonly pending = new Set<Promise<void>>();

  private track(work: Promise<void>): void {
    const p = work.catch((err) => this.logger.error('handoff context failed', { error: (err as Error).message }));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Resolves when the background work of earlier handoffs (transcript, summary, handoff.initiate) is done (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  /** What the agent reads first: the customer's problem in their words, then the details, dates resolved per message (in the summary worker). */
  private summaryOf(record: ConversationRecord, transcript: Partial<Activity>[]) {
    return summarizeOffThread(customerMessages(transcript, record.customer.id), undefined, this.clock.now(), {
      question: record.question,
      timeZone: this.options.businessHours?.timeZone,
    });
  }

  /** Adds the summary and records `handoff.initiate` with the transcript attached. */
  private async enrich(record: ConversationRecord, current: Activity, handoffContext: Record<string, unknown>): Promise<void> {
    const transcript = await this.transcriptWithCurrent(record, current);
    const summary = await this.summaryOf(record, transcript);
    const saved = await this.mutate(record.id, (r) => (r.handoffs === record.handoffs ? { ...r, summary } : r));
    const context = { activity: current } as unknown as TurnContext; // EventFactory reads only `context.activity`
    await this.recordEvent(saved, EventFactory.createHandoffInitiation(context, { ...handoffContext, summary: summary.text }, { activities: transcript }));
    this.emit({ type: 'conversation', change: 'summarized', conversation: saved });
  }

  /** The stored transcript plus this turn's incoming activity (botbuilder's logger writes it only at the end of the turn). */
  private async transcriptWithCurrent(record: ConversationRecord, current: Partial<Activity>): Promise<Activity[]> {
    const stored = await this.transcript(record);
    if (current.type === ActivityTypes.Message && !stored.some((x) => x.id && x.id === current.id && x.conversation?.id === current.conversation?.id)) stored.push(current as Activity);
    return stored;
  }

  /** The one message that tells the customer what happens next. */
  describeOutcome(o: HandoffOutcome, locale?: string): string {
    const s = this.stringsFor(locale);
    if (o.alreadyQueued) return s.alreadyQueued;
    const parts = [s.queued];
    if (!o.open) parts.push(fill(s.closed, { hours: this.options.businessHours?.describe() ?? '' }));
    else if (o.agentsOnline === 0) parts.push(s.noAgentOnline);
    else if (o.waitMs !== undefined) parts.push(fill(s.position, { position: o.position, minutes: Math.max(1, Math.round(o.waitMs / 60_000)) }));
    else parts.push(fill(s.positionNoEstimate, { position: o.position }));
    parts.push(s.howToCancel);
    return parts.join(' ');
  }

  /** The customer withdrew while waiting: the bot owns the conversation again. */
  async cancel(id: string): Promise<ConversationRecord> {
    const record = await this.mutate(id, (r) => {
      if (r.owner !== 'queued') throw new ConflictError(`Handoff: conversation ${id} is not waiting (owner ${r.owner}); nothing to cancel`);
      return { ...r, owner: 'bot', agentId: undefined, agentName: undefined };
    });
    await this.recordEvent(record, this.statusEvent(record, 'failed', 'cancelled by the customer'));
    this.emit({ type: 'conversation', change: 'cancelled', conversation: record });
    return record;
  }

  /** A customer message while a human owns the conversation: straight to the consoles. */
  customerMessage(conversationId: string, activity: Partial<Activity>): void {
    this.emit({ type: 'message', conversationId, activity: slim(activity) });
  }

  // ---- agent side ----------------------------------------------------------------------------

  /**
   * Claims a queued conversation, or takes over a live bot conversation (`agent-takeover`). Atomic:
   * of many agents claiming at once exactly one wins; the others get `ConflictError` naming the holder.
   */
  async claim(id: string, agent: AgentRef): Promise<ConversationRecord> {
    const capacity = agent.capacity ?? DEFAULT_AGENT_CAPACITY;
    const held = (await this.store.list({ owner: 'assigned' })).filter((r) => r.agentId === agent.id && r.id !== id).length;
    let tookOver = false;
    let changed = false;
    const now = this.clock.now().toISOString();
    const record = await this.mutate(id, (r) => {
      changed = false;
      if (r.owner === 'assigned') {
        if (r.agentId === agent.id) return r;
        throw new ConflictError(`Handoff: ${r.agentName ?? r.agentId} already holds conversation ${id}`, { agentId: r.agentId!, agentName: r.agentName });
      }
      if (held >= capacity) throw new ConflictError(`Handoff: ${agent.name} already holds ${held} conversations (capacity ${capacity}); resolve or transfer one first`);
      if (r.owner === 'queued' && r.team && agent.teams?.length && !agent.teams.includes(r.team)) {
        throw new ConflictError(`Handoff: conversation ${id} waits for team ${r.team}, and ${agent.name} is not in it; transfer it instead`);
      }
      tookOver = r.owner === 'bot';
      changed = true;
      return {
        ...r,
        owner: 'assigned',
        agentId: agent.id,
        agentName: agent.name,
        assignedAt: now,
        ...(tookOver ? { reason: 'agent-takeover' as const, queuedAt: now, question: undefined, rejectedEntryIds: [], priority: DEFAULT_PRIORITIES['agent-takeover'], handoffs: r.handoffs + 1 } : {}),
      };
    });
    if (!changed) return record; // the holder claimed again: nothing changed
    if (tookOver) this.track(this.initiateTakeover(record));
    await this.recordEvent(record, this.statusEvent(record, 'accepted', `claimed by ${agent.name}`));
    this.emit({ type: 'conversation', change: 'claimed', conversation: record });
    await this.notify(record, fill(this.stringsFor(record.reference.locale).agentJoined, { agent: agent.name }));
    return record;
  }

  private async initiateTakeover(record: ConversationRecord): Promise<void> {
    const transcript = await this.transcript(record);
    const summary = await this.summaryOf(record, transcript);
    const saved = await this.mutate(record.id, (r) => (r.handoffs === record.handoffs ? { ...r, summary } : r));
    const activity = TurnContext.applyConversationReference({ type: ActivityTypes.Message, id: undefined }, record.reference, true) as Activity;
    const fakeContext = { activity } as unknown as TurnContext; // EventFactory only reads `context.activity`
    await this.recordEvent(saved, EventFactory.createHandoffInitiation(fakeContext, { reason: 'agent-takeover', agentId: record.agentId, summary: summary.text }, { activities: transcript }));
    this.emit({ type: 'conversation', change: 'summarized', conversation: saved });
  }

  /**
   * Hands the conversation to another agent (assigned to them) or back to a team's queue (keeping its
   * place). The customer is told who takes over or that they wait again, and the transcript gets a
   * `handoff.transfer` line saying who moved it where.
   */
  async transfer(id: string, by: AgentRef, to: { agent?: AgentRef; team?: string }): Promise<ConversationRecord> {
    const now = this.clock.now().toISOString();
    const record = await this.mutate(id, (r) => {
      if (r.owner === 'bot') throw new ConflictError(`Handoff: conversation ${id} is with the bot; claim it to take over instead`);
      if (r.owner === 'assigned' && r.agentId !== by.id) {
        throw new ConflictError(`Handoff: ${r.agentName ?? r.agentId} holds conversation ${id}; only they can transfer it`, { agentId: r.agentId!, agentName: r.agentName });
      }
      if (to.agent) return { ...r, owner: 'assigned', agentId: to.agent.id, agentName: to.agent.name, assignedAt: now };
      return { ...r, owner: 'queued', agentId: undefined, agentName: undefined, assignedAt: undefined, team: to.team || undefined };
    });
    const s = this.stringsFor(record.reference.locale);
    // The team the new agent answers for here: the conversation's own when they are in it, else their first.
    const team = to.agent ? (to.agent.teams?.includes(record.team ?? '') ? record.team : to.agent.teams?.[0]) : record.team;
    const where = to.agent ? to.agent.name : team ? `the ${team} queue` : 'the queue';
    const transferEvent = EventFactory.createHandoffStatus({ id: record.id, name: '', isGroup: false, conversationType: '' } as any, 'transferred', `transferred by ${by.name} to ${where}`);
    transferEvent.name = 'handoff.transfer'; // not a state of the Bot Framework handoff protocol: its own event name
    transferEvent.from = record.reference.bot ?? { id: 'switchboard', name: 'Switchboard' };
    transferEvent.value = { ...transferEvent.value, by: { id: by.id, name: by.name }, to: to.agent ? { agentId: to.agent.id, agentName: to.agent.name } : { team: team ?? null } };
    await this.recordEvent(record, transferEvent);
    this.emit({ type: 'conversation', change: 'transferred', conversation: record });
    const told = to.agent
      ? fill(team ? s.transferredToAgent : s.transferredToAgentNoTeam, { agent: to.agent.name, team: team ?? '' })
      : team ? fill(s.transferredToQueue, { team }) : s.transferredToQueueNoTeam;
    await this.notify(record, told);
    return record;
  }

  private readonly agentTypingAt = new Map<string, number>();

  /**
   * The holder is writing a reply: the customer's channel shows its typing indicator (Web Chat's
   * "typing…", Messenger's `typing_on`, WhatsApp's indicator). At most one every `AGENT_TYPING_INTERVAL_MS`
   * per conversation is sent (each one shows for a few seconds); returns whether this one was.
   */
  async sendAgentTyping(id: string, by: AgentRef): Promise<boolean> {
    const record = await this.mustGet(id);
    if (record.owner !== 'assigned' || record.agentId !== by.id) {
      throw new ConflictError(`Handoff: typing in conversation ${id} is shown only for the agent holding it; claim it first`, record.owner === 'assigned' ? { agentId: record.agentId!, agentName: record.agentName } : undefined);
    }
    const now = this.clock.now().getTime();
    if (now - (this.agentTypingAt.get(id) ?? -Infinity) < AGENT_TYPING_INTERVAL_MS) return false;
    this.agentTypingAt.set(id, now);
    if (this.agentTypingAt.size > 10_000) this.agentTypingAt.delete(this.agentTypingAt.keys().next().value!);
    const typing: Partial<Activity> = { type: ActivityTypes.Typing, channelData: { switchboard: { agent: { agentId: by.id, agentName: by.name } } } };
    await this.deliver(record, typing);
    return true;
  }

  /** A customer is typing (a web chat `typing` activity): consoles hear it while a person owns the conversation. */
  customerTyping(conversationId: string): void {
    const known = this.knownOwner(conversationId);
    const tell = (owner: Owner | undefined) => {
      if (owner === 'queued' || owner === 'assigned') this.emit({ type: 'typing', conversationId, from: 'customer' });
    };
    if (known) return tell(known);
    this.get(conversationId).then(
      (r) => tell(r?.owner),
      (err) => this.logger.debug('customer typing: owner unknown', { conversationId, error: (err as Error).message }),
    );
  }

  /** Hands the conversation back to the bot and tells the customer so. */
  async resolve(id: string, by: AgentRef): Promise<ConversationRecord> {
    let assignedAt: string | undefined;
    const now = this.clock.now().toISOString();
    const record = await this.mutate(id, (r) => {
      if (r.owner === 'bot') throw new ConflictError(`Handoff: conversation ${id} is already with the bot`);
      if (r.owner === 'assigned' && r.agentId !== by.id) {
        throw new ConflictError(`Handoff: ${r.agentName ?? r.agentId} holds conversation ${id}; only they can resolve it`, { agentId: r.agentId!, agentName: r.agentName });
      }
      assignedAt = r.assignedAt;
      return { ...r, owner: 'bot', agentId: undefined, agentName: by.name, resolvedAt: now };
    });
    // A cold cache is read from the store, which already holds this resolution: add it only to a warm one.
    const times = this.handlingTimes;
    if (assignedAt && times) {
      times.push(Date.parse(now) - Date.parse(assignedAt));
      if (times.length > WAIT_SAMPLE_SIZE) times.shift();
    }
    await this.recordEvent(record, this.statusEvent(record, 'completed', `resolved by ${by.name}`));
    this.emit({ type: 'conversation', change: 'resolved', conversation: record });
    await this.notify(record, fill(this.stringsFor(record.reference.locale).resolved, { agent: by.name }));
    for (const listener of this.resolvedListeners) {
      // A step after the resolve (the survey) must never make the agent's resolve fail.
      await listener(record, (logic) => this.continueWith(record, logic)).catch((err: Error) =>
        this.logger.warn('after-resolve step failed', { conversationId: id, error: err.message }),
      );
    }
    return record;
  }

  private readonly resolvedListeners: ResolvedListener[] = [];

  /**
   * Runs `listener` after each resolution this instance makes, once the customer has been told (the
   * satisfaction survey, src/bot/csat.ts); it gets the proactive turn to reply in. Returns the unsubscribe.
   */
  onResolved(listener: ResolvedListener): () => void {
    this.resolvedListeners.push(listener);
    return () => {
      const i = this.resolvedListeners.indexOf(listener);
      if (i >= 0) this.resolvedListeners.splice(i, 1);
    };
  }

  /** Keeps an agent-only note on the conversation. */
  async addNote(id: string, by: AgentRef, text: string): Promise<ConversationRecord> {
    const record = await this.mutate(id, (r) => ({ ...r, notes: [...r.notes, { at: this.clock.now().toISOString(), agentId: by.id, agentName: by.name, text }] }));
    this.emit({ type: 'conversation', change: 'noted', conversation: record });
    return record;
  }

  /**
   * Sends the holder's reply, with any `attachments` (from `mediaAttachment`), on the customer's channel. A platform refusal (e.g. the adapter's
   * `ReplyWindowClosedError`) is thrown to the caller so the console can show it — never dropped.
   */
  async sendAgentMessage(id: string, by: AgentRef, text: string, attachments: Attachment[] = []): Promise<Partial<Activity>> {
    const record = await this.mustGet(id);
    if (record.owner !== 'assigned' || record.agentId !== by.id) {
      const holder = record.owner === 'assigned' ? { agentId: record.agentId!, agentName: record.agentName } : undefined;
      throw new ConflictError(
        record.owner === 'assigned'
          ? `Handoff: ${record.agentName ?? record.agentId} holds conversation ${id}; only they can reply`
          : `Handoff: conversation ${id} is ${record.owner === 'queued' ? 'waiting in the queue' : 'with the bot'}; claim it before replying`,
        holder,
      );
    }
    const activity = MessageFactory.text(text);
    if (attachments.length) activity.attachments = attachments; // stored files: each adapter sends them its own way
    if (!text) delete activity.text;
    activity.channelData = { switchboard: { agent: { agentId: by.id, agentName: by.name } } };
    const response = await this.deliver(record, activity);
    const sent = { ...activity, id: response?.id ?? activity.id, timestamp: this.clock.now(), from: { id: by.id, name: by.name, role: 'bot' } };
    this.emit({ type: 'message', conversationId: id, activity: slim(sent) });
    return sent;
  }

  /** A proactive message through the channel's adapter; runs the adapter's middleware (so it is logged). */
  private async deliver(record: ConversationRecord, activity: Partial<Activity>): Promise<ResourceResponse | undefined> {
    let response: ResourceResponse | undefined;
    await this.continueWith(record, async (ctx) => {
      response = await ctx.sendActivity(activity);
    });
    return response;
  }

  /** Runs `logic` in a proactive turn on the customer's channel, through the adapter's middleware (so what it sends is logged). */
  async continueWith(record: ConversationRecord, logic: (context: TurnContext) => Promise<void>): Promise<void> {
    const adapter = this.adapters[record.channelId];
    if (!adapter) throw new ChannelUnavailableError(`Handoff: no adapter for channel ${record.channelId} in this server; enable the channel to reply`);
    try {
      await adapter.continueConversationAsync(this.options.botAppId ?? '', record.reference, logic);
    } catch (err) {
      if ((err as Error).message !== 'NotImplemented') throw err;
      await adapter.continueConversation(record.reference, logic); // adapters that only implement the older method
    }
  }

  /** A notice to the customer that must not make the agent's action fail (e.g. the window has closed). */
  private async notify(record: ConversationRecord, text: string): Promise<void> {
    // Says who holds the conversation now, so the customer's page can show the agent (or the assistant again).
    const status = record.owner === 'assigned' && record.agentName ? fill(this.stringsFor(record.reference.locale).agentStatus, { agent: record.agentName }) : undefined;
    const owner: NoticeOwner = { owner: record.owner, ...(record.owner === 'assigned' && record.agentName ? { agentName: record.agentName } : {}), ...(status ? { status } : {}) };
    try {
      await this.deliver(record, handoffNotice(text, owner));
    } catch (err) {
      this.logger.warn('handoff notice not delivered', { conversationId: record.id, channelId: record.channelId, error: (err as Error).message });
    }
  }

  private statusEvent(record: ConversationRecord, state: 'accepted' | 'completed' | 'failed', message?: string): Partial<Activity> {
    const event = EventFactory.createHandoffStatus({ id: record.id, name: '', isGroup: false, conversationType: '' } as any, state, message);
    event.from = record.reference.bot ?? { id: 'switchboard', name: 'Switchboard' };
    if (record.reference.user) event.recipient = record.reference.user;
    return event;
  }

  /**
   * Handoff events are written to the transcript (where any Bot Framework hub reading it finds them)
   * and never sent through the channel adapter: customers must not see them. They carry
   * `channelData.switchboard.system`, the mark the console draws system lines from: a customer can post
   * an event of the same name, but the channels strip `channelData.switchboard` from what customers send.
   */
  private async recordEvent(record: ConversationRecord, event: Partial<Activity>): Promise<void> {
    if (!this.transcripts) return;
    const activity = {
      ...event,
      channelData: { ...event.channelData, switchboard: { ...event.channelData?.switchboard, system: true } },
      id: `handoff-${randomUUID()}`,
      channelId: record.channelId,
      conversation: { ...(record.reference.conversation ?? {}), id: record.id },
      timestamp: this.clock.now(),
    } as Activity;
    try {
      await this.transcripts.logActivity(activity);
    } catch (err) {
      this.logger.error('handoff event not recorded', { conversationId: record.id, name: event.name, error: (err as Error).message });
    }
  }
}

/** What the console needs of an activity (no raw platform payloads). */
export function slim(a: Partial<Activity>): Partial<Activity> {
  return {
    id: a.id,
    type: a.type,
    name: a.name,
    text: a.text,
    timestamp: a.timestamp,
    from: a.from,
    conversation: a.conversation ? ({ id: a.conversation.id } as Activity['conversation']) : undefined,
    // A file's size, a location's coordinates: what the console shows beside the link (src/media/attachments.ts).
    attachments: a.attachments?.filter((x) => x.name !== 'Transcript').map((x) => ({ contentType: x.contentType, name: x.name, contentUrl: x.contentUrl, ...mediaContentOf(x) })),
    suggestedActions: a.suggestedActions,
    value: a.type === ActivityTypes.Event ? a.value : undefined,
    channelData: a.channelData?.switchboard ? { switchboard: a.channelData.switchboard } : undefined,
  };
}
