/**
 * Several Switchboard instances on one PostgreSQL database, each started with the README's own
 * `npm start` in its own process group (so SIGKILL reaches the server itself, not only npm), each with
 * its own empty DATA_DIR: nothing but the database is shared, as behind a load balancer.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Activity } from 'botbuilder';
import { Database } from '../../src/storage/postgres/database.js';
import { PgTranscriptStore } from '../../src/storage/postgres/transcript-store.js';
import { PgConversationStore } from '../../src/storage/postgres/webchat-store.js';
import { KNOWLEDGE_DIR, M_SECRET, PHONE_NUMBER_ID, W_SECRET, metaEnv, type Msg } from '../faults/helpers.js';

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
  /** The processes of its group (npm, the server), while it runs: a lease's owner names the server's pid. */
  pids(): number[];
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
    pids: () =>
      execFileSync('ps', ['-e', '-o', 'pid=,pgid='], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.trim().split(/\s+/).map(Number))
        .filter(([, pgid]) => pgid === proc.pid)
        .map(([pid]) => pid!),
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

// ---------------------------------------------------------------- fault tests across instances

/** The Direct Line secret the instance fault tests share (every instance signs and verifies with it). */
export const INSTANCE_DL_SECRET = 'instances-directline-secret-0123456789-abcdef';

/**
 * The environment of an instance with all three channels on, on `databaseUrl`, sending to Meta
 * through `graphApiUrl` (a `GraphGate` of its own, so one instance's sends can be held apart from the others').
 */
export function channelsEnv(databaseUrl: string, graphApiUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  const { DATA_DIR: _ownPerInstance, ...channels } = metaEnv('', graphApiUrl); // each instance gets its own DATA_DIR
  return {
    ...channels,
    DATABASE_URL: databaseUrl,
    BUSINESS_HOURS: 'Mon-Sun 00:00-24:00',
    BUSINESS_TIMEZONE: 'UTC',
    DIRECTLINE_SECRET: INSTANCE_DL_SECRET,
    DIRECTLINE_POSTS_PER_MINUTE: '0', // robot customers resend as fast as the instances answer
    ...extra,
  };
}

/**
 * A load balancer's round robin: each request goes to the next instance still in the rotation.
 * `remove` takes a dead instance out, as a health-checking balancer eventually does.
 */
export class RoundRobin {
  private n = 0;
  private readonly alive: Instance[];
  constructor(instances: Instance[]) {
    this.alive = [...instances];
  }
  next(): Instance {
    return this.alive[this.n++ % this.alive.length]!;
  }
  remove(instance: Instance): void {
    const i = this.alive.indexOf(instance);
    if (i >= 0) this.alive.splice(i, 1);
  }
}

/** An HTTP answer as the fault tests count it: status 0 when the connection failed or timed out. */
export interface Answer {
  status: number;
  body: any;
}

async function answer(url: string, init: RequestInit, timeoutMs: number): Promise<Answer> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* EVENT_RECEIVED and other text */
    }
    return { status: res.status, body };
  } catch {
    return { status: 0, body: undefined };
  }
}

/** Posts a signed Meta webhook (`message()` of tests/faults/helpers.ts) to `base`. */
export function postWebhook(base: string, m: Msg, timeoutMs = 20_000): Promise<Answer> {
  return answer(`${base}/webhooks/${m.channel}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': m.signature }, body: m.raw }, timeoutMs);
}

/** A web chat conversation as its page holds it (the token works on every instance). */
export interface WebChatCustomer {
  conversationId: string;
  token: string;
}

/** Starts a Direct Line conversation with the shared secret on `base`, as a site's backend would. */
export async function startConversation(base: string): Promise<WebChatCustomer> {
  const r = await answer(`${base}/v3/directline/conversations`, { method: 'POST', headers: { authorization: `Bearer ${INSTANCE_DL_SECRET}` } }, 20_000);
  if (r.status !== 201) throw new Error(`POST ${base}/v3/directline/conversations answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body as WebChatCustomer;
}

/** Posts one web chat message with its clientActivityID, as Web Chat does (and does again on a retry). */
export function postWebChatMessage(base: string, c: WebChatCustomer, text: string, clientActivityID: string, timeoutMs = 20_000): Promise<Answer> {
  return answer(
    `${base}/v3/directline/conversations/${c.conversationId}/activities`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'message', text, from: { id: 'customer' }, channelData: { clientActivityID } }),
    },
    timeoutMs,
  );
}

/** What the database holds of the three channels, read as the agent console and the customer would. */
export interface StoredConversations {
  /** Meta: inbound message id → how often it is in the transcript. */
  metaInbound: Map<string, number>;
  /** Meta: bot replies by the message id they answer. */
  metaReplies: Map<string, Partial<Activity>[]>;
  /** Meta: bot activity id (the Graph message id) → how often it is in the transcript. */
  metaBotIds: Map<string, number>;
  /** Web chat: inbound activity id → how often it is in the transcript. */
  webInbound: Map<string, number>;
  /** Web chat: each conversation's Direct Line log (what the customer's client reads), by conversation id. */
  webLogs: Map<string, Partial<Activity>[]>;
}

/** Reads the transcripts (`PgTranscriptStore`) and the web chat logs (`PgConversationStore`) of `databaseUrl`. */
export async function readStored(databaseUrl: string, webChatConversationIds: string[]): Promise<StoredConversations> {
  const db = await Database.open(databaseUrl, { migrate: false, max: 2 });
  try {
    const store = new PgTranscriptStore(db);
    const out: StoredConversations = { metaInbound: new Map(), metaReplies: new Map(), metaBotIds: new Map(), webInbound: new Map(), webLogs: new Map() };
    const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    for (const channel of ['whatsapp', 'messenger', 'webchat']) {
      for (const info of await store.allTranscripts(channel)) {
        for (const a of await store.readTranscript(channel, info.id)) {
          if (a.type !== 'message') continue;
          if (channel === 'webchat') {
            if (a.from?.role === 'user') bump(out.webInbound, a.id!);
            continue;
          }
          if (a.from?.role === 'user') bump(out.metaInbound, a.id!);
          else {
            bump(out.metaBotIds, a.id!);
            out.metaReplies.set(a.replyToId ?? '', [...(out.metaReplies.get(a.replyToId ?? '') ?? []), a]);
          }
        }
      }
    }
    const logs = new PgConversationStore(db);
    for (const id of webChatConversationIds) {
      const log: Partial<Activity>[] = [];
      for (let watermark = 0; ; ) {
        const page = await logs.read(id, watermark, 500);
        if (page.activities.length === 0) break;
        log.push(...page.activities);
        watermark = page.watermark;
      }
      out.webLogs.set(id, log);
    }
    return out;
  } finally {
    await db.close();
  }
}

/** Inbox items of every channel not yet done (the instances still have turns to run). */
export async function pendingInboxItems(db: Database): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM inbox_items WHERE done_at IS NULL');
  return Number(rows[0]!.n);
}

/** Unexpired conversation leases held by a server whose pid is one of `pids` (instance ids are `host:pid:random`). */
export async function liveLeasesOf(db: Database, pids: number[]): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM inbox_leases WHERE split_part(owner, ':', 2) = ANY($1::text[]) AND expires_at > floor(extract(epoch FROM clock_timestamp()) * 1000)`,
    [pids.map(String)],
  );
  return Number(rows[0]!.n);
}

/** The ids of the bot's replies in the transcripts, by the id of the message they answer (for polling). */
export async function answeredIds(db: Database): Promise<Set<string>> {
  const { rows } = await db.query<{ r: string }>(`SELECT DISTINCT activity->>'replyToId' AS r FROM transcript_activities WHERE activity_type = 'message' AND activity->>'replyToId' IS NOT NULL AND coalesce(activity->'from'->>'role', '') <> 'user'`);
  return new Set(rows.map((x) => x.r));
}

/**
 * Every Meta message id the turn engines know they sent: the send records of turns still running
 * (deleted once the item is done) and the replies in the transcripts (written before it is done).
 */
export async function recordedSendIds(db: Database): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT unnest(ids) AS id FROM inbox_turn_sends
     UNION SELECT activity_id FROM transcript_activities WHERE channel_id IN ('whatsapp', 'messenger') AND activity_id IS NOT NULL`,
  );
  return new Set(rows.map((x) => x.id));
}

/**
 * What a web chat log says of one acknowledged message: its echoes (every POST of the clientActivityID
 * that reached the log), the echoes the bot answered, and the replies to the acknowledged id.
 */
export function webChatOutcome(log: Partial<Activity>[], clientActivityID: string, ackedId: string) {
  const repliesTo = (id: string) => log.filter((a) => a.replyToId === id && a.from?.role !== 'user' && a.type === 'message');
  const echoes = log.filter((a) => a.from?.role === 'user' && a.channelData?.clientActivityID === clientActivityID);
  const answeredEchoes = echoes.filter((e) => repliesTo(e.id!).length > 0);
  const replies = repliesTo(ackedId);
  return { echoes, answeredEchoes, replies, repeated: answeredEchoes.length > 1 || new Set(replies.map((a) => a.text)).size !== replies.length };
}

// ---------------------------------------------------------------- a private PostgreSQL server

/** Why a private PostgreSQL server cannot be started here, or undefined when it can (root and Debian's binaries). */
export function privatePostgresUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root (initdb and pg_ctl must run as the postgres user, through runuser)';
  if (!postgresBinDir()) return 'no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)';
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    return 'no postgres user';
  }
  return undefined;
}

/** The newest `/usr/lib/postgresql/<version>/bin` that has pg_ctl. */
function postgresBinDir(): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync('/usr/lib/postgresql');
  } catch {
    return undefined;
  }
  const dirs = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(a) - Number(b))
    .map((v) => path.join('/usr/lib/postgresql', v, 'bin'))
    .filter((d) => existsSync(path.join(d, 'pg_ctl')) && existsSync(path.join(d, 'initdb')));
  return dirs.at(-1);
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * A PostgreSQL server of one test's own (initdb in a temp folder owned by the postgres user, a free
 * port on 127.0.0.1, its socket in the same folder), so a test may stop and start it without touching
 * the shared test server. Needs root (`privatePostgresUnavailable` says why not).
 */
export class PrivatePostgres {
  readonly url: string;
  private constructor(
    private readonly dir: string,
    private readonly bin: string,
    readonly port: number,
  ) {
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  static async create(): Promise<PrivatePostgres> {
    const why = privatePostgresUnavailable();
    if (why) throw new Error(`PrivatePostgres: ${why}`);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-private-pg-'));
    execFileSync('chown', ['postgres:postgres', dir]);
    const pg = new PrivatePostgres(dir, postgresBinDir()!, await freePort());
    pg.run('initdb', ['-D', pg.dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    await pg.start();
    return pg;
  }

  private get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  private run(tool: string, args: string[]): string {
    try {
      return execFileSync('runuser', ['-u', 'postgres', '--', path.join(this.bin, tool), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`PrivatePostgres: ${tool} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }

  /** Like `run`, without blocking the event loop (traffic goes on while the server starts or stops). */
  private runAsync(tool: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('runuser', ['-u', 'postgres', '--', path.join(this.bin, tool), ...args], { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`PrivatePostgres: ${tool} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`)) : resolve(stdout),
      );
    });
  }

  /** Starts the server and waits until it accepts connections. */
  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
    await this.runAsync('pg_ctl', ['-D', this.dataDir, '-l', path.join(this.dir, 'server.log'), '-o', options, '-w', '-t', '120', 'start']);
  }

  /** Stops the server as an operator's restart does (`-m fast`: sessions are ended, then a clean shutdown). */
  async stop(): Promise<void> {
    await this.runAsync('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', '-t', '120', 'stop']);
  }

  /** Stops the server (if running) and removes its folder. */
  async destroy(): Promise<void> {
    try {
      this.run('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
    } catch {
      /* not running */
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
