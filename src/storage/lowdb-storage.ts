/**
 * `LowdbStorage`: botbuilder `Storage` (bot, conversation and user state) on lowdb, one small JSON file
 * per key so writing one key never rewrites another. The eTag rules are exactly `MemoryStorage`'s:
 * a missing eTag or `'*'` overwrites, a matching eTag writes, a stale eTag rejects, every write gets a
 * new eTag, and reading a missing key leaves it out of the result.
 *
 * Layout: `<dir>/state/<2 hex>/<sha256(key)>.json` holding `{ key, item }`; keys with slashes, unicode
 * or any length are safe because the file name is a hash. Writes go through `AtomicJsonFile`
 * (temp file + fsync + rename), and operations on one key run one at a time (per-key queue).
 * One process per folder: several server instances need a database-backed `Storage` instead.
 */
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import type { Storage, StoreItem, StoreItems } from 'botbuilder';
import { AtomicJsonFile } from './adapters.js';
import { ETagConflictError, toStorageError } from './errors.js';
import { KeyedQueue, shardedPath, unlinkIfExists } from './files.js';

/** Constructor options of `LowdbStorage`. */
export interface LowdbStorageOptions {
  /** The data folder (`DATA_DIR`); state goes under `<dir>/state`. */
  dir: string;
  /** fsync every write before it resolves (default true; turn off only for throwaway data). */
  fsync?: boolean;
}

/** What one state file holds: the original key (file names are hashes) and the item with its eTag. */
interface StateFile {
  key: string;
  item: StoreItem;
}

const WHERE = 'LowdbStorage';

/**
 * botbuilder `Storage` on lowdb files.
 * @example const storage = new LowdbStorage({ dir: config.dataDir }); const conversationState = new ConversationState(storage);
 */
export class LowdbStorage implements Storage {
  /** Folder holding the state files. */
  readonly root: string;
  private readonly fsync: boolean;
  private readonly queue = new KeyedQueue();
  private readonly etagPrefix = randomBytes(4).toString('hex');
  private etagSeq = 0;

  constructor(options: LowdbStorageOptions) {
    if (!options?.dir) throw new Error('LowdbStorage: options.dir is required (the data folder, e.g. config.dataDir)');
    this.root = path.join(options.dir, 'state');
    this.fsync = options.fsync ?? true;
  }

  /** The file that holds `key` (tests and tools). */
  fileOf(key: string): string {
    return shardedPath(this.root, key, '.json');
  }

  private db(key: string): Low<StateFile | null> {
    return new Low<StateFile | null>(new AtomicJsonFile<StateFile | null>(this.fileOf(key), { fsync: this.fsync, where: WHERE }), null);
  }

  private async load(key: string): Promise<Low<StateFile | null>> {
    const db = this.db(key);
    await db.read();
    // A hash collision would need two keys with one SHA-256; treat a foreign key as absent anyway.
    if (db.data && db.data.key !== key) db.data = null;
    return db;
  }

  private nextETag(): string {
    return `${Date.now().toString(36)}-${this.etagPrefix}-${(++this.etagSeq).toString(36)}`;
  }

  async read(keys: string[]): Promise<StoreItems> {
    if (!keys) throw new ReferenceError('Keys are required when reading.');
    const found = await Promise.all(keys.map((key) => this.queue.run(key, async () => (await this.load(key)).data)));
    const items: StoreItems = {};
    keys.forEach((key, i) => {
      const f = found[i];
      if (f) items[key] = f.item; // freshly parsed: callers may mutate it freely
    });
    return items;
  }

  async write(changes: StoreItems): Promise<void> {
    if (!changes) throw new ReferenceError('Changes are required when writing.');
    // Snapshot now, as MemoryStorage does, so later mutations by the caller do not leak into the write.
    const snapshot = Object.keys(changes).map((key) => ({ key, item: JSON.parse(JSON.stringify(changes[key] ?? {})) as StoreItem }));
    const results = await Promise.allSettled(
      snapshot.map(({ key, item }) =>
        this.queue.run(key, async () => {
          const db = await this.load(key);
          const old = db.data;
          if (old && item.eTag && item.eTag !== '*' && item.eTag !== old.item.eTag) throw new ETagConflictError(WHERE, key);
          db.data = { key, item: { ...item, eTag: this.nextETag() } };
          await db.write();
        }),
      ),
    );
    // Like MemoryStorage: the other keys of the batch are written, then the first failure is reported.
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async delete(keys: string[]): Promise<void> {
    if (!keys) throw new ReferenceError('Keys are required when deleting.');
    await Promise.all(keys.map((key) => this.queue.run(key, () => unlinkIfExists(this.fileOf(key), WHERE))));
  }

  /**
   * Removes temporary files a crash left behind (older than `olderThanMs`, so writes in flight are
   * untouched). They are never read, only take space; call it at start-up. Returns how many were removed.
   */
  async removeStaleTempFiles(olderThanMs = 60_000): Promise<number> {
    let entries;
    try {
      entries = await readdir(this.root, { recursive: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw toStorageError(err, `${WHERE}.removeStaleTempFiles`, this.root);
    }
    let removed = 0;
    const cutoff = Date.now() - olderThanMs;
    for (const rel of entries) {
      if (!rel.endsWith('.tmp')) continue;
      const file = path.join(this.root, rel);
      const info = await stat(file).catch(() => undefined);
      if (info && info.mtimeMs < cutoff && (await unlinkIfExists(file, WHERE))) removed++;
    }
    return removed;
  }
}
