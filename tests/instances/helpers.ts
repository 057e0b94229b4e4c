/**
 * Several Switchboard instances on one PostgreSQL database, each started with the README's own
 * `npm start` in its own process group (so SIGKILL reaches the server itself, not only npm), each with
 * its own empty DATA_DIR: nothing but the database is shared, as behind a load balancer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One running `npm start`. */
export interface Instance {
  name: string;
  url: string;
  proc: ChildProcess;
  dataDir: string;
  /** What it logged (JSON lines on stderr). */
  stderr: string[];
  /** SIGKILL to the whole process group: no cleanup of any kind runs. */
  kill(): Promise<void>;
  /** SIGTERM: finishes accepted turns, then exits. */
  stop(): Promise<void>;
}

/** Starts `npm start` with `env` (plus PORT=0, HOST=127.0.0.1 and a fresh DATA_DIR); resolves once it listens. */
export async function startInstance(name: string, env: Record<string, string>, timeoutMs = 60_000): Promise<Instance> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `sb-${name}-`));
  const proc = spawn('npm', ['start', '--silent'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
  });
  const stderr: string[] = [];
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const signal = async (sig: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) {
      try {
        process.kill(-proc.pid!, sig);
      } catch {
        /* already gone */
      }
    }
    await exited;
  };
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name}: npm start did not listen within ${timeoutMs} ms:\n${stderr.join('')}`)), timeoutMs);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /Web chat demo:\s+(\S+?)\/?\s/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${name}: npm start exited (${code ?? sig}) before listening:\n${stderr.join('')}`));
    });
  });
  return {
    name,
    url,
    proc,
    dataDir,
    stderr,
    kill: () => signal('SIGKILL'),
    stop: async () => {
      await signal('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs `npm run agents -- ...args` with `env`; resolves with its output, rejects on a non-zero exit. */
export function agentsCli(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn('npm', ['run', '--silent', 'agents', '--', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
    let out = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`npm run agents -- ${args.join(' ')} exited ${code}: ${out}`))));
  });
}

/** Polls `fn` until it is true, failing with `what` after `timeoutMs`. */
export async function eventually(fn: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
