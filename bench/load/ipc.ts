/**
 * The IPC channel between bench/load.ts and the servers it starts in child processes: the child says
 * when it listens, reports its memory on request (so the figure is the server's own, not the load
 * generator's, and no public route is needed for it), and stops on request.
 */
import { fork, type ChildProcess } from 'node:child_process';

/** Parent → child. */
type Request = { type: 'memory'; id: number; gc?: boolean } | { type: 'stop' };
/** Child → parent. */
type Reply = { type: 'ready'; url: string } | { type: 'memory'; id: number; usage: NodeJS.MemoryUsage; gcRan: boolean } | { type: 'other'; [k: string]: unknown };

/** Child side: answers memory requests; `stop` runs `close` and exits. */
export function serveMemoryRequests(close: () => Promise<void>): void {
  process.on('message', (m: Request) => {
    if (m.type === 'memory') {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (m.gc && gc) gc();
      const reply: Reply = { type: 'memory', id: m.id, usage: process.memoryUsage(), gcRan: !!(m.gc && gc) };
      process.send!(reply);
    } else if (m.type === 'stop') {
      const force = setTimeout(() => process.exit(0), 5000);
      force.unref();
      void close().finally(() => process.exit(0));
    }
  });
  // The parent died: do not linger.
  process.on('disconnect', () => process.exit(0));
}

/** A server running in a child process. */
export interface ServerChild {
  url: string;
  pid: number;
  /** The child's process.memoryUsage(); with `gc`, after a full collection (the child runs with --expose-gc). */
  memory(gc?: boolean): Promise<NodeJS.MemoryUsage>;
  /** Asks the child to close and waits for it to exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** What the child wrote to stderr (its logs at LOG_LEVEL=error). */
  stderr: string[];
}

/** Forks `script` (TypeScript, via tsx) with `arg` and waits for its `ready` message; other messages go to `onMessage`. */
export function startServerChild(script: string, arg: unknown, onMessage?: (m: any) => void, timeoutMs = 60_000): Promise<ServerChild> {
  const proc: ChildProcess = fork(script, [JSON.stringify(arg)], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const stderr: string[] = [];
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr.push(d);
    if (stderr.length > 200) stderr.shift();
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let nextId = 0;
  const pending = new Map<number, (u: NodeJS.MemoryUsage) => void>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`bench/load: ${script} did not start in ${timeoutMs / 1000} s: ${stderr.join('')}`));
    }, timeoutMs);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`bench/load: ${script} exited (${code ?? signal}) before listening: ${stderr.join('')}`));
    });
    proc.on('message', (m: Reply) => {
      if (m.type !== 'memory' && m.type !== 'ready') onMessage?.(m);
      else if (m.type === 'memory') {
        pending.get(m.id)?.(m.usage);
        pending.delete(m.id);
      } else if (m.type === 'ready') {
        clearTimeout(timer);
        resolve({
          url: m.url,
          pid: proc.pid!,
          stderr,
          memory: (gc = false) =>
            new Promise((res, rej) => {
              const id = ++nextId;
              const t = setTimeout(() => (pending.delete(id), rej(new Error('bench/load: the server child did not report its memory in 10 s'))), 10_000);
              pending.set(id, (u) => (clearTimeout(t), res(u)));
              proc.send({ type: 'memory', id, gc } satisfies Request);
            }),
          stop: async () => {
            if (proc.exitCode === null && proc.signalCode === null) {
              proc.send({ type: 'stop' } satisfies Request);
              const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
              await exited;
              clearTimeout(kill);
            }
          },
        });
      }
    });
  });
}
