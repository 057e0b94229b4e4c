/**
 * Customer satisfaction (CSAT) after a person resolved a conversation: one record per resolution,
 * keyed by `(conversationId, resolvedAt)`, holding whether the customer was asked, the 1–5 rating and
 * an optional comment. The survey (csat.ts) writes it; the analytics and the agent console read it.
 *
 * Every write is idempotent per key and "first one wins": asking, rating and commenting each set their
 * fields only while they are empty, and say whether this call was the one that did. So a resolve that
 * runs again after a crash, or two instances handling the same conversation, never ask twice nor count
 * a rating twice.
 *
 * Two implementations: `FileCsatStore` (an append-only log in `DATA_DIR/csat`, folded in memory at
 * open, so a write never rewrites what is stored) and `PgCsatStore` (storage/postgres/csat-store.ts,
 * table `csat` from migration 0014).
 *
 * @example
 *   const csat = await FileCsatStore.open(config.dataDir);
 *   const week = await csat.between(new Date(Date.now() - 7 * 864e5), new Date());
 */
import path from 'node:path';
import { appendLines, parseJsonLines, readTextOrNull } from '../storage/files.js';

/** A rating on the 1–5 scale (5 best). */
export type CsatRating = 1 | 2 | 3 | 4 | 5;

/** The survey of one resolution. Times are ISO 8601 strings. */
export interface CsatRecord {
  conversationId: string;
  channelId: string;
  /** Display name of the agent who resolved the conversation. */
  agent?: string;
  rating?: CsatRating;
  comment?: string;
  resolvedAt: string;
  /** When the survey was sent; absent when it was skipped (the customer was mid-question). */
  askedAt?: string;
  /** When the rating arrived. */
  answeredAt?: string;
}

/** What the analytics read: the records whose `resolvedAt` lies in `[from, to)`, oldest first. */
export interface CsatReader {
  between(from: Date, to: Date): Promise<CsatRecord[]>;
}

/** The resolution a survey belongs to. */
export type CsatResolution = Pick<CsatRecord, 'conversationId' | 'channelId' | 'agent' | 'resolvedAt'>;

/** The CSAT store both backends implement. */
export interface CsatStore extends CsatReader {
  /** Records a resolution whose survey was not sent; a second call for the same key changes nothing. */
  recordResolved(resolution: CsatResolution): Promise<void>;
  /** Marks the survey sent at `askedAt`; true only for the call that marked it (that one sends it). */
  recordAsked(resolution: CsatResolution, askedAt: string): Promise<boolean>;
  /** Keeps the first rating of a resolution; true when this call set it. */
  recordRating(conversationId: string, resolvedAt: string, rating: CsatRating, answeredAt: string): Promise<boolean>;
  /** Keeps the first comment after a rating; true when this call set it. */
  recordComment(conversationId: string, resolvedAt: string, comment: string): Promise<boolean>;
  /** The latest resolution of a conversation, with its survey; undefined when it was never resolved. */
  latest(conversationId: string): Promise<CsatRecord | undefined>;
  close(): Promise<void>;
}

/** Longest comment kept (longer ones are cut): a comment is a sentence or two, not a transcript. */
export const MAX_CSAT_COMMENT_CHARS = 1000;

/** Whether `n` is a rating on the scale. */
export function isCsatRating(n: unknown): n is CsatRating {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 5;
}

/** A comment as stored: trimmed and cut to `MAX_CSAT_COMMENT_CHARS`. */
export function storedComment(comment: string): string {
  return [...comment.trim()].slice(0, MAX_CSAT_COMMENT_CHARS).join('');
}

/** One line of the file store's log: a write, replayed in order at open. */
type LogLine =
  | { op: 'resolved'; record: CsatResolution }
  | { op: 'asked'; record: CsatResolution; askedAt: string }
  | { op: 'rating'; conversationId: string; resolvedAt: string; rating: CsatRating; answeredAt: string }
  | { op: 'comment'; conversationId: string; resolvedAt: string; comment: string };

const keyOf = (conversationId: string, resolvedAt: string) => `${resolvedAt}\u0000${conversationId}`;

/**
 * The rules every backend follows, on records in memory: the file store applies them to its map, and
 * they are what the SQL of `PgCsatStore` does. Each returns whether the write changed anything.
 */
function apply(records: Map<string, CsatRecord>, line: LogLine): boolean {
  switch (line.op) {
    case 'resolved':
    case 'asked': {
      const key = keyOf(line.record.conversationId, line.record.resolvedAt);
      const current = records.get(key);
      if (line.op === 'resolved') {
        if (current) return false;
        records.set(key, resolutionRecord(line.record));
        return true;
      }
      if (current?.askedAt) return false;
      records.set(key, { ...(current ?? resolutionRecord(line.record)), askedAt: line.askedAt });
      return true;
    }
    case 'rating': {
      const current = records.get(keyOf(line.conversationId, line.resolvedAt));
      if (!current || current.rating !== undefined) return false;
      current.rating = line.rating;
      current.answeredAt = line.answeredAt;
      return true;
    }
    case 'comment': {
      const current = records.get(keyOf(line.conversationId, line.resolvedAt));
      if (!current || current.rating === undefined || current.comment !== undefined) return false;
      current.comment = line.comment;
      return true;
    }
  }
}

function resolutionRecord(r: CsatResolution): CsatRecord {
  return { conversationId: r.conversationId, channelId: r.channelId, ...(r.agent ? { agent: r.agent } : {}), resolvedAt: r.resolvedAt };
}

/**
 * The embedded CSAT store: every write is one JSON line appended to `DATA_DIR/csat/csat.jsonl`, and
 * the records live in memory (a record is a few hundred bytes; a year of resolutions fits easily).
 * A torn last line from a crash is skipped at open. One process per DATA_DIR, as for the other file stores.
 */
export class FileCsatStore implements CsatStore {
  private readonly records = new Map<string, CsatRecord>();
  /** Latest resolution key per conversation, for `latest`. */
  private readonly latestKey = new Map<string, string>();
  private writes: Promise<void> = Promise.resolve();

  private constructor(private readonly file: string) {}

  /** Opens (creating on first write) the store under `dataDir`. */
  static async open(dataDir: string): Promise<FileCsatStore> {
    const store = new FileCsatStore(path.join(dataDir, 'csat', 'csat.jsonl'));
    const text = await readTextOrNull(store.file, 'FileCsatStore.open');
    if (text) for (const line of parseJsonLines<LogLine>(text).items) store.applyLine(line);
    return store;
  }

  private applyLine(line: LogLine): boolean {
    const changed = apply(this.records, line);
    if (changed && (line.op === 'resolved' || line.op === 'asked')) {
      const { conversationId, resolvedAt } = line.record;
      const known = this.latestKey.get(conversationId);
      const key = keyOf(conversationId, resolvedAt);
      if (!known || known < key) this.latestKey.set(conversationId, key);
    }
    return changed;
  }

  /**
   * Applies in memory at once (so a concurrent second call sees it), then appends; writes stay in
   * order. A write the disk refused is undone in memory too, so a retry can make it.
   */
  private async write(line: LogLine): Promise<boolean> {
    const { conversationId, resolvedAt } = 'record' in line ? line.record : line;
    const key = keyOf(conversationId, resolvedAt);
    const before = this.records.get(key);
    const saved = before && { ...before }; // rating and comment change the record in place
    const latestBefore = this.latestKey.get(conversationId);
    if (!this.applyLine(line)) return false;
    const written = this.writes.then(() => appendLines(this.file, [JSON.stringify(line)], { fsync: true, where: 'FileCsatStore.write' }));
    this.writes = written.catch(() => undefined);
    try {
      await written;
    } catch (err) {
      if (saved) this.records.set(key, saved);
      else this.records.delete(key);
      if (latestBefore) this.latestKey.set(conversationId, latestBefore);
      else this.latestKey.delete(conversationId);
      throw err;
    }
    return true;
  }

  async recordResolved(resolution: CsatResolution): Promise<void> {
    await this.write({ op: 'resolved', record: resolutionRecord(resolution) });
  }

  recordAsked(resolution: CsatResolution, askedAt: string): Promise<boolean> {
    return this.write({ op: 'asked', record: resolutionRecord(resolution), askedAt });
  }

  recordRating(conversationId: string, resolvedAt: string, rating: CsatRating, answeredAt: string): Promise<boolean> {
    if (!isCsatRating(rating)) return Promise.reject(new RangeError(`FileCsatStore.recordRating: ${rating} is not a rating from 1 to 5`));
    return this.write({ op: 'rating', conversationId, resolvedAt, rating, answeredAt });
  }

  recordComment(conversationId: string, resolvedAt: string, comment: string): Promise<boolean> {
    return this.write({ op: 'comment', conversationId, resolvedAt, comment: storedComment(comment) });
  }

  async latest(conversationId: string): Promise<CsatRecord | undefined> {
    const key = this.latestKey.get(conversationId);
    const r = key ? this.records.get(key) : undefined;
    return r && { ...r };
  }

  async between(from: Date, to: Date): Promise<CsatRecord[]> {
    const lo = from.getTime();
    const hi = to.getTime();
    const out: CsatRecord[] = [];
    for (const r of this.records.values()) {
      const at = Date.parse(r.resolvedAt);
      if (at >= lo && at < hi) out.push({ ...r });
    }
    return out.sort((a, b) => Date.parse(a.resolvedAt) - Date.parse(b.resolvedAt) || a.conversationId.localeCompare(b.conversationId));
  }

  /** Waits for the writes in flight. */
  async close(): Promise<void> {
    await this.writes;
  }
}
