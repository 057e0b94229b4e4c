/**
 * Where web chat conversations live between requests and across restarts: the conversation record
 * (who, when started) and the ordered activity log that Direct Line watermarks point into.
 *
 * The default keeps one append-only JSON Lines file per conversation under `DATA_DIR/webchat`, so
 * writing a message costs the same however many conversations exist, and a crash can at worst leave
 * a torn last line, which is cut off when the file is next opened.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Activity } from 'botbuilder';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../src/storage/files.js';

export type { WebChatConversation, ActivityPage, WebChatConversationStore } from '../../src/engine/conversation-store.js';
import type { WebChatConversation, ActivityPage, WebChatConversationStore } from '../../src/engine/conversation-store.js';

/** Options of {@link FileConversationStore}. */
export interface FileConversationStoreOptions {
  /** Folder for the files, e.g. `path.join(DATA_DIR, 'webchat')`. */
  dir: string;
  /** Conversations whose state stays in memory (least recently used are dropped); default 1,000. */
  maxCachedConversations?: number;
  /** Most recent activities kept in memory per cached conversation; default 100. */
  tailSize?: number;
  /** Log files kept open for appending (least recently written are closed); default 128. */
  maxOpenFiles?: number;
}

interface Cached {
  conversation?: WebChatConversation;
  loaded: boolean;
  /** Entries in the log file. */
  count: number;
  /** The last `tail.length` entries, positions `count - tail.length` .. `count - 1`. */
  tail: Partial<Activity>[];
  /** Serialises writes to this conversation. */
  queue: Promise<unknown>;
  pending: number;
  /** The log opened for appending, kept while the conversation is cached (opening a file costs more than writing a line). */
  handle?: FileHandle;
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** A conversation id that cannot be used as a file name; the adapter validates ids before this. */
export class UnsafeConversationIdError extends Error {
  override name = 'UnsafeConversationIdError';
}

/** Per-conversation append-only files with a bounded in-memory cache. */
export class FileConversationStore implements WebChatConversationStore {
  private readonly cache = new Map<string, Cached>();
  private readonly maxCached: number;
  private readonly tailSize: number;
  private readonly maxOpen: number;
  /** Conversations with an open log file, least recently written first. */
  private readonly open = new Map<string, Cached>();
  private dirReady?: Promise<unknown>;

  constructor(private readonly options: FileConversationStoreOptions) {
    this.maxCached = options.maxCachedConversations ?? 1000;
    this.tailSize = options.tailSize ?? 100;
    this.maxOpen = options.maxOpenFiles ?? 128;
  }

  async getConversation(id: string): Promise<WebChatConversation | undefined> {
    return (await this.load(id)).conversation;
  }

  async saveConversation(conversation: WebChatConversation): Promise<void> {
    const entry = await this.load(conversation.id);
    await this.exclusive(entry, async () => {
      await this.ensureDir();
      const file = this.file(conversation.id, 'json');
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      await fs.writeFile(tmp, JSON.stringify(conversation), { mode: PRIVATE_FILE_MODE });
      await fs.rename(tmp, file); // atomic replace: readers see the old or the new record, never half
      entry.conversation = { ...conversation };
    });
  }

  async append(id: string, build: (position: number) => Partial<Activity>): Promise<{ activity: Partial<Activity>; watermark: number }> {
    const entry = await this.load(id);
    return this.exclusive(entry, async () => {
      await this.ensureDir();
      const activity = build(entry.count);
      // One write of one line with O_APPEND: concurrent readers never see a partial earlier entry.
      entry.handle ??= await fs.open(this.file(id, 'jsonl'), 'a', PRIVATE_FILE_MODE);
      this.open.delete(id);
      this.open.set(id, entry);
      this.closeIdleFiles(id);
      let line = Buffer.from(JSON.stringify(activity) + '\n');
      while (line.length > 0) {
        const { bytesWritten } = await entry.handle.write(line);
        line = line.subarray(bytesWritten);
      }
      entry.count++;
      entry.tail.push(activity);
      if (entry.tail.length > this.tailSize) entry.tail.shift();
      return { activity, watermark: entry.count };
    });
  }

  async read(id: string, watermark: number, limit: number): Promise<ActivityPage> {
    const entry = await this.load(id);
    const from = Math.max(0, Math.min(watermark, entry.count));
    const tailStart = entry.count - entry.tail.length;
    let activities: Partial<Activity>[];
    if (from >= tailStart) {
      activities = entry.tail.slice(from - tailStart, from - tailStart + limit);
    } else {
      const lines = await this.readLines(id);
      activities = lines.slice(from, Math.min(from + limit, entry.count)).map((l) => JSON.parse(l));
    }
    return { activities, watermark: from + activities.length };
  }

  async close(): Promise<void> {
    const entries = [...this.cache.values()];
    this.cache.clear();
    this.open.clear();
    await Promise.all(entries.map((c) => c.queue.catch(() => undefined)));
    await Promise.all(entries.map((c) => c.handle?.close().catch(() => undefined)));
  }

  private async load(id: string): Promise<Cached> {
    if (!SAFE_ID.test(id)) throw new UnsafeConversationIdError(`FileConversationStore: conversation id ${JSON.stringify(id)} is not [A-Za-z0-9_-]{1,128}`);
    let entry = this.cache.get(id);
    if (entry) {
      // Refresh LRU position.
      this.cache.delete(id);
      this.cache.set(id, entry);
      if (entry.loaded) return entry;
      await entry.queue;
      return entry;
    }
    const fresh: Cached = { loaded: false, count: 0, tail: [], queue: Promise.resolve(), pending: 0 };
    entry = fresh;
    this.cache.set(id, fresh);
    this.evict();
    const loading = (async () => {
      fresh.conversation = await readJson<WebChatConversation>(this.file(id, 'json'));
      const lines = await this.readLines(id, true);
      fresh.count = lines.length;
      fresh.tail = lines.slice(-this.tailSize).map((l) => JSON.parse(l));
      fresh.loaded = true;
    })();
    fresh.queue = loading;
    await loading;
    return fresh;
  }

  /** The complete lines of a log; with `repair`, a torn last line left by a crash is cut off. */
  private async readLines(id: string, repair = false): Promise<string[]> {
    const file = this.file(id, 'jsonl');
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const end = text.lastIndexOf('\n') + 1;
    if (repair && end < text.length) await fs.truncate(file, Buffer.byteLength(text.slice(0, end)));
    return text.slice(0, end).split('\n').filter((l) => l.length > 0);
  }

  private exclusive<T>(entry: Cached, work: () => Promise<T>): Promise<T> {
    entry.pending++;
    const run = entry.queue.then(work, work);
    entry.queue = run
      .catch(() => undefined)
      .finally(() => {
        entry.pending--;
        if (this.open.size > this.maxOpen) this.closeIdleFiles('');
      });
    return run;
  }

  private closeIdleFiles(current: string): void {
    for (const [key, value] of this.open) {
      if (this.open.size <= this.maxOpen) break;
      if (key === current || value.pending > 0) continue; // a write may be under way
      this.open.delete(key);
      const handle = value.handle;
      value.handle = undefined;
      void handle?.close().catch(() => undefined);
    }
  }

  private evict(): void {
    if (this.cache.size <= this.maxCached) return;
    for (const [key, value] of this.cache) {
      if (this.cache.size <= this.maxCached) break;
      if (value.pending === 0 && value.loaded) {
        this.cache.delete(key);
        this.open.delete(key);
        void value.handle?.close().catch(() => undefined);
        value.handle = undefined;
      }
    }
  }

  private ensureDir(): Promise<unknown> {
    this.dirReady ??= fs.mkdir(this.options.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    return this.dirReady;
  }

  private file(id: string, ext: 'json' | 'jsonl'): string {
    return path.join(this.options.dir, `${id}.${ext}`);
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
