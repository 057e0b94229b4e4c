/**
 * PostgreSQL for a benchmark: the server the caller names, or a private one started for the run
 * (Debian's binaries, `initdb` in a temporary folder as the `postgres` user, a free loopback port,
 * its socket in that folder; stopped and removed by `stop()`), so a benchmark never loads a server
 * others are testing against unless told to. Also a fresh database per measured configuration, the
 * server's version and durability settings for the report, and the CPU time its processes used.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { createTestDatabase } from '../../tests/helpers/postgres.js';

const run = promisify(execFile);

/** A server the benchmark may create databases on. */
export interface BenchPostgres {
  /** Connection string of the server's `postgres` database (create others from it). */
  url: string;
  /** Started by this run (true) or named by the caller. */
  private: boolean;
  /** e.g. `15.14`. */
  version: string;
  /** `SHOW` of the settings that decide what a commit costs. */
  settings: { fsync: string; synchronous_commit: string; wal_sync_method: string; shared_buffers: string; max_connections: string };
  /** CPU seconds (user + system) all the server's processes have used so far; undefined for a server not started here. */
  cpuSeconds(): number | undefined;
  /** Stops and removes a private server; does nothing to a named one. */
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin folder (`/usr/lib/postgresql/<n>/bin`). */
function binaries(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(path.join(base, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(a) - Number(b));
  const newest = versions.at(-1);
  if (!newest) throw new Error(`bench/postgres: no PostgreSQL binaries under ${base}; install Debian's postgresql package or set BENCH_DATABASE_URL`);
  return path.join(base, newest, 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** [ppid, own user + system ticks, waited-for children's ticks] of a process, from /proc. */
function procTimes(pid: number): [number, number, number] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return [Number(f[1]), Number(f[11]) + Number(f[12]), Number(f[13]) + Number(f[14])];
  } catch {
    return undefined; // exited meanwhile
  }
}

/** CPU seconds used so far by `pid` itself (Linux /proc). */
export function processCpuSeconds(pid: number): number {
  const t = procTimes(pid);
  return t ? t[1] / TICKS : 0;
}

/** The postmaster, its live children, and (through its cutime) every child that has exited. */
function serverCpuSeconds(postmaster: number): number {
  const own = procTimes(postmaster);
  if (!own) return 0;
  let ticks = own[1] + own[2];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const t = procTimes(Number(entry));
    if (t && t[0] === postmaster) ticks += t[1] + t[2];
  }
  return ticks / TICKS;
}

async function describe(url: string): Promise<Pick<BenchPostgres, 'version' | 'settings'>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const show = async (name: string) => ((await c.query(`SHOW ${name}`)).rows[0] as Record<string, string>)[name]!;
    return {
      version: await show('server_version'),
      settings: {
        fsync: await show('fsync'),
        synchronous_commit: await show('synchronous_commit'),
        wal_sync_method: await show('wal_sync_method'),
        shared_buffers: await show('shared_buffers'),
        max_connections: await show('max_connections'),
      },
    };
  } finally {
    await c.end();
  }
}

/**
 * `url` when given; otherwise a private server with PostgreSQL's default settings (fsync on), as
 * root run as the `postgres` user.
 */
export async function benchPostgres(url?: string): Promise<BenchPostgres> {
  if (url) return { url, private: false, ...(await describe(url)), cpuSeconds: () => undefined, stop: async () => undefined };

  const bin = binaries();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-bench-pg-'));
  const asRoot = process.getuid?.() === 0;
  const as = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args]) : run(path.join(bin, cmd), args));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = path.join(dir, 'data');
  const stopServer = async () => {
    await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-instructions']);
    const port = await freePort();
    await as('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start']);
    const postmaster = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const serverUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    return { url: serverUrl, private: true, ...(await describe(serverUrl)), cpuSeconds: () => serverCpuSeconds(postmaster), stop: stopServer };
  } catch (err) {
    const log = existsSync(path.join(dir, 'server.log')) ? readFileSync(path.join(dir, 'server.log'), 'utf8').slice(-2000) : '';
    await stopServer();
    throw new Error(`bench/postgres: could not start a private server in ${dir}: ${(err as Error).message}${log ? `\n${log}` : ''}`);
  }
}

/**
 * Transactions committed or rolled back in database `name` so far, and WAL flushes of the whole server
 * (PostgreSQL ≥ 14). A backend reports its counts when it exits, so read them after the clients close.
 */
export async function activity(serverUrl: string, name: string): Promise<{ transactions: number; walSyncs?: number }> {
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    const tx = await c.query<{ n: string }>('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1', [name]);
    const wal = await c.query<{ n: string }>('SELECT wal_sync AS n FROM pg_stat_wal').catch(() => undefined);
    return { transactions: Number(tx.rows[0]?.n ?? 0), walSyncs: wal ? Number(wal.rows[0]?.n) : undefined };
  } finally {
    await c.end();
  }
}

/** A new empty database on `serverUrl`; returns its URL and a function that drops it (the tests' helper). */
export const freshDatabase = createTestDatabase;
