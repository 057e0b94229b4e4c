/**
 * The hot-reloading holder of the knowledge: the bot, the agent console and the CLIs search through it,
 * and it delegates to the current immutable `KnowledgeIndex`. When an editor saves, adds or deletes a
 * file, the whole folder is loaded and a new index is built off to the side; only when it is complete
 * and valid is one reference swapped, so a turn in flight never sees half an index. A broken edit is
 * rejected: the last good index keeps serving, and the problems are logged and kept for `/healthz`.
 *
 * @example
 *   const kb = await KnowledgeBase.open(config.knowledgeDir, { logger });
 *   const server = createServer({ logger, health: [kb.healthCheck()] });
 *   kb.on('rejected', (e) => console.log(e.problems));   // the agent console's live banner listens too
 */
import { EventEmitter } from 'node:events';
import { watch as watchFolder, type FSWatcher } from 'chokidar';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import type { HealthCheck } from '../server.js';
import { KnowledgeFolderError, loadKnowledge, type ParseCache } from './loader.js';
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

/** The knowledge folder could not be loaded at start-up; `problems` lists everything to fix. */
export class KnowledgeLoadError extends Error {
  override name = 'KnowledgeLoadError';
  constructor(
    readonly dir: string,
    readonly problems: KnowledgeProblem[],
  ) {
    const shown = problems.slice(0, 50).map((p) => `  ${formatProblem(p)}`);
    if (problems.length > shown.length) shown.push(`  ... and ${problems.length - shown.length} more`);
    super(
      `knowledge folder ${dir} has ${problems.length} problem${problems.length === 1 ? '' : 's'} ` +
        `(fix them, then check with: npm run kb -- check ${dir}):\n${shown.join('\n')}`,
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
}

/** What `/healthz` and the console show about the knowledge. */
export interface KnowledgeStatus {
  dir: string;
  /** When the serving index was loaded (ISO time). */
  loadedAt: string;
  /** Entries and files of the serving index. */
  entries: number;
  files: number;
  /** Problems of the last rejected reload; empty once a reload succeeds again. */
  problems: KnowledgeProblem[];
  /** How long the last successful load took, from reading the folder to the swap (ms). */
  lastReloadMs: number;
  /** Of which: reading and validating the folder, and building the index (ms). */
  lastLoadMs: number;
  lastBuildMs: number;
  /** Why the last reload was rejected, if the latest attempt failed; the previous index is still serving. */
  lastError?: string;
  lastErrorAt?: string;
  reloads: number;
  rejections: number;
  watching: boolean;
}

/** `KnowledgeStatus` as people read it (`/healthz`, the agent console); the error fields only while a reload stands rejected. */
export interface KnowledgeSummary {
  entries: number;
  files: number;
  /** When the serving index was loaded (ISO time). */
  loadedAt: string;
  /** How long that load took, whole ms. */
  lastReloadMs: number;
  watching: boolean;
  /** Why the latest reload was rejected (or watching stopped); the index loaded at `loadedAt` keeps serving. */
  lastError?: string;
  lastErrorAt?: string;
  /** The rejected folder's problems as `path:line: message` (the first ones), and how many there are. */
  problems?: string[];
  problemCount?: number;
}

/** Payload of the 'reloaded' event. */
export interface ReloadedEvent {
  entries: number;
  files: number;
  ms: number;
}

/** Payload of the 'rejected' event: the previous index keeps serving. */
export interface RejectedEvent {
  problems: KnowledgeProblem[];
  error: string;
  ms: number;
}

/** Events of a KnowledgeBase, for the log and the agent console. */
export interface KnowledgeBaseEvents {
  reloaded: [ReloadedEvent];
  rejected: [RejectedEvent];
}

/** Result of one `reload()`: the new index was swapped in, or the old one kept. */
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

  private constructor(
    readonly dir: string,
    index: KnowledgeIndex,
    loaded: { files: number; ms: number; loadMs: number },
    private readonly cache: ParseCache,
    options: KnowledgeBaseOptions,
  ) {
    super();
    this.current = index;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.debounceMs = options.debounceMs ?? 50;
    this.state = {
      dir,
      loadedAt: new Date().toISOString(),
      entries: index.entries.length,
      files: loaded.files,
      problems: [],
      lastReloadMs: loaded.ms,
      lastLoadMs: loaded.loadMs,
      lastBuildMs: loaded.ms - loaded.loadMs,
      reloads: 0,
      rejections: 0,
      watching: false,
    };
  }

  /**
   * Loads the folder and builds the first index. Rejects with `KnowledgeLoadError` (every problem
   * listed) or `KnowledgeFolderError` (folder missing): a server must not start with knowledge it cannot read.
   */
  static async open(dir: string, options: KnowledgeBaseOptions = {}): Promise<KnowledgeBase> {
    const started = performance.now();
    const cache: ParseCache = new Map();
    const loaded = await loadKnowledge(dir, { cache });
    if (loaded.problems.length > 0) throw new KnowledgeLoadError(dir, loaded.problems);
    const loadMs = performance.now() - started;
    const index = KnowledgeIndex.build(loaded.entries, { clock: options.clock });
    const ms = performance.now() - started;
    const kb = new KnowledgeBase(dir, index, { files: loaded.files, ms, loadMs }, cache, options);
    kb.logger.info('knowledge loaded', { dir, entries: loaded.entries.length, files: loaded.files, ms: Math.round(ms) });
    if (loaded.entries.length === 0) kb.logger.warn('knowledge folder has no entries: the bot will not answer anything', { dir });
    if (options.watch ?? true) await kb.startWatching();
    return kb;
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

  /** A snapshot of the serving index and the last reload attempt. */
  status(): KnowledgeStatus {
    return { ...this.state, problems: [...this.state.problems] };
  }

  /**
   * The state `/healthz` and the agent console show: the serving index, and while the latest reload
   * stands rejected, why and when, with up to `maxProblems` problems as `path:line: message`.
   */
  summary(maxProblems = 20): KnowledgeSummary {
    const s = this.state;
    return {
      entries: s.entries,
      files: s.files,
      loadedAt: s.loadedAt,
      lastReloadMs: Math.round(s.lastReloadMs),
      watching: s.watching,
      ...(s.lastError
        ? { lastError: s.lastError, lastErrorAt: s.lastErrorAt, problems: s.problems.slice(0, maxProblems).map(formatProblem), problemCount: s.problems.length }
        : {}),
    };
  }

  /**
   * The `/healthz` check. It stays ok while a good index serves, even after a rejected edit — taking
   * the server out of rotation would stop every answer, not just the broken one — and shows the error.
   */
  healthCheck(): HealthCheck {
    return { name: 'knowledge', check: () => ({ ok: true, ...this.summary() }) };
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
    let problems: KnowledgeProblem[];
    let error: string;
    try {
      // Only files whose text changed are parsed again; the index is always rebuilt whole.
      const loaded = await loadKnowledge(this.dir, { cache: this.cache });
      if (loaded.problems.length === 0) {
        const loadMs = performance.now() - started;
        const index = KnowledgeIndex.build(loaded.entries, { clock: this.clock });
        const ms = performance.now() - started;
        if (this.closed) return { ok: true, entries: loaded.entries.length, files: loaded.files, ms };
        this.current = index; // the swap: searches already running finish on the old index
        Object.assign(this.state, {
          loadedAt: new Date().toISOString(),
          entries: loaded.entries.length,
          files: loaded.files,
          problems: [],
          lastReloadMs: ms,
          lastLoadMs: loadMs,
          lastBuildMs: ms - loadMs,
          lastError: undefined,
          lastErrorAt: undefined,
          reloads: this.state.reloads + 1,
        });
        const event: ReloadedEvent = { entries: loaded.entries.length, files: loaded.files, ms };
        this.logger.info('knowledge reloaded', { dir: this.dir, ...event, ms: Math.round(ms) });
        this.emit('reloaded', event);
        return { ok: true, ...event };
      }
      problems = loaded.problems;
      error = `${problems.length} problem${problems.length === 1 ? '' : 's'}: ${problems.slice(0, 3).map(formatProblem).join('; ')}${problems.length > 3 ? '; ...' : ''}`;
    } catch (err) {
      problems = [];
      error = err instanceof KnowledgeFolderError ? err.message : `reload failed: ${(err as Error).message}`;
    }
    const ms = performance.now() - started;
    if (this.again && !this.closed) {
      // A newer change is already waiting (typically the rest of a save that was caught half-written):
      // judge that one instead of raising an alarm about a state the editor never meant.
      return { ok: false, problems, error, ms };
    }
    Object.assign(this.state, {
      problems,
      lastError: error,
      lastErrorAt: new Date().toISOString(),
      rejections: this.state.rejections + 1,
    });
    this.logger.error('knowledge reload rejected; still serving the previous version', {
      dir: this.dir,
      problems: problems.map(formatProblem),
      error,
    });
    const event: RejectedEvent = { problems, error, ms };
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
      this.state.lastError = `watching ${this.dir} stopped: ${message} (restart the server to pick up changes)`;
      this.state.lastErrorAt = new Date().toISOString();
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
  }
}
