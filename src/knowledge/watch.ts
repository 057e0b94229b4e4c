/**
 * Watches a knowledge folder and every folder below it: on Linux (and other platforms without a native
 * recursive watch) one non-recursive `fs.watch` per folder, each reporting changes to its own entries
 * (files written in place, created, deleted, renamed over); on macOS and Windows the OS's recursive watch.
 *
 * Why not `fs.watch(dir, { recursive: true })`: on Linux, Node 20 implements it in JavaScript with one
 * watch per *file*, and a file replaced by a new inode — an editor's or `sed -i`'s atomic save (write a
 * temporary file, rename it over), `git checkout`, delete and create again — keeps the watch of the old,
 * deleted inode. The replacement itself is noticed, every later save of that file is not: the server
 * went on serving the previous answer (or a rejected file's last good version) until restarted. A
 * folder's own watch reports its entries whatever their inode (a folder removed and created again is
 * watched anew).
 *
 * @example
 *   const watcher = new FolderWatcher('./knowledge', { onChange: (rel) => schedule(), onError: (e) => log(e) });
 *   watcher.close();
 */
import { watch, readdirSync, statSync, type Dirent, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** What a `FolderWatcher` reports. */
export interface FolderWatcherOptions {
  /** Something below the folder changed: its path relative to the folder (`/`-separated), or null when the platform did not say. */
  onChange(relPath: string | null): void;
  /** The watch of the folder itself failed (removed, permissions): changes are no longer seen. */
  onError(err: Error): void;
}

/** Folders not worth watching: hidden ones (`.git`, editors' state) and `node_modules`, as the loader skips them. */
function isWatchedFolder(name: string): boolean {
  return !name.startsWith('.') && name !== 'node_modules';
}

const join = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);

/** Where Node's `recursive: true` is the operating system's own and follows files by path. */
const NATIVE_RECURSIVE = process.platform === 'darwin' || process.platform === 'win32';

/** Watches `root` and its subfolders, following folders created, moved in, removed or moved out. */
export class FolderWatcher {
  /** Watches by folder path relative to the root ('' is the root), with the folder's inode. */
  private readonly watchers = new Map<string, { watcher: FSWatcher; ino: number }>();
  private closed = false;

  /** Starts watching now; throws when the root itself cannot be watched (as `fs.watch` does). */
  constructor(
    readonly root: string,
    private readonly options: FolderWatcherOptions,
  ) {
    if (NATIVE_RECURSIVE) this.addNative();
    else this.add('', true);
  }

  /** macOS and Windows: the OS watches the whole tree by path (FSEvents, ReadDirectoryChangesW), and a watch per folder would hold Windows folders open. */
  private addNative(): void {
    const watcher = watch(this.root, { recursive: true, persistent: false }, (_event, name) => {
      if (!this.closed) this.options.onChange(name === null ? null : String(name).split(path.sep).join('/'));
    });
    watcher.on('error', (err) => this.options.onError(err));
    this.watchers.set('', { watcher, ino: 0 });
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.watcher.close();
    this.watchers.clear();
  }

  /** Watches `rel` and, synchronously, every folder already below it. */
  private add(rel: string, isRoot = false): void {
    if (this.closed || this.watchers.has(rel)) return;
    const abs = path.join(this.root, rel);
    let watcher: FSWatcher;
    let ino: number;
    try {
      ino = statSync(abs).ino;
      watcher = watch(abs, { persistent: false }, (event, name) => this.changed(rel, event, name === null ? null : String(name)));
    } catch (err) {
      if (isRoot) throw err;
      return; // gone again before it could be watched; its parent's event already reported it
    }
    watcher.on('error', (err) => {
      if (rel === '') return this.options.onError(err);
      this.remove(rel); // a subfolder removed under its watch
      this.options.onChange(rel);
    });
    this.watchers.set(rel, { watcher, ino });
    let entries: Dirent[];
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory() && isWatchedFolder(e.name)) this.add(join(rel, e.name));
  }

  /** Stops watching `rel` and everything below it. */
  private remove(rel: string): void {
    for (const [key, w] of this.watchers) {
      if (key === rel || key.startsWith(`${rel}/`)) {
        w.watcher.close();
        this.watchers.delete(key);
      }
    }
  }

  private changed(dirRel: string, event: string, name: string | null): void {
    if (this.closed) return;
    this.options.onChange(name === null ? (dirRel || null) : join(dirRel, name.split(path.sep).join('/')));
    // A name appeared or went away: it may be a folder to start or stop watching.
    if (event === 'rename' || name === null) void this.resync(dirRel);
  }

  /** Matches the watched subfolders of `dirRel` to what is on disk now. */
  private async resync(dirRel: string): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(path.join(this.root, dirRel), { withFileTypes: true });
    } catch {
      if (dirRel !== '') this.remove(dirRel); // the folder itself is gone (its parent reports that)
      return;
    }
    if (this.closed || !this.watchers.has(dirRel)) return;
    const present = new Set(entries.filter((e) => e.isDirectory() && isWatchedFolder(e.name)).map((e) => join(dirRel, e.name)));
    for (const key of [...this.watchers.keys()]) {
      const parent = key.includes('/') ? key.slice(0, key.lastIndexOf('/')) : '';
      if (key !== '' && parent === dirRel && !present.has(key)) this.remove(key);
    }
    for (const sub of present) {
      const watched = this.watchers.get(sub);
      if (watched) {
        // Removed and created again under the same name: the old watch sees nothing of the new folder.
        const now = await stat(path.join(this.root, sub)).catch(() => undefined);
        if (this.closed || !now || now.ino === watched.ino || this.watchers.get(sub) !== watched) continue;
        this.remove(sub);
      }
      this.add(sub);
      // Files may have been written into it (or it was moved in whole) before its watch existed.
      this.options.onChange(sub);
    }
  }
}
