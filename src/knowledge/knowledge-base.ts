/**
 * The hot-reloading holder of the knowledge: the bot, the agent console and the CLIs search through it,
 * and it delegates to the current immutable `KnowledgeIndex`. When an editor saves, adds or deletes a
 * file, the whole folder is loaded and a new index is built off to the side; only when it is complete
 * is one reference swapped, so a turn in flight never sees half an index. A broken file holds back only
 * itself (hold-back.ts): the other files' edits go live, the broken file's last good version keeps
 * serving, and which file is held back and why is logged and shown at `/healthz` and in the console.
 * The served folder is kept in a snapshot (snapshot.ts), so a restart on a broken folder still serves it.
 *
 * @example
 *   const kb = await KnowledgeBase.open(config.knowledgeDir, { logger, snapshotDir: config.dataDir });
 *   const server = createServer({ logger, health: [kb.healthCheck()] });
 *   kb.on('rejected', (e) => console.log(e.heldBack));   // the agent console's live banner listens too
 */
import { EventEmitter } from 'node:events';
import { watch as watchFolder, type FSWatcher } from 'chokidar';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import type { HealthCheck } from '../server.js';
import { resolveServed, type HeldBackFile, type Resolution } from './hold-back.js';
import { KnowledgeFolderError, readKnowledgeFolder, type ParseCache } from './loader.js';
import { SNAPSHOT_FILE, readSnapshot, writeSnapshot } from './snapshot.js';
import { KnowledgeIndex } from './search.js';
import {
  formatProblem,
  type Decision,
  type KnowledgeEntry,
  type KnowledgeProblem,
  type KnowledgeSearcher,
  type SearchContext,
  type SearchMatch,
  type SearchOptions,
} from './types.js';

/** Nothing in the knowledge folder could be served at start-up (and no snapshot had it); `problems` lists everything to fix. */
export class KnowledgeLoadError extends Error {
  override name = 'KnowledgeLoadError';
  constructor(
    readonly dir: string,
    readonly problems: KnowledgeProblem[],
  ) {
    const shown = problems.slice(0, 50).map((p) => `  ${formatProblem(p)}`);
    if (problems.length > shown.length) shown.push(`  ... and ${problems.length - shown.length} more`);
    super(
      `knowledge folder ${dir} has ${problems.length} problem${problems.length === 1 ? '' : 's'} and no file that can be served, ` +
        `nor a snapshot of a last good version (fix them, then check with: npm run kb -- check ${dir}):\n${shown.join('\n')}`,
    );
  }
}

/** How `KnowledgeBase.open` loads and watches; everything has a default. */
export interface KnowledgeBaseOptions {
  /** Decides which entries are currently valid (offers with dates); default the system clock. */
  clock?: Clock;
  logger?: Logger;
  /** Watch the folder and reload on changes (default true; the CLIs pass false). */
  watch?: boolean;
  /** Quiet time after the last file event before reloading, so one save (truncate + write) is one reload. Default 50 ms. */
  debounceMs?: number;
  /**
   * The folder (DATA_DIR) keeping the snapshot of the last good knowledge folder, `SNAPSHOT_FILE`: read at
   * open, so broken files serve their last good version even after a restart, and rewritten after each
   * load that changed what is served. Without it, a file broken at start-up is not served until fixed.
   */
  snapshotDir?: string;
}

/** What `/healthz` and the console show about the knowledge. */
export interface KnowledgeStatus {
  dir: string;
  /** When the serving index was loaded (ISO time). */
  loadedAt: string;
  /** Entries and files of the serving index. */
  entries: number;
  files: number;
  /** Problems of the held-back files; empty once every file loads. */
  problems: KnowledgeProblem[];
  /** Files whose current version is not served, and what is served for them instead. */
  heldBack: HeldBackFile[];
  /** How long the last successful load took, from reading the folder to the swap (ms). */
  lastReloadMs: number;
  /** Of which: reading and validating the folder, and building the index (ms). */
  lastLoadMs: number;
  lastBuildMs: number;
  /** Which files are held back and why (or why the folder could not be read, or watching stopped). */
  lastError?: string;
  lastErrorAt?: string;
  reloads: number;
  rejections: number;
  watching: boolean;
}

/** `KnowledgeStatus` as people read it (`/healthz`, the agent console); the error fields only while something is held back. */
export interface KnowledgeSummary {
  /** `degraded` while a file is held back, the folder cannot be read or watching stopped; the bot answers either way. */
  status: 'ok' | 'degraded';
  entries: number;
  files: number;
  /** When the serving index was loaded (ISO time). */
  loadedAt: string;
  /** How long that load took, whole ms. */
  lastReloadMs: number;
  watching: boolean;
  /**
   * One sentence naming each held-back file and what is served for it, then its first problems; or why
   * the folder could not be read, or watching stopped.
   */
  lastError?: string;
  lastErrorAt?: string;
  /** The held-back files' problems as `path:line: message` (the first ones), and how many there are. */
  problems?: string[];
  problemCount?: number;
  /** Each held-back file: what happened to it, what customers get meanwhile, its problems. */
  heldBack?: { path: string; change: HeldBackFile['change']; serving: HeldBackFile['serving']; problems: string[] }[];
}

/** Payload of the 'reloaded' event. */
export interface ReloadedEvent {
  entries: number;
  files: number;
  ms: number;
}

/** Payload of the 'rejected' event: some files are held back (their last good versions keep serving). */
export interface RejectedEvent {
  problems: KnowledgeProblem[];
  /** Empty when the folder itself could not be read. */
  heldBack: HeldBackFile[];
  error: string;
  /** Whether the other files' changes went live in the same reload. */
  applied: boolean;
  ms: number;
}

/** Events of a KnowledgeBase, for the log and the agent console: a reload that swaps in changes and holds back a file emits both. */
export interface KnowledgeBaseEvents {
  reloaded: [ReloadedEvent];
  rejected: [RejectedEvent];
}

/** Result of one `reload()`: everything went live, or something is held back. */
export type ReloadResult = ({ ok: true } & ReloadedEvent) | ({ ok: false } & RejectedEvent);

const IGNORED_NAME = /(^\.|~$|^#.*#$|\.(swp|swx|swo|tmp|bak)$|^4913$)/;

/** Whether a file event may change the knowledge (.md files, folders); editor swap files do not. */
function isRelevantChange(filename: string | null): boolean {
  if (!filename) return true;
  const parts = filename.split(/[\\/]/);
  if (parts.some((p) => IGNORED_NAME.test(p))) return false;
  const ext = path.extname(parts[parts.length - 1]!);
  return ext === '' || ext.toLowerCase() === '.md';
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** The held-back files in one sentence for the log, `/healthz` and the console: which, what is served, why. */
export function describeHeldBack(heldBack: HeldBackFile[]): string {
  const problems = heldBack.flatMap((h) => h.problems);
  const files = heldBack.map(
    (h) =>
      `${h.path} (${
        h.change === 'deleted' ? 'deletion held back: its last version is still served'
        : h.serving === 'last good version' ? 'its last good version is still served'
        : 'not served until fixed'
      })`,
  );
  const shown = problems.slice(0, 3).map(formatProblem).join('; ');
  return (
    `${plural(heldBack.length, 'file')} held back, the other files' edits are live: ${files.join(', ')}. ` +
    `${plural(problems.length, 'problem')}: ${shown}${problems.length > 3 ? '; ...' : ''}`
  );
}

const sameTexts = (a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

/** The knowledge the bot serves: searchable now, reloaded when the folder changes. */
export class KnowledgeBase extends EventEmitter<KnowledgeBaseEvents> implements KnowledgeSearcher {
  private current: KnowledgeIndex;
  private state: KnowledgeStatus;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private running?: Promise<ReloadResult>;
  private again = false;
  private closed = false;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private readonly goodCache: ParseCache = new Map();
  /** Path → text of the files served now: the last good folder. */
  private good: Map<string, string>;
  private snapshotted: ReadonlyMap<string, string>;
  private snapshotWrite: Promise<void> = Promise.resolve();
  private watchError?: { message: string; at: string };

  private constructor(
    readonly dir: string,
    index: KnowledgeIndex,
    loaded: { files: number; ms: number; loadMs: number; resolution: Resolution; snapshotted: ReadonlyMap<string, string> },
    private readonly cache: ParseCache,
    private readonly options: KnowledgeBaseOptions,
  ) {
    super();
    this.current = index;
    this.good = loaded.resolution.texts;
    this.snapshotted = loaded.snapshotted;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.debounceMs = options.debounceMs ?? 50;
    this.state = {
      dir,
      loadedAt: new Date().toISOString(),
      entries: index.entries.length,
      files: loaded.files,
      problems: loaded.resolution.problems,
      heldBack: loaded.resolution.heldBack,
      ...(loaded.resolution.heldBack.length ? { lastError: describeHeldBack(loaded.resolution.heldBack), lastErrorAt: new Date().toISOString() } : {}),
      lastReloadMs: loaded.ms,
      lastLoadMs: loaded.loadMs,
      lastBuildMs: loaded.ms - loaded.loadMs,
      reloads: 0,
      rejections: 0,
      watching: false,
    };
  }

  /**
   * Loads the folder and builds the first index. A broken file is held back as on a reload: its version in
   * the snapshot (if any) is served, the other files as they are, and the state is degraded. Rejects with
   * `KnowledgeLoadError` only when nothing at all can be served (every problem listed), and with
   * `KnowledgeFolderError` when the folder is missing: a server must not start with no knowledge.
   */
  static async open(dir: string, options: KnowledgeBaseOptions = {}): Promise<KnowledgeBase> {
    const started = performance.now();
    const logger = options.logger ?? silentLogger;
    const cache: ParseCache = new Map();
    const snapshot = options.snapshotDir ? await readSnapshot(path.join(options.snapshotDir, SNAPSHOT_FILE)) : {};
    if (snapshot.problem) logger.warn('knowledge snapshot ignored', { error: snapshot.problem });
    const good = snapshot.texts ?? new Map<string, string>();
    const files = await readKnowledgeFolder(dir);
    const resolution = resolveServed(files, good, { cache, goodCache: new Map() });
    if (resolution.served.length === 0 && resolution.problems.length > 0) throw new KnowledgeLoadError(dir, resolution.problems);
    const entries = resolution.served.map((f) => f.entry!);
    const loadMs = performance.now() - started;
    const index = KnowledgeIndex.build(entries, { clock: options.clock });
    const ms = performance.now() - started;
    const kb = new KnowledgeBase(dir, index, { files: resolution.served.length, ms, loadMs, resolution, snapshotted: good }, cache, options);
    kb.logger.info('knowledge loaded', { dir, entries: entries.length, files: resolution.served.length, ms: Math.round(ms) });
    if (resolution.heldBack.length > 0) {
      kb.logger.error('knowledge started with files held back', {
        dir,
        heldBack: resolution.heldBack.map((h) => `${h.path}: ${h.serving}${h.serving === 'last good version' ? ` (from the snapshot of ${snapshot.savedAt})` : ''}`),
        problems: resolution.problems.map(formatProblem),
      });
    }
    if (entries.length === 0) kb.logger.warn('knowledge folder has no entries: the bot will not answer anything', { dir });
    kb.saveSnapshot();
    if (options.watch ?? true) await kb.startWatching();
    return kb;
  }

  /** Writes the served folder to the snapshot when it changed; one write at a time, a failure only logged. */
  private saveSnapshot(): void {
    const file = this.options.snapshotDir && path.join(this.options.snapshotDir, SNAPSHOT_FILE);
    if (!file || sameTexts(this.good, this.snapshotted)) return;
    const texts = this.good;
    this.snapshotted = texts;
    this.snapshotWrite = this.snapshotWrite
      .then(() => writeSnapshot(file, this.dir, texts))
      .catch((err: Error) => {
        this.snapshotted = new Map(); // try again after the next load
        this.logger.warn('knowledge snapshot not written: a restart on a broken folder would not have it', { file, error: err.message });
      });
  }

  /** The index serving right now (immutable; a reload replaces it). */
  get index(): KnowledgeIndex {
    return this.current;
  }

  /** Every entry of the serving index, whatever its dates or channels (console, CLIs). */
  get entries(): readonly KnowledgeEntry[] {
    return this.current.entries;
  }

  search(query: string, options?: SearchOptions): SearchMatch[] {
    return this.current.search(query, options);
  }

  decide(query: string, context?: SearchContext): Decision {
    return this.current.decide(query, context);
  }

  get(id: string, context?: SearchContext): KnowledgeEntry | undefined {
    return this.current.get(id, context);
  }

  /** A copy of the state: the serving index, what is held back, the last reload attempt. */
  status(): KnowledgeStatus {
    return { ...this.state, problems: [...this.state.problems], heldBack: [...this.state.heldBack] };
  }

  /**
   * The state `/healthz` and the agent console show: the serving index, and while files are held back,
   * which, why and since when, with up to `maxProblems` problems as `path:line: message`.
   */
  summary(maxProblems = 20): KnowledgeSummary {
    const s = this.state;
    return {
      status: s.lastError ? 'degraded' : 'ok',
      entries: s.entries,
      files: s.files,
      loadedAt: s.loadedAt,
      lastReloadMs: Math.round(s.lastReloadMs),
      watching: s.watching,
      ...(s.lastError
        ? { lastError: s.lastError, lastErrorAt: s.lastErrorAt, problems: s.problems.slice(0, maxProblems).map(formatProblem), problemCount: s.problems.length }
        : {}),
      ...(s.heldBack.length
        ? { heldBack: s.heldBack.map((h) => ({ path: h.path, change: h.change, serving: h.serving, problems: h.problems.map(formatProblem) })) }
        : {}),
    };
  }

  /**
   * The `/healthz` check. It stays ok (ready) while files are held back — taking the server out of
   * rotation would stop every answer, not just the broken one — and says `degraded`, with which file and why.
   */
  healthCheck(): HealthCheck {
    return {
      name: 'knowledge',
      check: () => {
        const summary = this.summary();
        return { ok: true, ...(summary.status === 'degraded' ? { degraded: true as const } : {}), ...summary };
      },
    };
  }

  /**
   * Loads the folder again and swaps in the new index if it is valid. Concurrent calls share the
   * running load and schedule one more, so the last change on disk is always the one that ends up served.
   */
  reload(): Promise<ReloadResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loadAndSwap().finally(() => {
      this.running = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.reload();
      }
    });
    return this.running;
  }

  private async loadAndSwap(): Promise<ReloadResult> {
    const started = performance.now();
    let resolution: Resolution;
    try {
      // Only files whose text changed are parsed again; the index is rebuilt whole when what is served changed.
      resolution = resolveServed(await readKnowledgeFolder(this.dir), this.good, { cache: this.cache, goodCache: this.goodCache });
    } catch (err) {
      const error = err instanceof KnowledgeFolderError ? err.message : `reload failed: ${(err as Error).message}`;
      return this.rejected({ problems: [], heldBack: [], error, applied: false, ms: performance.now() - started });
    }
    const { heldBack, problems } = resolution;
    if (heldBack.length > 0 && this.again && !this.closed) {
      // A newer change is already waiting (typically the rest of a save that was caught half-written):
      // judge that one instead of raising an alarm about a state the editor never meant.
      return { ok: false, problems, heldBack, error: describeHeldBack(heldBack), applied: false, ms: performance.now() - started };
    }
    const changed = !sameTexts(resolution.texts, this.good);
    const entries = resolution.served.map((f) => f.entry!);
    const loadMs = performance.now() - started;
    const index = changed ? KnowledgeIndex.build(entries, { clock: this.clock }) : undefined;
    const ms = performance.now() - started;
    if (this.closed) return { ok: true, entries: entries.length, files: resolution.served.length, ms };
    const event: ReloadedEvent = { entries: entries.length, files: resolution.served.length, ms };
    // `loadedAt` moves when what is served changed, or when the whole folder loads again (a fix that restores the text served).
    if (index || heldBack.length === 0) {
      if (index) {
        this.current = index; // the swap: searches already running finish on the old index
        this.good = resolution.texts;
        this.saveSnapshot();
      }
      Object.assign(this.state, {
        loadedAt: new Date().toISOString(),
        entries: entries.length,
        files: resolution.served.length,
        lastReloadMs: ms,
        lastLoadMs: loadMs,
        lastBuildMs: ms - loadMs,
        reloads: this.state.reloads + 1,
      });
    }
    Object.assign(this.state, { problems, heldBack });
    if (heldBack.length === 0) {
      // Everything loads again; only a stopped watcher is still worth a banner.
      Object.assign(this.state, { lastError: this.watchError?.message, lastErrorAt: this.watchError?.at });
      this.logger.info('knowledge reloaded', { dir: this.dir, ...event, ms: Math.round(ms) });
      this.emit('reloaded', event);
      return { ok: true, ...event };
    }
    if (index) {
      this.logger.info('knowledge reloaded', { dir: this.dir, ...event, ms: Math.round(ms) });
      this.emit('reloaded', event);
    }
    return this.rejected({ problems, heldBack, error: describeHeldBack(heldBack), applied: !!index, ms });
  }

  /** Records and announces what is held back (or why the folder could not be read); the rest keeps serving. */
  private rejected(event: RejectedEvent): ReloadResult {
    if (this.again && !this.closed) return { ok: false, ...event };
    const unchanged = this.state.lastError === event.error;
    Object.assign(this.state, {
      ...(event.heldBack.length || event.problems.length ? { problems: event.problems, heldBack: event.heldBack } : {}),
      lastError: event.error,
      lastErrorAt: unchanged && this.state.lastErrorAt ? this.state.lastErrorAt : new Date().toISOString(),
      rejections: this.state.rejections + 1,
    });
    this.logger.error(
      event.heldBack.length
        ? `knowledge reload rejected for ${plural(event.heldBack.length, 'file')}; still serving their last good versions`
        : 'knowledge reload rejected; still serving the previous version',
      { dir: this.dir, heldBack: event.heldBack.map((h) => `${h.path}: ${h.serving}`), problems: event.problems.map(formatProblem), error: event.error },
    );
    this.emit('rejected', event);
    return { ok: false, ...event };
  }

  /**
   * Watches the folder with chokidar, which follows a file across an editor's atomic save (a new file
   * renamed over it), `git checkout` and delete-and-recreate — Node 20's own recursive `fs.watch` on
   * Linux keeps watching the replaced file and misses every later save. Resolves once the watch is set up.
   */
  private async startWatching(): Promise<void> {
    const root = path.resolve(this.dir);
    const watcher = watchFolder(root, {
      ignoreInitial: true,
      // Hidden folders (.git, editors' state) and node_modules, as the loader skips them.
      ignored: (p) => path.relative(root, p).split(path.sep).some((part) => part.startsWith('.') || part === 'node_modules'),
    });
    watcher.on('all', (_event, file) => {
      if (isRelevantChange(path.relative(root, file))) this.schedule();
    });
    watcher.on('error', (err) => {
      const message = (err as Error).message;
      this.state.watching = false;
      this.watchError = { message: `watching ${this.dir} stopped: ${message} (restart the server to pick up changes)`, at: new Date().toISOString() };
      this.state.lastError = this.watchError.message;
      this.state.lastErrorAt = this.watchError.at;
      this.logger.error('knowledge watcher failed; hot reload is off', { dir: this.dir, error: message });
    });
    this.watcher = watcher;
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.state.watching = !this.closed;
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reload(), this.debounceMs);
  }

  /** Stops watching; searches keep working on the last index. Waits for a reload in progress. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.watcher?.close();
    this.watcher = undefined;
    this.state.watching = false;
    await this.running?.catch(() => undefined);
    await this.snapshotWrite;
  }
}
