/**
 * `MediaStore` on files, under DATA_DIR/media:
 *
 *   objects/<xx>/<id>.bin    the bytes (one file per id, so erasing a conversation erases its bytes)
 *   objects/<xx>/<id>.json   the record; written last, so a record never points at missing bytes
 *   conversations/<hash>.jsonl  one line per file of the conversation (what `list` and erasure read)
 *
 * A `put` appends the conversation's line first, then writes the bytes (temp + fsync + rename), then the
 * record the same way: a crash at any point leaves either a complete file or a line `list` skips and
 * `deleteConversation` still cleans up, never bytes that erasure cannot find.
 */
import { createHash } from 'node:crypto';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  appendLines,
  ensurePrivateDir,
  KeyedQueue,
  parseJsonLines,
  PRIVATE_FILE_MODE,
  readTextOrNull,
  shardedPath,
  unlinkIfExists,
} from '../storage/files.js';
import { toStorageError } from '../storage/errors.js';
import { MEDIA_ID_PATTERN, newMediaRecord, type MediaInput, type MediaRecord, type MediaStore } from './store.js';

let tempCounter = 0;

/** Writes `bytes` to `file` so a crash leaves the old file or the whole new one: temp, fsync, rename. */
async function writeBytesAtomic(file: string, bytes: Buffer, where: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${++tempCounter}.tmp`);
  try {
    await ensurePrivateDir(path.dirname(file));
    const fh = await open(tmp, 'w', PRIVATE_FILE_MODE);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw toStorageError(err, where, file);
  }
}

/** `MediaStore` in a folder (normally DATA_DIR/media). */
export class FileMediaStore implements MediaStore {
  private readonly queue = new KeyedQueue();

  constructor(private readonly options: { dir: string }) {}

  private objectPath(id: string, ext: '.bin' | '.json'): string {
    return path.join(this.options.dir, 'objects', id.slice(2, 4), id + ext);
  }

  private indexPath(conversationId: string): string {
    return shardedPath(path.join(this.options.dir, 'conversations'), conversationId, '.jsonl');
  }

  async put(input: MediaInput): Promise<MediaRecord> {
    const sha256 = createHash('sha256').update(input.bytes).digest('hex');
    const record = newMediaRecord(input, sha256);
    return this.queue.run(input.conversationId, async () => {
      if (input.source) {
        const existing = (await this.list(input.conversationId)).find((r) => r.source === input.source);
        if (existing) return existing;
      }
      await appendLines(this.indexPath(input.conversationId), [JSON.stringify({ id: record.id })], { fsync: true, where: 'FileMediaStore.put' });
      await writeBytesAtomic(this.objectPath(record.id, '.bin'), input.bytes, 'FileMediaStore.put');
      await writeBytesAtomic(this.objectPath(record.id, '.json'), Buffer.from(JSON.stringify(record), 'utf8'), 'FileMediaStore.put');
      return record;
    });
  }

  private async readRecord(id: string): Promise<MediaRecord | undefined> {
    const text = await readTextOrNull(this.objectPath(id, '.json'), 'FileMediaStore.get');
    if (text === null) return undefined;
    try {
      return JSON.parse(text) as MediaRecord;
    } catch {
      return undefined; // never written by this store: the rename makes records whole
    }
  }

  async get(id: string): Promise<{ record: MediaRecord; bytes: Buffer } | undefined> {
    if (!MEDIA_ID_PATTERN.test(id)) return undefined;
    const record = await this.readRecord(id);
    if (!record) return undefined;
    try {
      const fh = await open(this.objectPath(id, '.bin'), 'r');
      try {
        return { record, bytes: await fh.readFile() };
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw toStorageError(err, 'FileMediaStore.get', this.objectPath(id, '.bin'));
    }
  }

  private async ids(conversationId: string): Promise<string[]> {
    const text = await readTextOrNull(this.indexPath(conversationId), 'FileMediaStore.list');
    if (text === null) return [];
    const ids = parseJsonLines<{ id?: unknown }>(text).items.map((l) => l.id);
    return [...new Set(ids.filter((id): id is string => typeof id === 'string' && MEDIA_ID_PATTERN.test(id)))];
  }

  async list(conversationId: string): Promise<MediaRecord[]> {
    const records: MediaRecord[] = [];
    for (const id of await this.ids(conversationId)) {
      const record = await this.readRecord(id);
      if (record) records.push(record);
    }
    return records;
  }

  async deleteConversation(conversationId: string): Promise<number> {
    return this.queue.run(conversationId, async () => {
      let deleted = 0;
      for (const id of await this.ids(conversationId)) {
        const hadRecord = await unlinkIfExists(this.objectPath(id, '.json'), 'FileMediaStore.deleteConversation');
        await unlinkIfExists(this.objectPath(id, '.bin'), 'FileMediaStore.deleteConversation');
        if (hadRecord) deleted++;
      }
      await unlinkIfExists(this.indexPath(conversationId), 'FileMediaStore.deleteConversation');
      return deleted;
    });
  }

  /** Removes temp files a crash left mid-write (call at start, before any `put`). */
  async removeStaleTempFiles(): Promise<number> {
    const root = path.join(this.options.dir, 'objects');
    let removed = 0;
    const shards = await readdir(root).catch(() => [] as string[]);
    for (const shard of shards) {
      const names = await readdir(path.join(root, shard)).catch(() => [] as string[]);
      for (const name of names) if (name.endsWith('.tmp') && (await unlinkIfExists(path.join(root, shard, name), 'FileMediaStore.removeStaleTempFiles'))) removed++;
    }
    return removed;
  }

  async close(): Promise<void> {
    // Every write is awaited by its caller; nothing is buffered here.
  }
}
