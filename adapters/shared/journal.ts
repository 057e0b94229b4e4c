/**
 * The durable state of one Meta channel, in one append-only JSON Lines file under DATA_DIR:
 * accepted inbound messages (the inbox), which ones are done, the last customer message time per
 * conversation (reply windows), outbound message statuses, final send failures and profile names.
 *
 * Why one append-only log: a webhook must store a message before answering 200, and that write has to
 * stay cheap however many conversations pile up. Appends are group-committed (one write + one
 * fdatasync for every record waiting), and the file is compacted each time it is opened.
 * The one exception is a send made in a turn: it is written at once (see `recordOutbound`).
 */
import { mkdir, open, rename, readFile, type FileHandle } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Activity } from 'botbuilder';
import { InboxStorageError } from './errors.js';

/** An inbound message accepted by the webhook and not yet known to be processed. */
export interface InboxItem {
  /** The platform message id (`mid`, `wamid`): the dedupe key. */
  id: string;
  conversationId: string;
  /** When we accepted it (ms since epoch). */
  at: number;
  activity: Partial<Activity>;
  /** Whether receiving it opens the reply window (a customer message); false for e.g. reactions. */
  opensWindow: boolean;
}

/** Where an outbound message stands, from the Send API answer and later webhooks. */
export type MessageStatus = 'sent' | 'delivered' | 'read' | 'failed';

/** A send that finally failed, recorded against its conversation so an agent can see it. */
export interface SendFailure {
  channelId: string;
  conversationId: string;
  at: string;
  /** Meta's error code (e.g. 10, 131047), or ours (`REPLY_WINDOW_CLOSED`, `UNREACHABLE`). */
  code: number | string;
  subcode?: number;
  message: string;
  fbtraceId?: string;
  /** The activity that was not delivered (text or summary), so nothing is silently lost. */
  activity?: Partial<Activity>;
  /** Outbound message id, when the failure came later as a status webhook. */
  messageId?: string;
}

type Rec =
  | { t: 'in'; id: string; conv: string; at: number; activity: Partial<Activity>; win: boolean }
  | { t: 'done'; id: string }
  | { t: 'seen'; id: string; at: number }
  | { t: 'win'; conv: string; at: number }
  | { t: 'out'; conv: string; mid: string; at: number; in?: string; n?: number; h?: string; a?: Partial<Activity> }
  | { t: 'status'; mid: string; status: MessageStatus; at: number }
  | { t: 'fail'; failure: SendFailure }
  | { t: 'profile'; conv: string; name: string }
  | { t: 'unparsed'; at: number; reason: string; body: string };

interface Outbound {
  mid: string;
  at: number;
  status: MessageStatus;
  /** The inbound message whose turn sent it, and the activity's place in that turn (replay after a crash). */
  in?: string;
  n?: number;
  /** Hash of the activity's content, to recognise the same reply when the turn is re-run. */
  h?: string;
  /** The activity (summary), so a re-run turn can log a reply it no longer makes but the customer got. */
  a?: Partial<Activity>;
}

/** Which turn sent a message: the inbound message, the activity's ordinal in the turn, and its content hash. */
export interface TurnSend {
  inbound: string;
  n: number;
  h: string;
  activity?: Partial<Activity>;
}

/** How long a message id is remembered for dedupe (Meta retries for hours; 7 days is ample). */
export const DEDUPE_RETENTION_MS = 7 * 24 * 3600 * 1000;
const OUTBOUND_KEPT_PER_CONVERSATION = 50;
const FAILURES_KEPT_PER_CONVERSATION = 50;
/** Signed bodies we could not read, kept for a person to look at. */
const UNPARSED_KEPT = 200;
const STATUS_RANK: Record<MessageStatus, number> = { sent: 1, delivered: 2, read: 3, failed: 4 };

/** One channel's journal file; `open` it, then use it from one adapter instance at a time. */
export class ChannelJournal {
  private fh?: FileHandle;
  private readonly seen = new Map<string, number>();
  private readonly pending = new Map<string, InboxItem>();
  private readonly windows = new Map<string, number>();
  private readonly outbound = new Map<string, Outbound[]>();
  private readonly outboundByMid = new Map<string, { conv: string; o: Outbound }>();
  private readonly failures = new Map<string, SendFailure[]>();
  private readonly profiles = new Map<string, string>();
  /** Per inbound message not yet done: platform ids already sent, by activity ordinal in its turn. */
  private readonly sentByInbound = new Map<string, { n: number; h: string; mids: string[]; at: number; activity?: Partial<Activity> }[]>();
  private readonly unparsed: Rec[] = [];
  private queue: { line: string; durable: boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushing?: Promise<void>;
  /** True while `rewrite` replaces the file: records then wait in the queue for the new file. */
  private compacting = false;
  /** A write failed part-way: the next one starts on a new line, so the torn record does not swallow it. */
  private torn = false;
  private appendedBytes = 0;
  readonly file: string;

  /**
   * @param compactAfterBytes rewrite the file once this much was appended since the last compaction
   *   (default 32 MiB), so a long-running server's journal stays small.
   */
  constructor(dir: string, private readonly now: () => number = Date.now, private readonly compactAfterBytes = 32 * 1024 * 1024) {
    this.file = join(dir, 'journal.jsonl');
  }

  /** Loads the file (tolerating a torn last line from a crash), compacts it and opens it for appends. */
  async open(): Promise<void> {
    await mkdir(join(this.file, '..'), { recursive: true });
    let text = '';
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new InboxStorageError(this.file, err);
    }
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let rec: Rec;
      try {
        rec = JSON.parse(line);
      } catch {
        continue; // a torn write at a crash: the message it held was never acknowledged, so Meta retries it
      }
      this.apply(rec);
    }
    await this.rewrite();
  }

  /** The whole state as the fewest records: what compaction writes. */
  private snapshot(): Rec[] {
    const cutoff = this.now() - DEDUPE_RETENTION_MS;
    const compact: Rec[] = [];
    for (const [id, at] of this.seen) {
      if (this.pending.has(id)) continue;
      if (at >= cutoff) compact.push({ t: 'seen', id, at });
      else this.seen.delete(id);
    }
    for (const [conv, at] of this.windows) compact.push({ t: 'win', conv, at });
    for (const [conv, name] of this.profiles) compact.push({ t: 'profile', conv, name });
    for (const [conv, list] of this.outbound)
      for (const o of list) {
        compact.push({ t: 'out', conv, mid: o.mid, at: o.at, ...(o.in !== undefined && this.pending.has(o.in) ? { in: o.in, n: o.n, h: o.h, a: o.a } : {}) });
        if (o.status !== 'sent') compact.push({ t: 'status', mid: o.mid, status: o.status, at: o.at });
      }
    for (const list of this.failures.values()) for (const failure of list) compact.push({ t: 'fail', failure });
    compact.push(...this.unparsed);
    for (const item of this.pending.values())
      compact.push({ t: 'in', id: item.id, conv: item.conversationId, at: item.at, activity: item.activity, win: item.opensWindow });
    return compact;
  }

  /** Replaces the file with a snapshot (write to a temp file, fsync, rename) and reopens it for appends. */
  private async rewrite(): Promise<void> {
    // The snapshot is taken before anything else can change: whatever is recorded from here on waits
    // in the queue (see `compacting`) and is appended to the new file once it is in place.
    const text = this.snapshot().map((r) => JSON.stringify(r) + '\n').join('');
    this.compacting = true;
    try {
      const tmp = this.file + '.tmp';
      const out = await open(tmp, 'w');
      try {
        await out.writeFile(text);
        await out.datasync();
      } finally {
        await out.close();
      }
      const old = this.fh;
      this.fh = undefined;
      await old?.close();
      await rename(tmp, this.file);
      this.fh = await open(this.file, 'a');
      this.appendedBytes = 0;
      this.torn = false;
    } finally {
      this.compacting = false;
    }
  }

  private apply(rec: Rec): void {
    switch (rec.t) {
      case 'in':
        this.seen.set(rec.id, rec.at);
        this.pending.set(rec.id, { id: rec.id, conversationId: rec.conv, at: rec.at, activity: rec.activity, opensWindow: rec.win });
        if (rec.win) this.touchWindow(rec.conv, rec.at);
        break;
      case 'done':
        this.pending.delete(rec.id);
        this.sentByInbound.delete(rec.id);
        break;
      case 'seen':
        this.seen.set(rec.id, rec.at);
        break;
      case 'win':
        this.touchWindow(rec.conv, rec.at);
        break;
      case 'out':
        this.addOutbound(rec.conv, rec.mid, rec.at, rec.in !== undefined && rec.n !== undefined && rec.h !== undefined ? { inbound: rec.in, n: rec.n, h: rec.h, activity: rec.a } : undefined);
        break;
      case 'status':
        this.setStatus(rec.mid, rec.status);
        break;
      case 'fail': {
        const list = this.failures.get(rec.failure.conversationId) ?? [];
        list.push(rec.failure);
        if (list.length > FAILURES_KEPT_PER_CONVERSATION) list.shift();
        this.failures.set(rec.failure.conversationId, list);
        break;
      }
      case 'profile':
        this.profiles.set(rec.conv, rec.name);
        break;
      case 'unparsed':
        this.unparsed.push(rec);
        if (this.unparsed.length > UNPARSED_KEPT) this.unparsed.shift();
        break;
    }
  }

  private touchWindow(conv: string, at: number) {
    if ((this.windows.get(conv) ?? 0) < at) this.windows.set(conv, at);
  }

  private addOutbound(conv: string, mid: string, at: number, turn?: TurnSend) {
    const list = this.outbound.get(conv) ?? [];
    const o: Outbound = { mid, at, status: 'sent', ...(turn ? { in: turn.inbound, n: turn.n, h: turn.h, a: turn.activity } : {}) };
    if (turn) {
      const sends = this.sentByInbound.get(turn.inbound) ?? [];
      const same = sends.find((x) => x.n === turn.n && x.h === turn.h);
      if (same) same.mids.push(mid);
      else sends.push({ n: turn.n, h: turn.h, mids: [mid], at, activity: turn.activity });
      this.sentByInbound.set(turn.inbound, sends);
    }
    list.push(o);
    if (list.length > OUTBOUND_KEPT_PER_CONVERSATION) this.outboundByMid.delete(list.shift()!.mid);
    this.outbound.set(conv, list);
    this.outboundByMid.set(mid, { conv, o });
  }

  private setStatus(mid: string, status: MessageStatus): boolean {
    const entry = this.outboundByMid.get(mid);
    if (!entry) return false;
    if (STATUS_RANK[status] <= STATUS_RANK[entry.o.status]) return false; // statuses can arrive out of order
    entry.o.status = status;
    return true;
  }

  /** Appends one record now, with a synchronous write, bypassing the queue (see `recordOutbound`). */
  private writeNow(rec: Rec): void {
    const fd = this.fh!.fd;
    const buf = Buffer.from((this.torn ? '\n' : '') + JSON.stringify(rec) + '\n', 'utf8');
    try {
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      this.torn = true;
      throw new InboxStorageError(this.file, err);
    }
    this.torn = false;
    this.appendedBytes += buf.length;
  }

  private write(recs: Rec[], durable: boolean): Promise<void> {
    // While compacting there is no handle for a moment; records wait for the new file.
    if (!this.fh && !this.compacting) return Promise.reject(new InboxStorageError(this.file, new Error('journal is not open')));
    const line = recs.map((r) => JSON.stringify(r) + '\n').join('');
    const p = new Promise<void>((resolve, reject) => this.queue.push({ line, durable, resolve, reject }));
    if (!this.flushing) this.flushing = this.flush();
    return p;
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          if (!this.fh) throw new Error('journal is closed');
          const buf = Buffer.from((this.torn ? '\n' : '') + batch.map((b) => b.line).join(''), 'utf8');
          try {
            for (let off = 0; off < buf.length; ) off += (await this.fh.write(buf, off, buf.length - off)).bytesWritten;
          } catch (err) {
            this.torn = true;
            throw err;
          }
          this.torn = false;
          if (batch.some((b) => b.durable)) await this.fh.datasync();
          this.appendedBytes += buf.length;
          for (const b of batch) b.resolve();
          // Compact only between batches with nothing queued: queued records are already in memory
          // and would otherwise be written twice.
          if (this.appendedBytes > this.compactAfterBytes && this.queue.length === 0) {
            await this.rewrite().catch(async () => {
              // Keep appending to whichever file is there; compaction is retried after the next batch.
              this.fh ??= await open(this.file, 'a').catch(() => undefined);
            });
          }
        } catch (err) {
          const e = new InboxStorageError(this.file, err);
          for (const b of batch) b.reject(e);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** True when this message id was already accepted (within the retention period). */
  isDuplicate(id: string): boolean {
    return this.seen.has(id);
  }

  /**
   * Stores accepted messages durably (fdatasync) before the webhook answers; returns only the new ones
   * (duplicates of earlier deliveries, or within the batch, are dropped). Throws `InboxStorageError`
   * when the write fails, in which case nothing is marked as seen and Meta's retry will bring it again.
   */
  async accept(items: InboxItem[]): Promise<InboxItem[]> {
    const fresh: InboxItem[] = [];
    for (const item of items) {
      if (this.seen.has(item.id)) continue;
      this.seen.set(item.id, item.at);
      fresh.push(item);
    }
    if (fresh.length === 0) return fresh;
    try {
      await this.write(
        fresh.map((i) => ({ t: 'in', id: i.id, conv: i.conversationId, at: i.at, activity: i.activity, win: i.opensWindow })),
        true,
      );
    } catch (err) {
      for (const i of fresh) this.seen.delete(i.id);
      throw err;
    }
    for (const i of fresh) {
      this.pending.set(i.id, i);
      if (i.opensWindow) this.touchWindow(i.conversationId, i.at);
    }
    return fresh;
  }

  /** Marks an accepted message as processed (not fsynced: a crash just before re-runs it once). */
  async done(id: string): Promise<void> {
    this.pending.delete(id);
    this.sentByInbound.delete(id);
    await this.write([{ t: 'done', id }], false);
  }

  /** Accepted messages not yet processed, oldest first: what a restart must finish. */
  pendingItems(): InboxItem[] {
    return [...this.pending.values()].sort((a, b) => a.at - b.at);
  }

  /** Last time the customer wrote in this conversation (ms), if ever. */
  lastCustomerMessageAt(conversationId: string): number | undefined {
    return this.windows.get(conversationId);
  }

  /**
   * Records a sent message. `turn` says which inbound message's turn sent it and the activity's ordinal
   * in that turn, so a turn re-run after a crash does not send it again (see `sentInTurn`).
   */
  async recordOutbound(conversationId: string, mid: string, turn?: TurnSend): Promise<void> {
    const at = this.now();
    this.addOutbound(conversationId, mid, at, turn);
    const rec: Rec = { t: 'out', conv: conversationId, mid, at, ...(turn ? { in: turn.inbound, n: turn.n, h: turn.h, a: turn.activity } : {}) };
    // A send made in a turn goes to the file at once (the kernel keeps it through a SIGKILL), not after
    // the queue's current write and fdatasync: a crash in between would make the re-run turn send it
    // again, since only the journal tells it what Meta already has (see `sentInTurn`).
    if (!turn || !this.fh || this.compacting) return this.write([rec], false);
    this.writeNow(rec);
  }

  /**
   * What an earlier run of this inbound message's turn (cut short by a crash) already sent, oldest
   * first, with each activity's content hash: a re-run skips a reply with the same content.
   */
  sentInTurn(inbound: string): readonly { n: number; h: string; mids: string[]; at: number; activity?: Partial<Activity> }[] {
    return this.sentByInbound.get(inbound) ?? [];
  }

  /** Updates one outbound message's status; returns its conversation when it changed. */
  async recordStatus(mid: string, status: MessageStatus): Promise<string | undefined> {
    if (!this.setStatus(mid, status)) return undefined;
    await this.write([{ t: 'status', mid, status, at: this.now() }], false);
    return this.outboundByMid.get(mid)?.conv;
  }

  /** Marks every outbound message of a conversation sent at or before `watermark` (Messenger). */
  async recordWatermark(conversationId: string, watermark: number, status: 'delivered' | 'read'): Promise<string[]> {
    const changed: string[] = [];
    for (const o of this.outbound.get(conversationId) ?? []) if (o.at <= watermark && (await this.recordStatus(o.mid, status))) changed.push(o.mid);
    return changed;
  }

  statusOf(mid: string): MessageStatus | undefined {
    return this.outboundByMid.get(mid)?.o.status;
  }

  /** Outbound messages of a conversation with their statuses, oldest first. */
  outboundOf(conversationId: string): { mid: string; at: Date; status: MessageStatus }[] {
    return (this.outbound.get(conversationId) ?? []).map((o) => ({ mid: o.mid, at: new Date(o.at), status: o.status }));
  }

  async recordFailure(failure: SendFailure): Promise<void> {
    this.apply({ t: 'fail', failure });
    await this.write([{ t: 'fail', failure }], true);
  }

  failuresOf(conversationId: string): SendFailure[] {
    return [...(this.failures.get(conversationId) ?? [])];
  }

  async recordProfile(conversationId: string, name: string): Promise<void> {
    if (this.profiles.get(conversationId) === name) return;
    this.profiles.set(conversationId, name);
    await this.write([{ t: 'profile', conv: conversationId, name }], false);
  }

  profileName(conversationId: string): string | undefined {
    return this.profiles.get(conversationId);
  }

  /** Keeps a signed body our schema could not read, so it is not lost; answered 200 so Meta does not disable the webhook. */
  async recordUnparsed(body: string, reason: string): Promise<void> {
    const rec: Rec = { t: 'unparsed', at: this.now(), reason, body };
    this.apply(rec);
    await this.write([rec], true);
  }

  /** Waits for queued writes, then closes the file. */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}
