/**
 * `FileChannelJournal`: the file backend of one channel's `ChannelJournal` (inbox and delivery log),
 * one append-only JSON Lines file `<dir>/journal.jsonl`: accepted inbound items, which ones are done,
 * what each turn sent, the last customer message time per conversation (reply windows), outbound
 * message statuses, final send failures and profile names.
 *
 * Why one append-only log: a channel must store a message before answering 200, and that write has to
 * stay cheap however many conversations pile up. Appends are group-committed (one write + one
 * fdatasync for every record waiting), and the file is compacted when it is opened and after
 * `compactAfterBytes` of appends. The one exception is a send made in a turn: it is written at once
 * (see `recordSend`). One process uses one DATA_DIR, so `lease` always succeeds.
 */
import { mkdir, open, rename, readFile, type FileHandle } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Activity } from 'botbuilder';
import { InboxStorageError } from './errors.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../storage/files.js';
import {
  DEDUPE_RETENTION_MS,
  type AcceptResult,
  type ChannelJournal,
  type InboxItem,
  type MessageStatus,
  type ProfileRecord,
  type SendFailure,
  type TurnSend,
} from './inbox.js';

type Rec =
  | { t: 'in'; id: string; conv: string; at: number; activity: Partial<Activity>; win: boolean }
  | { t: 'done'; id: string }
  | { t: 'seen'; id: string; at: number; aid?: string }
  | { t: 'win'; conv: string; at: number }
  /** An outbound message (statuses). Files written before the turn engine also carry the turn's send in `in`/`n`/`h`/`a`. */
  | { t: 'out'; conv: string; mid: string; at: number; in?: string; n?: number; h?: string; a?: Partial<Activity> }
  | { t: 'send'; in: string; n: number; h: string; ids: string[]; at: number; a?: Partial<Activity> }
  | { t: 'status'; mid: string; status: MessageStatus; at: number }
  | { t: 'fail'; failure: SendFailure }
  /** `at`: when the profile was fetched (absent in files written before fetch times were kept). */
  | { t: 'profile'; conv: string; name: string; at?: number }
  | { t: 'unparsed'; at: number; reason: string; body: string };

interface Outbound {
  mid: string;
  at: number;
  status: MessageStatus;
}

const OUTBOUND_KEPT_PER_CONVERSATION = 50;
const FAILURES_KEPT_PER_CONVERSATION = 50;
/** Signed bodies we could not read, kept for a person to look at. */
const UNPARSED_KEPT = 200;
const STATUS_RANK: Record<MessageStatus, number> = { sent: 1, delivered: 2, read: 3, failed: 4 };

/** One channel's journal file for one process; `open` it before use. */
export class FileChannelJournal implements ChannelJournal {
  private fh?: FileHandle;
  /** Dedupe keys: when first accepted, and the activity id the channel answered with. */
  private readonly seen = new Map<string, { at: number; aid?: string }>();
  private readonly pending = new Map<string, InboxItem>();
  /** Pending items per conversation, in the order they were accepted. */
  private readonly pendingByConv = new Map<string, InboxItem[]>();
  private readonly leases = new Map<string, number>();
  private readonly windows = new Map<string, number>();
  private readonly outbound = new Map<string, Outbound[]>();
  private readonly outboundByMid = new Map<string, { conv: string; o: Outbound }>();
  private readonly failures = new Map<string, SendFailure[]>();
  private readonly profiles = new Map<string, ProfileRecord>();
  /** Per inbound item not yet done: what its turn sent, by activity ordinal. */
  private readonly sentByInbound = new Map<string, TurnSend[]>();
  private readonly unparsed: Rec[] = [];
  private queue: { line: string; durable: boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushing?: Promise<void>;
  private opening?: Promise<void>;
  /** True while `rewrite` replaces the file: records then wait in the queue for the new file. */
  private compacting = false;
  /** A write failed part-way: the next one starts on a new line, so the torn record does not swallow it. */
  private torn = false;
  private appendedBytes = 0;
  readonly file: string;

  /**
   * @param dir the channel's folder, e.g. `DATA_DIR/messenger` (the file is `journal.jsonl` in it)
   * @param compactAfterBytes rewrite the file once this much was appended since the last compaction
   *   (default 32 MiB), so a long-running server's journal stays small.
   */
  constructor(
    dir: string,
    private readonly now: () => number = Date.now,
    private readonly compactAfterBytes = 32 * 1024 * 1024,
  ) {
    this.file = join(dir, 'journal.jsonl');
  }

  /** Loads the file (tolerating a torn last line from a crash), compacts it and opens it for appends; idempotent. */
  open(): Promise<void> {
    this.opening ??= this.load();
    return this.opening;
  }

  private async load(): Promise<void> {
    await mkdir(join(this.file, '..'), { recursive: true, mode: PRIVATE_DIR_MODE });
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
        continue; // a torn write at a crash: the message it held was never acknowledged, so the sender retries it
      }
      this.apply(rec);
    }
    await this.rewrite();
  }

  /** The whole state as the fewest records: what compaction writes. */
  private snapshot(): Rec[] {
    const cutoff = this.now() - DEDUPE_RETENTION_MS;
    const compact: Rec[] = [];
    for (const [id, s] of this.seen) {
      if (this.pending.has(id)) continue;
      if (s.at >= cutoff) compact.push({ t: 'seen', id, at: s.at, ...(s.aid !== undefined ? { aid: s.aid } : {}) });
      else this.seen.delete(id);
    }
    for (const [conv, at] of this.windows) compact.push({ t: 'win', conv, at });
    for (const [conv, p] of this.profiles) compact.push({ t: 'profile', conv, name: p.name, at: p.at });
    for (const [conv, list] of this.outbound)
      for (const o of list) {
        compact.push({ t: 'out', conv, mid: o.mid, at: o.at });
        if (o.status !== 'sent') compact.push({ t: 'status', mid: o.mid, status: o.status, at: o.at });
      }
    for (const list of this.failures.values()) for (const failure of list) compact.push({ t: 'fail', failure });
    compact.push(...this.unparsed);
    for (const item of this.pending.values()) {
      compact.push({ t: 'in', id: item.id, conv: item.conversationId, at: item.at, activity: item.activity, win: item.opensWindow });
      for (const s of this.sentByInbound.get(item.id) ?? []) compact.push({ t: 'send', in: item.id, n: s.n, h: s.h, ids: s.ids, at: s.at, a: s.activity });
    }
    return compact;
  }

  /** Replaces the file with a snapshot (write to a temp file, fsync, rename) and reopens it for appends. */
  private async rewrite(): Promise<void> {
    // The snapshot is taken before anything else can change: whatever is recorded from here on waits
    // in the queue (see `compacting`) and is appended to the new file once it is in place.
    const text = this.snapshot()
      .map((r) => JSON.stringify(r) + '\n')
      .join('');
    this.compacting = true;
    try {
      const tmp = this.file + '.tmp';
      const out = await open(tmp, 'w', PRIVATE_FILE_MODE);
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
      this.fh = await open(this.file, 'a', PRIVATE_FILE_MODE);
      this.appendedBytes = 0;
      this.torn = false;
    } finally {
      this.compacting = false;
    }
  }

  private apply(rec: Rec): void {
    switch (rec.t) {
      case 'in':
        this.seen.set(rec.id, { at: rec.at, aid: rec.activity?.id });
        this.addPending({ id: rec.id, conversationId: rec.conv, at: rec.at, activity: rec.activity, opensWindow: rec.win });
        if (rec.win) this.touchWindow(rec.conv, rec.at);
        break;
      case 'done':
        this.removePending(rec.id);
        break;
      case 'seen':
        this.seen.set(rec.id, { at: rec.at, aid: rec.aid });
        break;
      case 'win':
        this.touchWindow(rec.conv, rec.at);
        break;
      case 'out':
        this.addOutbound(rec.conv, rec.mid, rec.at);
        if (rec.in !== undefined && rec.n !== undefined && rec.h !== undefined) this.addSend(rec.in, { n: rec.n, h: rec.h, ids: [rec.mid], at: rec.at, activity: rec.a });
        break;
      case 'send':
        this.addSend(rec.in, { n: rec.n, h: rec.h, ids: rec.ids, at: rec.at, activity: rec.a });
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
        this.profiles.set(rec.conv, { name: rec.name, at: rec.at ?? 0 });
        break;
      case 'unparsed':
        this.unparsed.push(rec);
        if (this.unparsed.length > UNPARSED_KEPT) this.unparsed.shift();
        break;
    }
  }

  private addPending(item: InboxItem): void {
    if (this.pending.has(item.id)) return;
    this.pending.set(item.id, item);
    const list = this.pendingByConv.get(item.conversationId) ?? [];
    list.push(item);
    this.pendingByConv.set(item.conversationId, list);
  }

  private removePending(id: string): void {
    const item = this.pending.get(id);
    this.sentByInbound.delete(id);
    if (!item) return;
    this.pending.delete(id);
    const list = this.pendingByConv.get(item.conversationId);
    if (!list) return;
    const i = list.indexOf(item);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.pendingByConv.delete(item.conversationId);
  }

  /** A send of a turn; a message split in several (one record per platform id in older files) extends the same entry. */
  private addSend(inbound: string, send: TurnSend): void {
    const sends = this.sentByInbound.get(inbound) ?? [];
    const same = sends.find((x) => x.n === send.n && x.h === send.h);
    if (same) {
      for (const id of send.ids) if (!same.ids.includes(id)) same.ids.push(id);
    } else sends.push({ ...send, ids: [...send.ids] });
    this.sentByInbound.set(inbound, sends);
  }

  private touchWindow(conv: string, at: number) {
    if ((this.windows.get(conv) ?? 0) < at) this.windows.set(conv, at);
  }

  private addOutbound(conv: string, mid: string, at: number) {
    const list = this.outbound.get(conv) ?? [];
    const o: Outbound = { mid, at, status: 'sent' };
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

  /** Appends one record now, with a synchronous write, bypassing the queue (see `recordSend`). */
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
              this.fh ??= await open(this.file, 'a', PRIVATE_FILE_MODE).catch(() => undefined);
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

  // ---------------------------------------------------------------- Inbox

  /**
   * Stores new items durably (fdatasync) before returning. Repeats (of earlier deliveries, or within
   * the batch) are `fresh: false` with the first delivery's activity id. On a write failure nothing is
   * marked as seen and `InboxStorageError` is thrown, so the sender's retry brings the items again.
   */
  async accept(items: InboxItem[]): Promise<AcceptResult[]> {
    const results: AcceptResult[] = [];
    const fresh: InboxItem[] = [];
    for (const item of items) {
      const seen = this.seen.get(item.id);
      if (seen) {
        results.push({ fresh: false, activityId: seen.aid });
        continue;
      }
      this.seen.set(item.id, { at: item.at, aid: item.activity.id });
      fresh.push(item);
      results.push({ fresh: true, activityId: item.activity.id });
    }
    if (fresh.length === 0) return results;
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
      this.addPending(i);
      if (i.opensWindow) this.touchWindow(i.conversationId, i.at);
    }
    return results;
  }

  /** Always granted: one process owns a DATA_DIR. The expiry only keeps the conversation out of `pendingConversations`. */
  async lease(conversationId: string, ttlMs: number): Promise<boolean> {
    this.leases.set(conversationId, this.now() + ttlMs);
    return true;
  }

  async release(conversationId: string): Promise<void> {
    this.leases.delete(conversationId);
  }

  async nextPending(conversationId: string): Promise<InboxItem | undefined> {
    return this.pendingByConv.get(conversationId)?.[0];
  }

  /** Conversations with items not yet done and no live lease, the one waiting longest first. */
  async pendingConversations(limit = 100): Promise<string[]> {
    const now = this.now();
    const waiting: { conv: string; at: number }[] = [];
    for (const [conv, list] of this.pendingByConv) {
      if ((this.leases.get(conv) ?? 0) > now || list.length === 0) continue;
      waiting.push({ conv, at: list[0]!.at });
    }
    return waiting
      .sort((a, b) => a.at - b.at)
      .slice(0, limit)
      .map((w) => w.conv);
  }

  /** Marks an item processed (not fsynced: a crash just before re-runs it once, without sending twice). */
  async done(id: string): Promise<void> {
    this.removePending(id);
    await this.write([{ t: 'done', id }], false);
  }

  /**
   * Records a send of `inbound`'s turn. It goes to the file at once (the kernel keeps it through a
   * SIGKILL), not after the queue's current write and fdatasync: a crash in between would make the
   * re-run turn send it again, since only the journal tells it what the platform already has.
   */
  async recordSend(inbound: string, send: TurnSend): Promise<void> {
    this.addSend(inbound, send);
    const rec: Rec = { t: 'send', in: inbound, n: send.n, h: send.h, ids: send.ids, at: send.at, a: send.activity };
    if (!this.fh || this.compacting) return this.write([rec], false);
    this.writeNow(rec);
  }

  async sentInTurn(inbound: string): Promise<TurnSend[]> {
    return (this.sentByInbound.get(inbound) ?? []).map((s) => ({ ...s, ids: [...s.ids] }));
  }

  // ---------------------------------------------------------------- DeliveryLog

  async lastCustomerMessageAt(conversationId: string): Promise<number | undefined> {
    return this.windows.get(conversationId);
  }

  async recordOutbound(conversationId: string, messageId: string): Promise<void> {
    const at = this.now();
    this.addOutbound(conversationId, messageId, at);
    await this.write([{ t: 'out', conv: conversationId, mid: messageId, at }], false);
  }

  async recordStatus(messageId: string, status: MessageStatus): Promise<string | undefined> {
    if (!this.setStatus(messageId, status)) return undefined;
    await this.write([{ t: 'status', mid: messageId, status, at: this.now() }], false);
    return this.outboundByMid.get(messageId)?.conv;
  }

  async recordWatermark(conversationId: string, watermark: number, status: 'delivered' | 'read'): Promise<string[]> {
    const changed: string[] = [];
    for (const o of this.outbound.get(conversationId) ?? []) if (o.at <= watermark && (await this.recordStatus(o.mid, status))) changed.push(o.mid);
    return changed;
  }

  async statusOf(messageId: string): Promise<MessageStatus | undefined> {
    return this.outboundByMid.get(messageId)?.o.status;
  }

  async outboundOf(conversationId: string): Promise<{ mid: string; at: Date; status: MessageStatus }[]> {
    return (this.outbound.get(conversationId) ?? []).map((o) => ({ mid: o.mid, at: new Date(o.at), status: o.status }));
  }

  async recordFailure(failure: SendFailure): Promise<void> {
    this.apply({ t: 'fail', failure });
    await this.write([{ t: 'fail', failure }], true);
  }

  async failuresOf(conversationId: string): Promise<SendFailure[]> {
    return [...(this.failures.get(conversationId) ?? [])];
  }

  async recordProfile(conversationId: string, name: string, at = this.now()): Promise<void> {
    const known = this.profiles.get(conversationId);
    if (known && known.name === name && known.at >= at) return;
    this.profiles.set(conversationId, { name, at });
    await this.write([{ t: 'profile', conv: conversationId, name, at }], false);
  }

  async profileName(conversationId: string): Promise<string | undefined> {
    return this.profiles.get(conversationId)?.name;
  }

  async profile(conversationId: string): Promise<ProfileRecord | undefined> {
    const p = this.profiles.get(conversationId);
    return p && { ...p };
  }

  /** Keeps a signed body the channel could not read, so it is not lost. */
  async recordUnparsed(body: string, reason: string): Promise<void> {
    const rec: Rec = { t: 'unparsed', at: this.now(), reason, body };
    this.apply(rec);
    await this.write([rec], true);
  }

  /** Waits for queued writes, then closes the file. */
  async close(): Promise<void> {
    await this.opening?.catch(() => undefined);
    while (this.flushing) await this.flushing;
    const fh = this.fh;
    this.fh = undefined;
    this.leases.clear();
    await fh?.close();
  }
}
