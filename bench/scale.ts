/**
 * Scale: the same closed-loop load as bench/load.ts (customers on all three channels, 20 agents on the
 * console's event stream, the fake Graph API in its own process) against 1 instance on files, 1 on
 * PostgreSQL, and 2 and 3 on one PostgreSQL database, each customer's requests spread round-robin
 * over the instances as a load balancer without affinity would; then PostgreSQL's write cost with
 * 100 vs 100,000 stored conversations (bench/pg-write-cost.ts and bench/pg-inbox-cost.ts).
 *
 *   npm run bench -- scale [--conversations=20] [--seconds=15]
 *   (SCALE_CONVERSATIONS / SCALE_SECONDS in the environment work too; BENCH_DATABASE_URL or
 *   TEST_DATABASE_URL names a server to use, else a private one is started for the run)
 *
 * Every configuration gets a fresh database (and fresh DATA_DIRs), so none inherits another's rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { testSettings } from '../src/config.js';
import { Agents, CHANNELS, closeHttp, resent } from './load/customers.js';
import { startServerChild, type ServerChild } from './load/ipc.js';
import { activity, benchPostgres, freshDatabase, processCpuSeconds, type BenchPostgres } from './load/postgres.js';
import { AGENT_PASSWORD, AGENTS, appEnv, appFinals, lostKinds, measureLevel, merged, ms, Router, serverErrors, summary, TURN_TIMEOUT_MS, warmUp, type LevelFigures } from './load/rig.js';
import { run as inboxCost } from './pg-inbox-cost.js';
import { run as writeCost } from './pg-write-cost.js';
import type { BenchSection } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Settings; flags win over the environment, the environment over the defaults. */
export interface ScaleOptions {
  /** Conversations per channel at once (3 × this in all). */
  conversations: number;
  /** Measured seconds per configuration (after a 3 s warm-up). */
  seconds: number;
  /** A server to create the benchmark's databases on; undefined: a private one for the run. */
  serverUrl?: string;
}

export function options(argv = process.argv.slice(2), env: Record<string, string | undefined> = process.env): ScaleOptions {
  const { values } = parseArgs({ args: argv, strict: false, options: { conversations: { type: 'string' }, seconds: { type: 'string' } } });
  const num = (flag: unknown, envValue: string | undefined, fallback: number, what: string) => {
    const v = Number(typeof flag === 'string' ? flag : (envValue ?? fallback));
    if (!Number.isFinite(v) || v <= 0) throw new Error(`bench/scale: ${what} must be a positive number (got ${String(flag ?? envValue)})`);
    return v;
  };
  return {
    conversations: Math.round(num(values.conversations, env.SCALE_CONVERSATIONS, 20, '--conversations / SCALE_CONVERSATIONS')),
    seconds: num(values.seconds, env.SCALE_SECONDS, 15, '--seconds / SCALE_SECONDS'),
    serverUrl: env.BENCH_DATABASE_URL || testSettings(env).testDatabaseUrl,
  };
}

/** One measured configuration. */
export interface Configuration {
  label: string;
  backend: 'files' | 'postgresql';
  instances: number;
}
export const CONFIGURATIONS: Configuration[] = [
  { label: '1 instance, files', backend: 'files', instances: 1 },
  { label: '1 instance, PostgreSQL', backend: 'postgresql', instances: 1 },
  { label: '2 instances, PostgreSQL', backend: 'postgresql', instances: 2 },
  { label: '3 instances, PostgreSQL', backend: 'postgresql', instances: 3 },
];

/** The fake Graph API and the router shared by every configuration. */
export interface Rig {
  graph: ServerChild;
  router: Router;
  pg?: BenchPostgres;
}

/** A configuration's instances, running, with the agents signed in across them. */
export interface Running {
  /** In the order of `urls`. */
  apps: ServerChild[];
  urls: string[];
  agents: Agents;
  /** The configuration's database on PostgreSQL. */
  database?: string;
  /** Stops the servers; `beforeDrop` runs once they have closed their connections, before the database is dropped. */
  stop(beforeDrop?: () => Promise<void>): Promise<void>;
}

/**
 * Starts `c.instances` servers (each its own DATA_DIR; on PostgreSQL one fresh database for all of
 * them), the agent accounts made once through the first, then signs in the agents across them.
 */
export async function startConfiguration(c: Configuration, rig: Rig, execArgv: string[] = []): Promise<Running> {
  if (c.backend === 'postgresql' && !rig.pg) throw new Error('bench/scale: a PostgreSQL configuration needs the server');
  const db = c.backend === 'postgresql' ? await freshDatabase(rig.pg!.url, `sb_scale_${c.instances}`) : undefined;
  const dirs: string[] = [];
  const apps: ServerChild[] = [];
  const agents = new Agents();
  const stop = async (beforeDrop?: () => Promise<void>) => {
    agents.close();
    for (const a of apps) await a.stop();
    await beforeDrop?.();
    await db?.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true, maxRetries: 5 });
  };
  try {
    const start = async (first: boolean) => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-bench-scale-'));
      dirs.push(dataDir);
      const env = appEnv(dataDir, rig.graph.url, db ? { DATABASE_URL: db.url } : {});
      const app = await startServerChild(path.join(here, 'load', 'app-child.ts'), { env, agents: first ? AGENTS : 0, agentPassword: AGENT_PASSWORD }, undefined, 90_000, execArgv);
      apps.push(app);
      return app;
    };
    // The first migrates the database and makes the agent accounts; the others then start together.
    const first = await start(true);
    const settled = await Promise.allSettled(Array.from({ length: c.instances - 1 }, () => start(false)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason; // after all have settled, so stop() finds every child that did start
    const others = settled.map((r) => (r as PromiseFulfilledResult<ServerChild>).value);
    const urls = [first, ...others].map((a) => a.url);
    await agents.connect(urls, AGENTS, AGENT_PASSWORD);
    return { apps: [first, ...others], urls, agents, database: db?.name, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** CPU seconds used so far by each party of the run. */
function cpuNow(rig: Rig, apps: ServerChild[]) {
  const self = process.cpuUsage();
  return {
    instances: apps.reduce((sum, a) => sum + processCpuSeconds(a.pid), 0),
    postgres: rig.pg?.cpuSeconds(),
    graph: processCpuSeconds(rig.graph.pid),
    customers: (self.user + self.system) / 1e6,
  };
}
type Cpu = ReturnType<typeof cpuNow>;

interface Measured {
  c: Configuration;
  level: LevelFigures;
  cpu: Cpu;
  errors: string[];
  agentsConnected: number;
  agentEvents: Record<string, number>;
  /** Over the configuration's whole life (start-up, warm-up, the measured window): PostgreSQL transactions and WAL flushes, and the messages answered. */
  database?: { transactions: number; walSyncs?: number; messages: number };
}

async function measure(c: Configuration, rig: Rig, o: ScaleOptions): Promise<Measured> {
  const walBefore = c.backend === 'postgresql' && rig.pg?.private ? (await activity(rig.pg.url, 'postgres')).walSyncs : undefined;
  const running = await startConfiguration(c, rig);
  let result: Measured | undefined;
  let warmMessages = 0;
  try {
    warmMessages = merged(await warmUp(running.urls, rig.router, true, appFinals)).n;
    let before: Cpu | undefined;
    let after: Cpu | undefined;
    const level = await measureLevel(running.urls, rig.router, true, appFinals, o.conversations, o.seconds, {
      before: () => (before = cpuNow(rig, running.apps)),
      after: () => (after = cpuNow(rig, running.apps)),
    });
    const cpu = {
      instances: after!.instances - before!.instances,
      postgres: after!.postgres !== undefined && before!.postgres !== undefined ? after!.postgres - before!.postgres : undefined,
      graph: after!.graph - before!.graph,
      customers: after!.customers - before!.customers,
    };
    const m = merged(level);
    console.error(`bench/scale: ${c.label}: ${m.n} messages in ${level.seconds.toFixed(1)} s (${m.perSecond.toFixed(0)}/s), p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms, lost ${m.failed}`);
    result = { c, level, cpu, errors: running.apps.flatMap((a) => serverErrors(a.stderr)), agentsConnected: running.agents.connected, agentEvents: { ...running.agents.events } };
    return result;
  } finally {
    await running.stop(async () => {
      if (!result || !running.database || !rig.pg) return;
      await new Promise((r) => setTimeout(r, 500)); // the servers' backends report their counts as they exit
      const after = await activity(rig.pg.url, running.database);
      result.database = { transactions: after.transactions, walSyncs: walBefore !== undefined && after.walSyncs !== undefined ? after.walSyncs - walBefore : undefined, messages: merged(result.level).n + warmMessages };
    });
  }
}

/** Runs every configuration, then the write-cost measurements, and returns the section. */
export async function run(o: ScaleOptions = options()): Promise<BenchSection> {
  const started = Date.now();
  const pg = await benchPostgres(o.serverUrl);
  console.error(`bench/scale: PostgreSQL ${pg.version} (${pg.private ? 'private server for this run' : 'the server named'}), fsync ${pg.settings.fsync}, synchronous_commit ${pg.settings.synchronous_commit}`);
  const router = new Router();
  let graph: ServerChild | undefined;
  try {
    graph = await startServerChild(path.join(here, 'load', 'graph-child.ts'), {}, router.onGraph);
    const rig: Rig = { graph, router, pg };
    const results: Measured[] = [];
    for (const c of CONFIGURATIONS) results.push(await measure(c, rig, o));
    console.error('bench/scale: write cost at 100 vs 100,000 stored conversations ...');
    const write = await writeCost(pg.url);
    const inbox = await inboxCost(pg.url);
    return {
      title: 'Scale: files vs PostgreSQL, 1 to 3 instances',
      command: `npm run bench -- scale${o.conversations !== 20 ? ` --conversations=${o.conversations}` : ''}${o.seconds !== 15 ? ` --seconds=${o.seconds}` : ''}`,
      markdown: render(o, pg, results, write, inbox, router, (Date.now() - started) / 1000),
    };
  } finally {
    await graph?.stop();
    closeHttp();
    await pg.stop();
  }
}

// ---------------------------------------------------------------------------------------- report

function render(
  o: ScaleOptions,
  pg: BenchPostgres,
  results: Measured[],
  write: BenchSection & { ratio: number },
  inbox: BenchSection & { ratio: number },
  router: Router,
  totalSeconds: number,
): string {
  const cores = os.cpus().length;
  const perMessage = (s: number | undefined, n: number) => (s === undefined || n === 0 ? '—' : `${((s * 1000) / n).toFixed(1)} ms`);
  const rows = results.map(({ c, level, cpu }) => {
    const m = merged(level);
    const busy = cpu.instances + (cpu.postgres ?? 0) + cpu.graph + cpu.customers;
    return `| ${c.label} | **${m.perSecond.toFixed(0)}** | **${ms(m.p50)}** | **${ms(m.p99)}** | ${ms(m.laterP50)} / ${ms(m.laterP99)} | ${m.n}${m.failed ? ` (${m.failed} lost)` : ''} | ${perMessage(cpu.instances, m.n)} | ${perMessage(cpu.postgres, m.n)} | ${perMessage(cpu.graph + cpu.customers, m.n)} | ${((busy / level.seconds / cores) * 100).toFixed(0)} % |`;
  });
  const channelRows = results.map(({ c, level }) => `| ${c.label} | ${CHANNELS.map((ch) => {
    const s = summary(level.perChannel[ch], level.seconds);
    return `${s.perSecond.toFixed(0)} | ${ms(s.p50)} / ${ms(s.p99)}`;
  }).join(' | ')} |`);
  const files = merged(results[0]!.level);
  const onPg = merged(results[1]!.level);
  const lost = lostKinds(results.map((r) => r.level));
  const errors = results.flatMap((r) => r.errors.map((e) => `${r.c.label}: ${e}`));
  const goal = (ratio: number) => (ratio <= 1.2 ? 'meets the goal' : '**misses the goal**');
  return [
    `**These instances share this machine's ${cores} cores** with each other, with PostgreSQL's own processes (server on the same machine), with the fake Graph API and with the simulated customers and agents. More instances add no CPU here, so the figures show what the database and the coordination between instances cost — not how Switchboard scales on more machines.`,
    '',
    `Load (the same in every configuration, the rig of bench/load.ts): **${o.conversations} conversations per channel at once** (${3 * o.conversations} in all, each a new customer), closed loop for ${o.seconds} s after a 3 s warm-up — each customer sends its next message as soon as the bot has answered the last (a question the sample knowledge answers, "yes" to "Did this help?", the next question, …); ${AGENTS} agents signed in, each holding \`/api/agent/events\` open. Latency = webhook POST or Direct Line \`POST …/activities\` → the first bot message for that customer at the fake Graph API or on its WebSocket. Spread as a load balancer without affinity would: each customer's requests go round-robin over the instances; a web chat customer's WebSocket is held by one instance and its token, conversation and activity POSTs go round-robin to the others, so every web chat reply crosses instances (PostgreSQL \`LISTEN/NOTIFY\`); agent i signs in on instance i and streams events from instance i + 1. Each configuration has fresh DATA_DIRs and, on PostgreSQL, a fresh database.`,
    '',
    `PostgreSQL ${pg.version}${pg.private ? ', a private server started for this run' : ''} with its default durability: fsync **${pg.settings.fsync}**, synchronous_commit **${pg.settings.synchronous_commit}** (every commit waits for its WAL flush, wal_sync_method ${pg.settings.wal_sync_method}), shared_buffers ${pg.settings.shared_buffers}, max_connections ${pg.settings.max_connections}.`,
    '',
    '| configuration | msg/s | p50 | p99 | later p50 / p99 | messages | CPU per message: instances | PostgreSQL | customers + fake Graph | CPU busy |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `"Later" leaves out each customer's first message (welcome, new conversation). CPU per message: user + system time of the processes over the measured window (/proc), divided by the messages answered; "CPU busy" is all of it against ${cores} cores × the window.${pg.private ? '' : ' PostgreSQL\'s CPU is not measured on a server this run did not start.'} On PostgreSQL, 1 instance answers at ${((onPg.perSecond / files.perSecond) * 100).toFixed(0)} % of the file backend's rate (p50 ${ms(onPg.p50)} vs ${ms(files.p50)}).`,
    '',
    `PostgreSQL work per answered message, over each configuration's whole life (start-up and warm-up included; pg_stat_database / pg_stat_wal): ${results
      .filter((r) => r.database)
      .map((r) => `${r.c.label}: ${(r.database!.transactions / Math.max(1, r.database!.messages)).toFixed(1)} transactions${r.database!.walSyncs !== undefined ? `, ${(r.database!.walSyncs / Math.max(1, r.database!.messages)).toFixed(1)} WAL flushes` : ''}`)
      .join('; ') || 'not measured'}. Where an instance's own CPU goes on each backend: \`npx tsx bench/scale-profile.ts\` (a CPU profile of one instance over the same load).`,
    '',
    'Per channel (msg/s | p50 / p99):',
    '',
    `| configuration | ${CHANNELS.map((c) => `${c} msg/s | ${c} p50 / p99`).join(' | ')} |`,
    `| --- | ${CHANNELS.map(() => '---: | ---:').join(' | ')} |`,
    ...channelRows,
    '',
    `Lost messages (no reply in ${TURN_TIMEOUT_MS / 1000} s, or the request failed): ${lost || 'none'}. Requests sent again on a kept-alive socket the server had just closed: ${resent.count}. ${router.rejected ? `The fake Graph API refused ${router.rejected} sends (first: ${router.firstRejection}).` : 'The fake Graph API accepted every send.'} Agents connected: ${results.map((r) => `${r.agentsConnected}/${AGENTS}`).join(', ')}. Server error log lines: ${errors.length}${errors.length ? ` (first: ${errors[0]!.slice(0, 200)})` : ''}.`,
    '',
    '### Write cost at 100 vs 100,000 stored conversations (PostgreSQL)',
    '',
    `Same server, each level in its own fresh database seeded with SQL; goal: ratio ≤ 1.2. Bot state + transcript (bench/pg-write-cost.ts): ratio **${write.ratio.toFixed(2)}**, ${goal(write.ratio)}; inbox accept + done (bench/pg-inbox-cost.ts): ratio **${inbox.ratio.toFixed(2)}**, ${goal(inbox.ratio)}.`,
    '',
    write.markdown,
    '',
    inbox.markdown,
    '',
    `Whole run: ${(totalSeconds / 60).toFixed(1)} min; load average ${os.loadavg()[0]!.toFixed(1)} at the end (other work on the machine weighs on every configuration).`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const section = await run();
    console.log(`## ${section.title}\n\n${section.markdown}\n`);
    process.exit(0);
  } catch (err) {
    console.error(err);
    process.exit(1);
  }
}
