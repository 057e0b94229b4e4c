/**
 * The IPC channel between bench/load.ts and the servers it starts in child processes: the child says
 * when it listens, reports its memory on request (so the figure is the server's own, not the load
 * generator's, and no public route is needed for it), records a CPU profile of a chosen window (Node's
 * inspector, so start-up and transpiling stay out of it), and stops on request.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

/** Parent → child. */
type Request = { type: 'memory'; id: number; gc?: boolean } | { type: 'profile'; id: number; action: 'start' } | { type: 'profile'; id: number; action: 'stop'; file: string } | { type: 'stop' };
/** A numbered request before it gets its number. */
type Unnumbered = Extract<Request, { id: number }> extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;
/** Child → parent. */
type Reply =
  | { type: 'ready'; url: string }
  | { type: 'memory'; id: number; usage: NodeJS.MemoryUsage; gcRan: boolean }
  | { type: 'profile'; id: number; error?: string }
  | { type: 'other'; [k: string]: unknown };

/** Child side: answers memory and profile requests; `stop` runs `close` and exits. */
export function serveMemoryRequests(close: () => Promise<void>): void {
  let session: Session | undefined;
  const profile = async (m: Extract<Request, { type: 'profile' }>) => {
    if (m.action === 'start') {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 500 });
      await session.post('Profiler.start');
      return;
    }
    if (!session) throw new Error('no profile was started');
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    session = undefined;
    await writeFile(m.file, JSON.stringify(profile));
  };
  process.on('message', (m: Request) => {
    if (m.type === 'profile') {
      void profile(m).then(
        () => process.send!({ type: 'profile', id: m.id } satisfies Reply),
        (err: Error) => process.send!({ type: 'profile', id: m.id, error: err.message } satisfies Reply),
      );
    } else if (m.type === 'memory') {
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
  /** Starts a CPU profile in the child (sampled every 0.5 ms). */
  startProfile(): Promise<void>;
  /** Stops it and has the child write it to `file` (a `.cpuprofile`, as Chrome DevTools reads). */
  stopProfile(file: string): Promise<void>;
  /** Asks the child to close and waits for it to exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** What the child wrote to stderr (its logs at LOG_LEVEL=error). */
  stderr: string[];
}

/**
 * Forks `script` (TypeScript, via tsx) with `arg` and waits for its `ready` message; other messages go
 * to `onMessage`. `execArgv` adds Node flags (e.g. `--max-old-space-size=…`).
 */
export function startServerChild(script: string, arg: unknown, onMessage?: (m: any) => void, timeoutMs = 60_000, execArgv: string[] = []): Promise<ServerChild> {
  const proc: ChildProcess = fork(script, [JSON.stringify(arg)], {
    execArgv: ['--expose-gc', '--import', 'tsx', ...execArgv],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const stderr: string[] = [];
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr.push(d);
    if (stderr.length > 200) stderr.shift();
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let nextId = 0;
  const pending = new Map<number, (m: Reply) => void>();
  /** Sends `request` (numbered) and resolves with the child's answer to it. */
  const ask = (request: Unnumbered, what: string, timeoutMs = 10_000) =>
    new Promise<Reply>((res, rej) => {
      const id = ++nextId;
      const t = setTimeout(() => (pending.delete(id), rej(new Error(`bench/load: the server child did not answer ${what} in ${timeoutMs / 1000} s`))), timeoutMs);
      pending.set(id, (m) => (clearTimeout(t), res(m)));
      proc.send({ ...request, id } as Request);
    });
  const profileDone = (m: Reply) => {
    if (m.type === 'profile' && m.error) throw new Error(`bench/load: ${script} profile: ${m.error}`);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`bench/load: ${script} did not start in ${timeoutMs / 1000} s: ${stderr.join('')}`));
    }, timeoutMs);
    proc.once('close', (code, signal) => {
      // 'close' (not 'exit'): stderr has been read to its end, so the reason is in the message.
      clearTimeout(timer);
      reject(new Error(`bench/load: ${script} exited (${code ?? signal}) before listening: ${stderr.join('')}`));
    });
    proc.on('message', (m: Reply) => {
      if (m.type === 'memory' || m.type === 'profile') {
        pending.get(m.id)?.(m);
        pending.delete(m.id);
      } else if (m.type !== 'ready') onMessage?.(m);
      else {
        clearTimeout(timer);
        resolve({
          url: m.url,
          pid: proc.pid!,
          stderr,
          memory: async (gc = false) => {
            const m = await ask({ type: 'memory', gc }, 'a memory request');
            return (m as Extract<Reply, { type: 'memory' }>).usage;
          },
          startProfile: async () => profileDone(await ask({ type: 'profile', action: 'start' }, 'a profile start')),
          stopProfile: async (file) => profileDone(await ask({ type: 'profile', action: 'stop', file }, 'a profile stop', 60_000)),
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
