/**
 * The durable state a channel's turn engine stands on, as interfaces with two backends: files in
 * DATA_DIR (one process) and PostgreSQL (several instances on one database).
 *
 * - `Inbox`: every accepted inbound activity, stored before the HTTP answer, deduplicated on the
 *   provider's id, run in order per conversation under a lease, replayed after a crash without
 *   sending again what its earlier run already sent (`recordSend` / `sentInTurn`).
 * - `DeliveryLog`: what a channel with reply windows and delivery receipts keeps (Messenger, WhatsApp):
 *   the customer's last message time, outbound message statuses, final send failures, profile names,
 *   signed bodies that could not be read.
 *
 * A `ChannelJournal` is both, for one channel: `accept` also moves the conversation's reply window.
 */
import type { Activity } from 'botbuilder';

/** An inbound activity accepted by a channel and not yet known to be processed. */
export interface InboxItem {
  /** The provider's id, the dedupe key within the channel: Meta `mid`/`wamid`, Direct Line `clientActivityID` or activity id. */
  id: string;
  conversationId: string;
  /** When it was accepted (ms since epoch). */
  at: number;
  /** The activity the bot will see (its `id` is the one the channel answered with). */
  activity: Partial<Activity>;
  /** Whether it opens the conversation's reply window (a customer message; not a reaction or a start event). */
  opensWindow: boolean;
}

/** What `accept` says of one item: new (now stored), or a repeat of one stored earlier. */
export interface AcceptResult {
  fresh: boolean;
  /** The `activity.id` stored with the first delivery of this id (a repeated POST answers with it). */
  activityId?: string;
}

/** One message activity a turn sent, so a re-run of the turn after a crash does not send it again. */
export interface TurnSend {
  /** Ordinal of the activity among the turn's sends. */
  n: number;
  /** Hash of what it says (text, suggested actions, attachments). */
  h: string;
  /** Platform ids of what went out (a long text may be several messages); the last is the activity's id. */
  ids: string[];
  at: number;
  /** A summary of the activity, so a re-run that no longer makes it can still log what the customer got. */
  activity?: Partial<Activity>;
}

/** The durable inbound queue of one channel. */
export interface Inbox {
  /** Loads or connects; idempotent. */
  open(): Promise<void>;
  /** Waits for queued writes and releases files / leases held by this process. */
  close(): Promise<void>;
  /**
   * Stores the new items durably before returning, one result per input in order (repeats of earlier
   * deliveries or within the batch are `fresh: false`). Throws a storage error (`InboxStorageError`,
   * `DatabaseUnavailableError`) when it cannot store: nothing is then accepted and the sender retries.
   */
  accept(items: InboxItem[]): Promise<AcceptResult[]>;
  /**
   * Takes, or renews, the right to run this conversation's turns for `ttlMs`. False while another
   * instance holds an unexpired lease. A process that dies leaves its leases to run out.
   */
  lease(conversationId: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease back (the next instance need not wait for it to run out). */
  release(conversationId: string): Promise<void>;
  /** The oldest item of the conversation not yet done. */
  nextPending(conversationId: string): Promise<InboxItem | undefined>;
  /** Conversations that have items not yet done and no live lease (after a restart; another instance died). */
  pendingConversations(limit?: number): Promise<string[]>;
  /** Marks an item processed (it will not run again). */
  done(id: string): Promise<void>;
  /** Records a send made in the turn of `inbound`; durable before it returns (the platform already has the message). */
  recordSend(inbound: string, send: TurnSend): Promise<void>;
  /** What earlier runs of `inbound`'s turn sent, in order (empty once it is done). */
  sentInTurn(inbound: string): Promise<TurnSend[]>;
}

/** Where an outbound message stands, from the send's answer and later webhooks. */
export type MessageStatus = 'sent' | 'delivered' | 'read' | 'failed';

/** A send that finally failed, recorded against its conversation so an agent can see it. */
export interface SendFailure {
  channelId: string;
  conversationId: string;
  at: string;
  /** The platform's error code (e.g. 10, 131047), or ours (`REPLY_WINDOW_CLOSED`, `UNREACHABLE`). */
  code: number | string;
  subcode?: number;
  message: string;
  fbtraceId?: string;
  /** The activity that was not delivered (text or summary), so nothing is silently lost. */
  activity?: Partial<Activity>;
  /** Outbound message id, when the failure came later as a status webhook. */
  messageId?: string;
}

/** A customer's name from the platform's profile API and when it was fetched (ms since epoch). */
export interface ProfileRecord {
  name: string;
  at: number;
}

/** The delivery side of a channel with reply windows and receipts. */
export interface DeliveryLog {
  /** Last time the customer wrote (ms), set by `Inbox.accept` for items that open the window. */
  lastCustomerMessageAt(conversationId: string): Promise<number | undefined>;
  recordOutbound(conversationId: string, messageId: string): Promise<void>;
  /** Updates one outbound message's status (never backwards); returns its conversation when it changed. */
  recordStatus(messageId: string, status: MessageStatus): Promise<string | undefined>;
  /** Marks outbound messages of a conversation sent at or before `watermark` (Messenger); returns those that changed. */
  recordWatermark(conversationId: string, watermark: number, status: 'delivered' | 'read'): Promise<string[]>;
  statusOf(messageId: string): Promise<MessageStatus | undefined>;
  /** Outbound messages of a conversation with their statuses, oldest first (the most recent 50). */
  outboundOf(conversationId: string): Promise<{ mid: string; at: Date; status: MessageStatus }[]>;
  recordFailure(failure: SendFailure): Promise<void>;
  /** Final failures of a conversation, oldest first (the most recent 50). */
  failuresOf(conversationId: string): Promise<SendFailure[]>;
  /** Keeps the customer's profile name, fetched at `at` (ms; default now), so every instance and restart knows how old it is. */
  recordProfile(conversationId: string, name: string, at?: number): Promise<void>;
  profileName(conversationId: string): Promise<string | undefined>;
  /** The profile name with when it was fetched (`at` 0 for names kept before fetch times were), for a cache lifetime. */
  profile(conversationId: string): Promise<ProfileRecord | undefined>;
  /** Keeps a signed body the channel could not read, for a person to look at (the most recent 200). */
  recordUnparsed(body: string, reason: string): Promise<void>;
}

/** Everything one channel keeps: its inbox and its delivery log. */
export type ChannelJournal = Inbox & DeliveryLog;

/** How long a provider id is remembered for dedupe (Meta retries for hours; 7 days is ample). */
export const DEDUPE_RETENTION_MS = 7 * 24 * 3600 * 1000;
