/**
 * The file primitives under both stores: an atomic replace (temp file + fsync + rename) for small JSON
 * documents, an append of one JSON line for logs, a tolerant JSON-lines reader, hashed and sharded file
 * names, and a per-key queue. Kept separate so each is tested on its own.
 */
import { createHash } from 'node:crypto';
import { access, chmod, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { toStorageError } from './errors.js';

let tempCounter = 0;

/**
 * Mode of every file Switchboard writes in DATA_DIR: owner read/write only. The files hold customers'
 * conversations, agents' password hashes and session tokens, and the Direct Line signing secret.
 */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of every folder Switchboard makes in DATA_DIR: only the owner may list or enter it. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Makes `dir` (and missing parents) with `PRIVATE_DIR_MODE`, and tightens `dir` itself if it already
 * existed with a looser mode (`mkdir` leaves an existing folder as it is).
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const s = await stat(dir);
  if ((s.mode & 0o777) !== PRIVATE_DIR_MODE && s.uid === process.getuid?.()) await chmod(dir, PRIVATE_DIR_MODE);
}

/** Marks a DATA_DIR whose older files were tightened once: later starts do not walk it again. */
export const PRIVATE_MODES_MARKER = '.private-modes';

/**
 * `tightenPrivateModes` once per DATA_DIR: everything this version writes is private already, so only a
 * folder written by an older version needs the walk (which reads every entry). Returns what changed.
 */
export async function tightenPrivateModesOnce(root: string): Promise<number> {
  const marker = path.join(root, PRIVATE_MODES_MARKER);
  if (await stat(marker).then(() => true, () => false)) return 0;
  const changed = await tightenPrivateModes(root);
  await writeFileAtomic(marker, 'DATA_DIR modes tightened to 0600/0700 on ' + new Date().toISOString() + '\n', { fsync: false, where: 'tightenPrivateModesOnce' });
  return changed;
}

/**
 * Tightens what older versions wrote (files 0644, folders 0755) under `root`: every file this user owns
 * becomes `PRIVATE_FILE_MODE`, every folder `PRIVATE_DIR_MODE`; symbolic links are not followed.
 * Returns how many entries it changed. A missing `root` is fine.
 */
export async function tightenPrivateModes(root: string): Promise<number> {
  const uid = process.getuid?.();
  let changed = 0;
  const visit = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await visit(p);
      else if (!e.isFile()) continue;
      const want = e.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
      const s = await stat(p).catch(() => undefined); // removed meanwhile
      if (!s || (s.mode & 0o777) === want || (uid !== undefined && s.uid !== uid)) continue;
      await chmod(p, want);
      changed++;
    }
  };
  await visit(root);
  const s = await stat(root).catch(() => undefined);
  if (s && (s.mode & 0o777) !== PRIVATE_DIR_MODE && (uid === undefined || s.uid === uid)) {
    await chmod(root, PRIVATE_DIR_MODE);
    changed++;
  }
  return changed;
}

/** Options shared by the writers. */
export interface WriteOptions {
  /**
   * fsync the file's data before resolving (default on in the stores; off only for throwaway data).
   * The folder is not fsynced after a rename: a power cut may roll a key back to its previous
   * complete version, but can never leave a torn file.
   */
  fsync: boolean;
  /** Where the write comes from, for error messages. */
  where: string;
}

async function ensureDir(dir: string) {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Replaces `file` with `data` so that a crash at any moment leaves either the old or the new content:
 * write a unique temp file in the same folder, fsync it, rename it over the target.
 */
export async function writeFileAtomic(file: string, data: string, options: WriteOptions): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${++tempCounter}.tmp`);
  try {
    let fh;
    try {
      fh = await open(tmp, 'w', PRIVATE_FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await ensureDir(dir);
      fh = await open(tmp, 'w', PRIVATE_FILE_MODE);
    }
    try {
      await fh.writeFile(data, 'utf8');
      if (options.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw toStorageError(err, options.where, file);
  }
}

/**
 * Appends lines (each one JSON value, no newline inside) to `file` with one `write` on an O_APPEND
 * descriptor. With `checkTail` (default), if a previous crash left a torn last line without its
 * newline, a newline is written first so the torn line stays isolated and the reader skips it; callers
 * that already appended to the file in this process can skip that extra read.
 */
export async function appendLines(file: string, lines: string[], options: WriteOptions & { checkTail?: boolean }): Promise<void> {
  const flags = options.checkTail === false ? 'a' : 'a+';
  try {
    let fh;
    try {
      fh = await open(file, flags, PRIVATE_FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await ensureDir(path.dirname(file));
      fh = await open(file, flags, PRIVATE_FILE_MODE);
    }
    try {
      let prefix = '';
      const size = options.checkTail === false ? 0 : (await fh.stat()).size;
      if (size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = '\n';
      }
      const buf = Buffer.from(prefix + lines.join('\n') + '\n', 'utf8');
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
      if (options.fsync) await fh.datasync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw toStorageError(err, options.where, file);
  }
}

/** Reads a whole file, or `null` when it does not exist. */
export async function readTextOrNull(file: string, where: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw toStorageError(err, where, file);
  }
}

/**
 * Parses JSON lines, skipping any line that does not parse (a torn write from a crash) instead of
 * failing the whole file. Returns the values and how many lines were skipped.
 */
export function parseJsonLines<T>(text: string): { items: T[]; skipped: number } {
  const items: T[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      items.push(JSON.parse(line) as T);
    } catch {
      skipped++;
    }
  }
  return { items, skipped };
}

/** Whether a file exists (without reading it). */
export async function fileExists(file: string, where: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw toStorageError(err, where, file);
  }
}

/** Deletes a file; a missing file is fine. */
export async function unlinkIfExists(file: string, where: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw toStorageError(err, where, file);
  }
}

/**
 * A file name for any key (slashes, unicode, 10 kB long): the SHA-256 of the key, under a folder named
 * by its first two hex digits so no folder holds more than ~1/256 of the files.
 * @example shardedPath('/data/state', 'user/ü', '.json') → '/data/state/3f/3fa1….json'
 */
export function shardedPath(root: string, key: string, ext: string): string {
  const h = createHash('sha256').update(key, 'utf8').digest('hex');
  return path.join(root, h.slice(0, 2), h + ext);
}

/** A folder name for a channel id: readable when it is a plain lowercase id, hashed otherwise. */
export function safeName(id: string): string {
  if (/^[a-z0-9][a-z0-9_-]{0,63}$/.test(id)) return id;
  return 'x-' + createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 32);
}

/**
 * Runs tasks one after another per key (and in parallel across keys), in the order they were queued.
 * This is what keeps two concurrent writes to one key or conversation from losing either.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** How many keys have work in flight (tests). */
  get size(): number {
    return this.tails.size;
  }
}

/** A Set that forgets its oldest entries past `max`, for "already seen" caches that must not grow forever. */
export class BoundedSet<T> {
  private readonly items = new Set<T>();
  constructor(private readonly max: number) {}
  has(v: T): boolean {
    return this.items.has(v);
  }
  add(v: T): void {
    this.items.delete(v);
    this.items.add(v);
    if (this.items.size > this.max) this.items.delete(this.items.values().next().value as T);
  }
  delete(v: T): void {
    this.items.delete(v);
  }
}
