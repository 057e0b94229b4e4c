/**
 * The handoff summary off the main thread. Bounding its input is not enough: recognizers-text's
 * date-time and number models took 2–8 s (on a loaded 2-core machine) for the summary's own bound
 * of 2,000 characters when every few words are a date or an amount ("12 March 2025 at 3pm, 45 …"),
 * and shorter bounds would leave the agent without the details. So one worker thread holds the
 * models and summarises the handoffs one after another; the event loop only waits for its answer.
 *
 * One thread is enough: a summary is background work after the customer has been told they are
 * queued, a few milliseconds for ordinary messages, and it keeps the models built once.
 * A dependency-free `worker_threads` worker rather than a pool library, for a pool of one.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HandoffSummary } from './queue-store.js';
import type { SummaryMessage, SummaryOptions } from './summary.js';

/** A summary not made within this (a wedged worker) fails, and the worker is replaced for the next one. */
export const SUMMARY_WORKER_TIMEOUT_MS = 30_000;

/** What the main thread sends the worker. */
export interface SummaryRequest {
  id: number;
  messages: ReadonlyArray<string | SummaryMessage>;
  culture?: string;
  refDate?: Date;
  options?: SummaryOptions;
}
/** What the worker answers. */
export type SummaryResponse = { id: number; summary: HandoffSummary; error?: undefined } | { id: number; error: string; summary?: undefined };

interface Waiting {
  resolve: (s: HandoffSummary) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** The worker file next to this one, in the form this module runs as (.ts under tsx, .js when compiled). */
const workerFile = path.join(path.dirname(fileURLToPath(import.meta.url)), `summary-worker${path.extname(fileURLToPath(import.meta.url))}`);

/**
 * A new worker thread running `workerFile`. A TypeScript worker registers tsx itself: a worker
 * inherits `node --import tsx` but not the loader the `tsx` command line installs.
 */
function spawnWorker(): Worker {
  if (!workerFile.endsWith('.ts')) return new Worker(workerFile);
  // tsx's ESM `register()` (the `tsx/esm/api` export's import form, which this module may not resolve when it runs as CommonJS).
  const tsxDir = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsx = pathToFileURL(path.join(tsxDir, 'dist', 'esm', 'api', 'index.mjs')).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(pathToFileURL(workerFile).href)}); });`;
  return new Worker(bootstrap, { eval: true });
}

/** One summary worker thread, started on first use and again after it failed. */
export class SummaryWorker {
  private worker?: Worker;
  private seq = 0;
  private readonly waiting = new Map<number, Waiting>();

  /** `summarize(messages, culture, refDate, options)`, computed in the worker. */
  summarize(messages: ReadonlyArray<string | SummaryMessage>, culture?: string, refDate?: Date, options?: SummaryOptions): Promise<HandoffSummary> {
    const worker = this.start();
    const id = ++this.seq;
    return new Promise<HandoffSummary>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new Error(`handoff summary: no answer from the summary worker within ${SUMMARY_WORKER_TIMEOUT_MS} ms`));
      }, SUMMARY_WORKER_TIMEOUT_MS);
      timer.unref();
      this.waiting.set(id, { resolve, reject, timer });
      worker.postMessage({ id, messages, culture, refDate, options } satisfies SummaryRequest);
    });
  }

  /** Starts the worker now, so its models are built before the first handoff. */
  warmUp(): void {
    this.start();
  }

  /** Stops the worker; summaries still waiting fail. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.fail(new Error('handoff summary: the summary worker was closed'));
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = spawnWorker();
    worker.unref(); // an idle summary worker never keeps the server process alive
    worker.on('message', (r: SummaryResponse) => {
      const w = this.waiting.get(r.id);
      if (!w) return;
      this.waiting.delete(r.id);
      clearTimeout(w.timer);
      if (r.error !== undefined) w.reject(new Error(`handoff summary failed: ${r.error}`));
      else w.resolve(r.summary);
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.fail(new Error(`handoff summary: the summary worker exited (${code})`));
    });
    this.worker = worker;
    return worker;
  }

  /** Fails every waiting summary and drops the worker; the next summary starts a new one. */
  private fail(err: Error): void {
    const worker = this.worker;
    this.worker = undefined;
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiting.clear();
    void worker?.terminate();
  }
}

let shared: SummaryWorker | undefined;

/** The process's summary worker (one thread for every hub of the process). */
export function summaryWorker(): SummaryWorker {
  return (shared ??= new SummaryWorker());
}

/** `summarize`, off the main thread, in the process's summary worker. */
export function summarizeOffThread(messages: ReadonlyArray<string | SummaryMessage>, culture?: string, refDate?: Date, options?: SummaryOptions): Promise<HandoffSummary> {
  return summaryWorker().summarize(messages, culture, refDate, options);
}
