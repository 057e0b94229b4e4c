/**
 * `LowdbTranscriptStore`: botbuilder `TranscriptStore` on append-only JSON Lines files, one file per
 * conversation, so logging a message costs the same with 100 or 100,000 conversations stored and a
 * crash can at worst tear the last line (which the reader skips). Register it with botbuilder's
 * `TranscriptLoggerMiddleware`; paging follows `MemoryTranscriptStore` (20 per page, a token only when
 * the page is full; for conversations the token is the last id, for activities `<position>:<id>`
 * because activity ids repeat).
 *
 * Layout under `<dir>/transcripts/<channel>/`:
 * - `conversations.jsonl` — one line when a conversation starts (`{id, created}`) or is deleted (`{id, deleted}`);
 * - `c/<2 hex>/<sha256(conversation id)>.jsonl` — the activities, one per line, in logging order;
 * - `u/<2 hex>/<sha256(customer id)>.jsonl` — the conversations of one customer (`{id, created}`),
 *   so the agent console finds a customer's history without scanning every conversation.
 *
 * One process per folder (the per-conversation queue is in memory).
 */
import path from 'node:path';
import { Low } from 'lowdb';
import type { Activity, PagedResult, TranscriptInfo, TranscriptStore } from 'botbuilder';
import { systemClock, type Clock } from '../clock.js';
import { JsonLinesFile } from './adapters.js';
import { BoundedSet, fileExists, KeyedQueue, safeName, shardedPath, unlinkIfExists } from './files.js';

/** An activity as a transcript store keeps it, copied at the call (the logger reuses the object). */
export type TranscriptCopy = Omit<Activity, 'timestamp'> & { timestamp: string };

/**
 * What both transcript stores do first in `logActivity`: check the activity names its conversation, and
 * take a JSON copy with a timestamp (the clock's now when it has none). Returns the error to reject with.
 */
export function transcriptSnapshot(activity: Activity, clock: Clock, where: string): { channelId: string; conversationId: string; copy: TranscriptCopy } | Error {
  if (!activity) throw new Error('activity cannot be null for logActivity()');
  const channelId = activity.channelId;
  const conversationId = activity.conversation?.id;
  if (!channelId || !conversationId) return new Error(`${where}.logActivity: the activity needs channelId and conversation.id to be logged`);
  const copy = JSON.parse(JSON.stringify(activity)) as Omit<Activity, 'timestamp'> & { timestamp?: string };
  copy.timestamp ??= clock.now().toISOString();
  return { channelId, conversationId, copy: copy as TranscriptCopy };
}

/** Constructor options of `LowdbTranscriptStore`. */
export interface LowdbTranscriptStoreOptions {
  /** The data folder (`DATA_DIR`); transcripts go under `<dir>/transcripts`. */
  dir: string;
  /** fsync every append before it resolves (default true; off only for throwaway data). */
  fsync?: boolean;
  /** Page size of `getTranscriptActivities` and `listTranscripts` (default 20, like botbuilder's stores). */
  pageSize?: number;
  /** Fills in `timestamp` for activities logged without one (default the system clock). */
  clock?: Clock;
  /**
   * Who the customer of an activity is, for `listTranscriptsOfUser`. Default: `from.id` when `from.role`
   * is `user`, else `recipient.id` when the recipient is the user or the sender is the bot or an agent.
   */
  customerOf?: (activity: Partial<Activity>) => string | undefined;
}

/** A line of `conversations.jsonl` or of a customer's index. */
interface IndexLine {
  id: string;
  created?: string;
  deleted?: boolean;
}

const WHERE = 'LowdbTranscriptStore';
/** How many of an earlier process's last activities per conversation are checked against replays. */
const REPLAY_IDS_KEPT = 100;
const EARLIER_FILES_KEPT = 10_000;
/** botbuilder's `MemoryTranscriptStore.pageSize`. */
export const DEFAULT_TRANSCRIPT_PAGE_SIZE = 20;

/** The default `customerOf`: the user side of an activity, whichever direction it goes. */
export function defaultCustomerOf(a: Partial<Activity>): string | undefined {
  if (a.from?.role === 'user') return a.from.id;
  if (a.recipient?.role === 'user') return a.recipient.id;
  const agent = (a.channelData as { switchboard?: { agent?: unknown } } | undefined)?.switchboard?.agent;
  if (a.from?.role === 'bot' || agent) return a.recipient?.id;
  return undefined;
}

/** Revives the Date fields JSON turned into strings, so readers get what `MemoryTranscriptStore` gives. */
function revive(a: Activity): Activity {
  if (typeof a.timestamp === 'string') a.timestamp = new Date(a.timestamp);
  if (typeof a.localTimestamp === 'string') a.localTimestamp = new Date(a.localTimestamp);
  return a;
}

/** Callers get their own copies of the cached list entries. */
const copyInfo = (t: TranscriptInfo): TranscriptInfo => ({ channelId: t.channelId, id: t.id, created: new Date(t.created) });

const time = (d: Date | string | undefined) => (d ? new Date(d).getTime() : 0);

/** botbuilder's paging: skip up to and including the item whose id is the token, take a page, token = last id if the page is full. */
function page<T extends { id?: string }>(sorted: T[], token: string | undefined, size: number): PagedResult<T> {
  let start = 0;
  if (token) {
    const at = sorted.findIndex((x) => x.id === token);
    start = at === -1 ? sorted.length : at + 1;
  }
  const items = sorted.slice(start, start + size);
  const last = items[items.length - 1];
  return { items, continuationToken: items.length === size && last?.id ? last.id : (undefined as unknown as string) };
}

/**
 * Activity paging. Activity ids repeat within a transcript (TranscriptLoggerMiddleware logs a
 * MessageUpdate under the id of the message it changes), so an id alone can send a reader back to an
 * earlier page forever. The token is `<position>:<id>`; the id checks the position still holds (else the
 * id is searched, as botbuilder does), and a plain id from elsewhere is accepted too.
 */
function activityPage(sorted: Activity[], token: string | undefined, size: number): PagedResult<Activity> {
  let start = 0;
  if (token) {
    const m = /^(\d+):(.*)$/s.exec(token);
    const pos = m ? Number(m[1]) : -1;
    const id = m ? m[2] : token;
    if (pos > 0 && sorted[pos - 1]?.id === id) start = pos;
    else {
      const at = sorted.findIndex((x) => x.id === id);
      start = at === -1 ? sorted.length : at + 1;
    }
  }
  const items = sorted.slice(start, start + size);
  const next = start + items.length;
  return { items, continuationToken: items.length === size ? `${next}:${items[items.length - 1].id ?? ''}` : (undefined as unknown as string) };
}

/**
 * botbuilder `TranscriptStore` (and `TranscriptLogger`) on lowdb JSON Lines files.
 * @example adapter.use(new TurnSafeTranscriptLogger(new LowdbTranscriptStore({ dir: config.dataDir })));
 */
export class LowdbTranscriptStore implements TranscriptStore {
  /** Folder holding the transcripts. */
  readonly root: string;
  private readonly fsync: boolean;
  private readonly pageSize: number;
  private readonly clock: Clock;
  private readonly customerOf: (a: Partial<Activity>) => string | undefined;
  private readonly queue = new KeyedQueue();
  /** Conversation files known to exist (so a log is a single append); bounded so it cannot grow forever. */
  private readonly known = new BoundedSet<string>(50_000);
  /** Per conversation file written by an earlier process: the (type, id) of its last activities. */
  private readonly earlier = new Map<string, Set<string>>();
  /** The last write error per conversation, until a later write succeeds (see `whenWritten`). */
  private readonly failed = new Map<string, Error>();
  /** (conversation, customer) pairs already in the customer's index. */
  private readonly knownCustomers = new BoundedSet<string>(50_000);
  /** Each channel's conversation list, read from its index on first use and kept up to date by this process. */
  private readonly indexes = new Map<string, Promise<Map<string, TranscriptInfo>>>();
  /** The same lists sorted by creation, rebuilt after a change. */
  private readonly sortedIndexes = new Map<string, TranscriptInfo[]>();

  constructor(options: LowdbTranscriptStoreOptions) {
    if (!options?.dir) throw new Error('LowdbTranscriptStore: options.dir is required (the data folder, e.g. config.dataDir)');
    this.root = path.join(options.dir, 'transcripts');
    this.fsync = options.fsync ?? true;
    this.pageSize = options.pageSize ?? DEFAULT_TRANSCRIPT_PAGE_SIZE;
    this.clock = options.clock ?? systemClock;
    this.customerOf = options.customerOf ?? defaultCustomerOf;
  }

  /** The folder of one channel. */
  channelDir(channelId: string): string {
    return path.join(this.root, safeName(channelId));
  }

  /** The JSON Lines file of one conversation (tests, tools, benchmark setup). */
  conversationFile(channelId: string, conversationId: string): string {
    return shardedPath(path.join(this.channelDir(channelId), 'c'), conversationId, '.jsonl');
  }

  /** The index of a channel's conversations. */
  channelIndexFile(channelId: string): string {
    return path.join(this.channelDir(channelId), 'conversations.jsonl');
  }

  /** The index of one customer's conversations in a channel. */
  customerIndexFile(channelId: string, customerId: string): string {
    return shardedPath(path.join(this.channelDir(channelId), 'u'), customerId, '.jsonl');
  }

  private lines<T>(file: string) {
    return new JsonLinesFile<T>(file, { fsync: this.fsync, where: WHERE });
  }

  private async readLines<T>(file: string): Promise<T[]> {
    const db = new Low<T[]>(this.lines<T>(file), []);
    await db.read();
    return db.data;
  }

  /**
   * Appends the activity to its conversation's file. The activity is copied when called (the
   * middleware does not await and may reuse the object), and appends to one conversation keep call order.
   */
  logActivity(activity: Activity): Promise<void> {
    const snapshot = transcriptSnapshot(activity, this.clock, WHERE);
    if (snapshot instanceof Error) return Promise.reject(snapshot);
    const { channelId, conversationId, copy } = snapshot;
    const created = copy.timestamp;
    const customer = this.customerOf(activity);
    const file = this.conversationFile(channelId, conversationId);
    const key = `${channelId}\u0000${conversationId}`;
    return this.queue.run(key, () =>
      this.append(file, channelId, conversationId, copy, created, customer).then(
        () => void this.failed.delete(key),
        (err: Error) => {
          this.failed.set(key, err);
          throw err;
        },
      ),
    );
  }

  private async append(file: string, channelId: string, conversationId: string, copy: { id?: string; type?: string }, created: string, customer: string | undefined) {
    {
      const known = this.known.has(file);
      // First activity of this conversation seen by this process: is it a new conversation?
      if (!known) {
        if (!(await fileExists(file, WHERE))) {
          await this.lines<IndexLine>(this.channelIndexFile(channelId)).append([{ id: conversationId, created }]);
          await this.updateIndex(channelId, (m) => {
            if (!m.has(conversationId)) m.set(conversationId, { channelId, id: conversationId, created: new Date(created) });
          });
        } else if (!this.earlier.has(file)) {
          // Logged by an earlier process: remember its last ids, so a turn replayed after a crash
          // (the channel re-runs a message that was stored but not finished) is not logged twice.
          const tail = (await this.readLines<Activity>(file)).slice(-REPLAY_IDS_KEPT);
          this.earlier.set(file, new Set(tail.filter((a) => a?.id).map((a) => `${a.type}\u0000${a.id}`)));
          if (this.earlier.size > EARLIER_FILES_KEPT) this.earlier.delete(this.earlier.keys().next().value as string);
        }
      }
      if (copy.id && this.earlier.get(file)?.has(`${copy.type}\u0000${copy.id}`)) return;
      this.known.delete(file); // if the append fails, the next one checks the file's tail again
      await this.lines<Activity>(file).append([copy as unknown as Activity], { tailChecked: known });
      this.known.add(file);
      if (customer) await this.indexCustomer(channelId, conversationId, customer, created);
    }
  }

  private async indexCustomer(channelId: string, conversationId: string, customer: string, created: string) {
    const pair = `${channelId}\u0000${conversationId}\u0000${customer}`;
    if (this.knownCustomers.has(pair)) return;
    const file = this.customerIndexFile(channelId, customer);
    const existing = await this.readLines<IndexLine>(file);
    if (!existing.some((l) => l.id === conversationId && !l.deleted)) {
      await this.lines<IndexLine>(file).append([{ id: conversationId, created }]);
    }
    this.knownCustomers.add(pair);
  }

  /** Every activity of a conversation in timestamp order (logging order for equal timestamps). */
  async readTranscript(channelId: string, conversationId: string, startDate?: Date): Promise<Activity[]> {
    const file = this.conversationFile(channelId, conversationId);
    const all = await this.queue.run(`${channelId}\u0000${conversationId}`, () => this.readLines<Activity>(file));
    return all
      .filter((a) => a.conversation?.id === conversationId)
      .map(revive)
      .sort((a, b) => time(a.timestamp) - time(b.timestamp)) // Array.prototype.sort is stable
      .filter((a) => !startDate || time(a.timestamp) >= startDate.getTime());
  }

  async getTranscriptActivities(channelId: string, conversationId: string, continuationToken?: string, startDate?: Date): Promise<PagedResult<Activity>> {
    if (!channelId) throw new Error('Missing channelId');
    if (!conversationId) throw new Error('Missing conversationId');
    return activityPage(await this.readTranscript(channelId, conversationId, startDate), continuationToken, this.pageSize);
  }

  private async loadIndex(channelId: string): Promise<Map<string, TranscriptInfo>> {
    const lines = await this.readLines<IndexLine>(this.channelIndexFile(channelId));
    const byId = new Map<string, TranscriptInfo>();
    for (const l of lines) {
      if (typeof l.id !== 'string') continue;
      if (l.deleted) byId.delete(l.id);
      else if (!byId.has(l.id)) byId.set(l.id, { channelId, id: l.id, created: new Date(l.created ?? 0) });
    }
    return byId;
  }

  private channelIndex(channelId: string): Promise<Map<string, TranscriptInfo>> {
    let index = this.indexes.get(channelId);
    if (!index) {
      index = this.loadIndex(channelId);
      this.indexes.set(channelId, index);
      index.catch(() => this.indexes.delete(channelId)); // a failed read is retried next time
    }
    return index;
  }

  /** Applies a change to the cached list, if one is loaded (or loading); changes are idempotent. */
  private async updateIndex(channelId: string, change: (m: Map<string, TranscriptInfo>) => void) {
    const index = this.indexes.get(channelId);
    if (index) change(await index.catch(() => new Map()));
    this.sortedIndexes.delete(channelId);
  }

  private async sortedIndex(channelId: string): Promise<TranscriptInfo[]> {
    const index = await this.channelIndex(channelId);
    let sorted = this.sortedIndexes.get(channelId);
    if (!sorted) {
      sorted = [...index.values()].sort((a, b) => a.created.getTime() - b.created.getTime());
      this.sortedIndexes.set(channelId, sorted);
    }
    return sorted;
  }

  /**
   * Resolves once every activity handed to `logActivity` for this conversation so far is written
   * (rejects if the last of them failed), so a channel can mark a message finished only after its
   * transcript is on disk.
   */
  whenWritten(channelId: string, conversationId: string): Promise<void> {
    return this.queue.run(`${channelId}\u0000${conversationId}`, async () => {
      const failure = this.failed.get(`${channelId}\u0000${conversationId}`);
      if (failure) throw failure;
    });
  }

  /**
   * Every conversation of a channel, oldest first. The channel index is read once per process, then
   * kept in memory (about 150 bytes per conversation) and updated by this store's own writes.
   */
  async allTranscripts(channelId: string): Promise<TranscriptInfo[]> {
    return (await this.sortedIndex(channelId)).map(copyInfo);
  }

  async listTranscripts(channelId: string, continuationToken?: string): Promise<PagedResult<TranscriptInfo>> {
    if (!channelId) throw new Error('Missing channelId');
    const result = page(await this.sortedIndex(channelId), continuationToken, this.pageSize);
    return { ...result, items: result.items.map(copyInfo) };
  }

  /**
   * The conversations of one customer in a channel, oldest first, for the agent console. Reads only
   * that customer's index (and checks each conversation still exists), however many are stored.
   */
  async listTranscriptsOfUser(channelId: string, customerId: string): Promise<TranscriptInfo[]> {
    const lines = await this.readLines<IndexLine>(this.customerIndexFile(channelId, customerId));
    const byId = new Map<string, TranscriptInfo>();
    for (const l of lines) if (typeof l.id === 'string' && !byId.has(l.id)) byId.set(l.id, { channelId, id: l.id, created: new Date(l.created ?? 0) });
    const out: TranscriptInfo[] = [];
    for (const info of byId.values()) {
      if (await fileExists(this.conversationFile(channelId, info.id), WHERE)) out.push(info);
    }
    return out.sort((a, b) => a.created.getTime() - b.created.getTime());
  }

  async deleteTranscript(channelId: string, conversationId: string): Promise<void> {
    if (!channelId) throw new Error('Missing channelId');
    if (!conversationId) throw new Error('Missing conversationId');
    const file = this.conversationFile(channelId, conversationId);
    await this.queue.run(`${channelId}\u0000${conversationId}`, async () => {
      const existed = await unlinkIfExists(file, WHERE);
      this.known.delete(file);
      if (existed) {
        await this.lines<IndexLine>(this.channelIndexFile(channelId)).append([{ id: conversationId, deleted: true }]);
        await this.updateIndex(channelId, (m) => void m.delete(conversationId));
      }
      // Customer indexes keep their line; listTranscriptsOfUser drops conversations whose file is gone.
    });
  }
}
