/**
 * The handoff queue's storage contract: one record per conversation, saved with an optimistic
 * version check. It is deliberately small (get, list, save-if-unchanged) so a server database can
 * implement it later: in PostgreSQL `save` is `UPDATE ... SET version = version + 1 WHERE id = $1 AND
 * version = $2` (or an `INSERT` for version 0), and everything atomic in the queue (claims, transfers)
 * is built on that one compare-and-set.
 */
import type { ConversationReference } from 'botbuilder';
import type { HandoffReason, Owner } from './types.js';

/**
 * What an agent reads before writing: the customer's problem in their own words, then the details
 * pulled out of their messages (recognizers-text), so nobody scrolls the transcript for a number.
 * The optional fields are absent on summaries stored before they existed.
 */
export interface HandoffSummary {
  /** The customer's substantive messages (no greetings, "yes"/"no" or picked buttons), oldest first, each shortened. */
  problem?: string[];
  emails: string[];
  /** E.164 (`+447700900123`) when the customer gave the country code; as written otherwise. */
  phoneNumbers: string[];
  /** Order, ticket and other reference numbers, as written (`A-77812`). */
  orderNumbers: string[];
  /** Postcodes, normalised (`SW1A 1AA`, `K1A 0B1`, `94103`). */
  postcodes?: string[];
  /** Money with its currency: `500 EUR`, `£30`, `$12.50`. */
  amounts?: string[];
  /** Dates resolved against the message's own time: `Fri 27 Nov`, `27–29 Nov`, `since Mon 23 Nov, morning`. */
  dates: string[];
  /** One line for logs and the `handoff.initiate` event, e.g. `"no signal since this morning" · postcode SW1A 1AA · date since Mon 23 Nov, morning`. */
  text: string;
}

/** A note an agent keeps on a conversation (visible to agents only). */
export interface ConversationNote {
  at: string;
  agentId: string;
  agentName: string;
  text: string;
}

/**
 * Everything the queue knows about one conversation. Created the first time the customer writes
 * (owner `bot`), so an agent can also take over a live bot conversation.
 */
export interface ConversationRecord {
  /** The channel's conversation id (unique across our channels: web chat ids, PSIDs and wa_ids differ). */
  id: string;
  channelId: string;
  /** Where proactive replies go (`adapter.continueConversationAsync`). */
  reference: Partial<ConversationReference>;
  customer: { id: string; name?: string };
  owner: Owner;
  /** The assigned agent while `owner` is `assigned`. */
  agentId?: string;
  agentName?: string;
  /** Team that should answer (from the matched entry's tags); undefined: any agent. */
  team?: string;
  /** Higher is served first; within one priority, first queued is served first. */
  priority: number;
  /** ISO times. */
  queuedAt?: string;
  assignedAt?: string;
  resolvedAt?: string;
  reason?: HandoffReason;
  question?: string;
  rejectedEntryIds: string[];
  summary?: HandoffSummary;
  notes: ConversationNote[];
  createdAt: string;
  updatedAt: string;
  /** How many times this conversation went to a human (0 for a conversation only the bot has seen). */
  handoffs: number;
  /** Optimistic concurrency: the store bumps it on every save; 0 means "not stored yet". */
  version: number;
}

/** Filter for `QueueStore.list`; every given field must match. */
export interface QueueQuery {
  owner?: Owner;
  /** Only conversations that have been resolved at least once (`resolvedAt` set) and are back with the bot. */
  resolved?: boolean;
  channelId?: string;
  customerId?: string;
}

/** The small storage interface of the handoff queue (see the file comment for the PostgreSQL mapping). */
export interface QueueStore {
  get(id: string): Promise<ConversationRecord | undefined>;
  list(query?: QueueQuery): Promise<ConversationRecord[]>;
  /**
   * Saves `record` if the stored version still equals `record.version` (0: must not exist yet) and
   * returns it with the new version; otherwise throws `VersionConflictError` and stores nothing.
   */
  save(record: ConversationRecord): Promise<ConversationRecord>;
  /** How many conversations each channel has waiting (`queued`) or with an agent (`assigned`): counted, not read (metrics scrape it). */
  countOpen(): Promise<OpenCount[]>;
  close?(): Promise<void>;
}

/** One line of `QueueStore.countOpen`. */
export interface OpenCount {
  channelId: string;
  owner: 'queued' | 'assigned';
  count: number;
}

/** `countOpen` over records in memory (shared by the file and memory stores). */
export function countOpenRecords(records: Iterable<ConversationRecord>): OpenCount[] {
  const counts = new Map<string, OpenCount>();
  for (const r of records) {
    if (r.owner !== 'queued' && r.owner !== 'assigned') continue;
    const key = `${r.owner} ${r.channelId}`;
    const c = counts.get(key) ?? { channelId: r.channelId, owner: r.owner, count: 0 };
    c.count++;
    counts.set(key, c);
  }
  return [...counts.values()];
}

/** Another writer saved the record first; re-read and decide again. */
export class VersionConflictError extends Error {
  override name = 'VersionConflictError';
  constructor(
    readonly id: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`QueueStore: conversation ${id} changed meanwhile (expected version ${expected}, found ${actual}); re-read it and try again`);
  }
}

/** A queue operation that cannot happen in the conversation's current state (HTTP 409); names the holder when there is one. */
export class ConflictError extends Error {
  override name = 'ConflictError';
  constructor(
    message: string,
    readonly holder?: { agentId: string; agentName?: string },
  ) {
    super(message);
  }
}

/** No conversation with that id is known to the queue (HTTP 404). */
export class ConversationNotFoundError extends Error {
  override name = 'ConversationNotFoundError';
  constructor(readonly id: string) {
    super(`Handoff: no conversation ${JSON.stringify(id)} in the queue; list them with GET /api/agent/conversations`);
  }
}

/** Matches `query` against a record (shared by store implementations). */
export function matchesQuery(r: ConversationRecord, q: QueueQuery = {}): boolean {
  if (q.owner && r.owner !== q.owner) return false;
  if (q.resolved !== undefined && (r.owner === 'bot' && !!r.resolvedAt) !== q.resolved) return false;
  if (q.channelId && r.channelId !== q.channelId) return false;
  if (q.customerId && r.customer.id !== q.customerId) return false;
  return true;
}
