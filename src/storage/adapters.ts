/**
 * lowdb adapters for crash-safe files. lowdb's own `JSONFile` (steno) renames a temp file but never
 * fsyncs and uses one fixed temp name; these add fsync, unique temp names and named errors.
 * @see https://github.com/typicode/lowdb#adapters
 */
import type { Adapter } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { StorageCorruptError } from './errors.js';
import { appendLines, parseJsonLines, readTextOrNull, writeFileAtomic } from './files.js';

/** Options for both adapters. */
export interface FileAdapterOptions {
  /** fsync before a write resolves (default true). */
  fsync?: boolean;
  /** Where the adapter is used, for error messages (default the class name). */
  where?: string;
}

/**
 * One JSON document per file, replaced atomically (temp + fsync + rename): after a crash the file holds
 * either the previous or the new document, never a mix.
 * @example const db = new Low(new AtomicJsonFile<Item>('/data/x.json'), null); await db.read();
 */
export class AtomicJsonFile<T> implements Adapter<T> {
  private readonly fsync: boolean;
  private readonly where: string;
  constructor(readonly file: string, options: FileAdapterOptions = {}) {
    this.fsync = options.fsync ?? true;
    this.where = options.where ?? 'AtomicJsonFile';
  }

  async read(): Promise<T | null> {
    const text = await readTextOrNull(this.file, this.where);
    if (text === null) return null;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new StorageCorruptError(this.where, this.file, { cause: err });
    }
  }

  async write(data: T): Promise<void> {
    await writeFileAtomic(this.file, JSON.stringify(data), { fsync: this.fsync, where: this.where });
  }
}

/**
 * An append-only JSON Lines file as a lowdb adapter over an array. `append` adds items without
 * rewriting the file (the cost of a write does not depend on what is already stored); `read` skips a
 * line torn by a crash; `write` replaces the whole file atomically (for compaction).
 */
export class JsonLinesFile<T> implements Adapter<T[]> {
  private readonly fsync: boolean;
  private readonly where: string;
  /** Lines skipped by the last `read` because they did not parse (a torn write). */
  skipped = 0;

  constructor(readonly file: string, options: FileAdapterOptions = {}) {
    this.fsync = options.fsync ?? true;
    this.where = options.where ?? 'JsonLinesFile';
  }

  async read(): Promise<T[] | null> {
    const text = await readTextOrNull(this.file, this.where);
    if (text === null) return null;
    const { items, skipped } = parseJsonLines<T>(text);
    this.skipped = skipped;
    return items;
  }

  async write(data: T[]): Promise<void> {
    const body = data.map((d) => JSON.stringify(d)).join('\n');
    await writeFileAtomic(this.file, data.length ? body + '\n' : '', { fsync: this.fsync, where: this.where });
  }

  /**
   * Appends items as lines; O(size of the items), whatever the file already holds. Pass
   * `{ tailChecked: true }` when this process already appended to the file (skips the torn-line check).
   */
  async append(items: T[], options: { tailChecked?: boolean } = {}): Promise<void> {
    if (!items.length) return;
    await appendLines(this.file, items.map((i) => JSON.stringify(i)), { fsync: this.fsync, where: this.where, checkTail: !options.tailChecked });
  }
}

/**
 * lowdb's `JSONFile` whose file only its owner can read (`PRIVATE_FILE_MODE`): steno, under `JSONFile`,
 * creates its temp file with the default mode (0644 under the usual umask). Writes go through
 * `writeFileAtomic` instead, one after another in call order, as steno does; the JSON stays indented.
 * Unlike the adapters above it fsyncs only when asked (`fsync: true`), as `JSONFile` never does.
 * @example new Low<AccountsFile>(new PrivateJSONFile(path.join(dataDir, 'agents.json')), null)
 */
export class PrivateJSONFile<T> extends JSONFile<T> {
  private readonly where: string;
  private readonly fsync: boolean;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    readonly file: string,
    options: FileAdapterOptions = {},
  ) {
    super(file);
    this.where = options.where ?? 'PrivateJSONFile';
    this.fsync = options.fsync ?? false;
  }

  override write(data: T): Promise<void> {
    const text = JSON.stringify(data, null, 2);
    const run = () => writeFileAtomic(this.file, text, { fsync: this.fsync, where: this.where });
    const next = this.writes.then(run, run);
    this.writes = next.catch(() => undefined);
    return next;
  }
}
