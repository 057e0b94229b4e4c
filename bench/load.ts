/**
 * Load: the running Switchboard server (src/app.ts `buildApp`, in a child process, temp DATA_DIR, the
 * sample knowledge, Messenger + WhatsApp + Web Chat on) driven over loopback by simulated customers on
 * all three channels at once, with agents signed in and connected to the console's event stream.
 * Reports throughput and p50/p99 reply latency at 1, 50 and 500 concurrent conversations per channel,
 * the same against a bare restify server (bench/bare-restify.ts, also a child) answering the same
 * requests with a canned reply, the ratio between the two, and the server's memory over a soak.
 * The fake Graph API (tests/fakes/graph.ts) runs in a third process and reports each send over IPC.
 *
 *   npx tsx bench/load.ts [--soak-seconds 600] [--level-seconds 15] [--levels 1,50,500]
 *   (or: npm run bench -- load; SOAK_SECONDS / LEVEL_SECONDS / LOAD_LEVELS in the environment work too)
 *
 * The customers and agents run in this process; each server and the fake Graph API run in their own.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startServerChild, type ServerChild } from './load/ipc.js';
import { Agents, CHANNELS, closeHttp, resent, SECRETS } from './load/customers.js';
import {
  AGENT_PASSWORD,
  AGENTS,
  appEnv,
  appFinals,
  bareFinals,
  drive,
  emptyFigures,
  lostKinds,
  merged,
  ms,
  newCustomers,
  Router,
  runLevels,
  serverErrors,
  summary,
  TURN_TIMEOUT_MS,
  type LevelFigures,
} from './load/rig.js';
import type { BareOptions } from './bare-restify.js';
import type { BenchSection } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Settings; flags win over the environment, the environment over the defaults. */
export interface LoadOptions {
  soakSeconds: number;
  levelSeconds: number;
  levels: number[];
  /** Concurrent conversations per channel during the soak; each customer is replaced after 4 messages. */
  soakConversations: number;
}

function options(argv = process.argv.slice(2), env: Record<string, string | undefined> = process.env): LoadOptions {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: { 'soak-seconds': { type: 'string' }, 'level-seconds': { type: 'string' }, levels: { type: 'string' }, 'soak-conversations': { type: 'string' } },
  });
  const num = (flag: unknown, envValue: string | undefined, fallback: number) => {
    const v = Number(typeof flag === 'string' ? flag : (envValue ?? fallback));
    if (!Number.isFinite(v) || v < 0) throw new Error(`bench/load: ${String(flag ?? envValue)} is not a number of seconds / conversations`);
    return v;
  };
  const levels = String(values.levels ?? env.LOAD_LEVELS ?? '1,50,500').split(',').map(Number).filter((n) => n > 0);
  return {
    soakSeconds: num(values['soak-seconds'], env.SOAK_SECONDS, 600),
    levelSeconds: num(values['level-seconds'], env.LEVEL_SECONDS, 15),
    levels,
    soakConversations: num(values['soak-conversations'], env.SOAK_CONVERSATIONS, 20),
  };
}

// ---------------------------------------------------------------------------------------- soak

interface MemorySample {
  at: number;
  rss: number;
  heapUsed: number;
}

/** The soak: `soakConversations` per channel in a closed loop, each customer replaced after 4 messages; memory sampled every 5 s. */
async function soak(child: ServerChild, url: string, router: Router, o: LoadOptions) {
  const figures = emptyFigures();
  const samples: MemorySample[] = [];
  const t0 = performance.now();
  const end = t0 + o.soakSeconds * 1000;
  const sample = async () => {
    const u = await child.memory();
    samples.push({ at: (performance.now() - t0) / 1000, rss: u.rss, heapUsed: u.heapUsed });
  };
  await sample();
  const sampler = setInterval(() => void sample().catch(() => undefined), 5000);
  let conversations = 0;
  try {
    await Promise.all(
      CHANNELS.flatMap((ch) =>
        Array.from({ length: o.soakConversations }, async () => {
          while (performance.now() < end) {
            const [c] = await newCustomers(ch, 1, url, router, true);
            conversations++;
            await drive([c!], (end - performance.now()) / 1000, appFinals, figures, 4);
            c!.close();
            router.byId.delete(`${c!.channel}:${c!.id}`);
          }
        }),
      ),
    );
  } finally {
    clearInterval(sampler);
  }
  await sample();
  return { figures, samples, conversations, seconds: (performance.now() - t0) / 1000 };
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? await folderBytes(p) : (await stat(p)).size;
  }
  return total;
}

// ---------------------------------------------------------------------------------------- run

/** Runs the whole load bench and returns its BenchSection. */
export async function run(o: LoadOptions = options()): Promise<BenchSection> {
  const router = new Router();
  const graph = await startServerChild(path.join(here, 'load', 'graph-child.ts'), {}, router.onGraph);
  const graphUrl = `${graph.url}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-bench-load-'));
  const started = Date.now();
  let app: ServerChild | undefined;
  let bare: ServerChild | undefined;
  const agents = new Agents();
  try {
    // 1. The floor: the bare restify server.
    const bareOptions: BareOptions = {
      graphApiUrl: graphUrl,
      messengerSecret: SECRETS.messenger,
      whatsappSecret: SECRETS.whatsapp,
      pageAccessToken: SECRETS.pageAccessToken,
      whatsappAccessToken: SECRETS.whatsappAccessToken,
      phoneNumberId: SECRETS.phoneNumberId,
      directLineSecret: SECRETS.directLine,
    };
    bare = await startServerChild(path.join(here, 'bare-restify.ts'), bareOptions);
    const bareLevels = await runLevels(bare.url, router, false, bareFinals, o, 'bare restify');
    const bareMemory = await bare.memory();
    const bareErrors = serverErrors(bare.stderr);
    await bare.stop();
    bare = undefined;

    // 2. Switchboard.
    app = await startServerChild(path.join(here, 'load', 'app-child.ts'), {
      env: appEnv(dataDir, graphUrl),
      agents: AGENTS,
      agentPassword: AGENT_PASSWORD,
    });
    const idle = await app.memory(true);
    await agents.connect(app.url, AGENTS, AGENT_PASSWORD);
    const appLevels = await runLevels(app.url, router, true, appFinals, o, 'switchboard');
    const afterLevels = await app.memory(true);
    console.error(`bench/load: soak for ${o.soakSeconds} s with ${o.soakConversations} conversations per channel ...`);
    const soaked = await soak(app, app.url, router, o);
    const afterSoakGc = await app.memory(true);
    const dataBytes = await folderBytes(dataDir);
    const appErrors = serverErrors(app.stderr);
    for (const line of appErrors.slice(0, 5)) console.error(`bench/load: server log: ${line.slice(0, 300)}`);
    await app.stop();
    app = undefined;

    return {
      title: 'Load: all three channels at once, against a bare restify floor',
      command: `npx tsx bench/load.ts --soak-seconds ${o.soakSeconds}${o.levelSeconds !== 15 ? ` --level-seconds ${o.levelSeconds}` : ''}  (or SOAK_SECONDS=${o.soakSeconds} npm run bench -- load)`,
      markdown: render(o, bareLevels, appLevels, bareMemory, bareErrors, { idle, afterLevels, afterSoakGc }, soaked, agents, router, dataBytes, appErrors, (Date.now() - started) / 1000),
    };
  } finally {
    agents.close();
    await bare?.stop();
    await app?.stop();
    await graph.stop();
    closeHttp();
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  }
}

// ---------------------------------------------------------------------------------------- report

const MB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;

function render(
  o: LoadOptions,
  bare: Map<number, LevelFigures>,
  app: Map<number, LevelFigures>,
  bareMemory: NodeJS.MemoryUsage,
  bareErrors: string[],
  mem: { idle: NodeJS.MemoryUsage; afterLevels: NodeJS.MemoryUsage; afterSoakGc: NodeJS.MemoryUsage },
  soaked: Awaited<ReturnType<typeof soak>>,
  agents: Agents,
  router: Router,
  dataBytes: number,
  appErrors: string[],
  totalSeconds: number,
): string {
  const rows: string[] = [];
  const ratioRows: string[] = [];
  for (const n of o.levels) {
    const a = app.get(n)!;
    const b = bare.get(n)!;
    for (const ch of [...CHANNELS, 'all'] as const) {
      const sa = ch === 'all' ? merged(a) : summary(a.perChannel[ch], a.seconds);
      const sb = ch === 'all' ? merged(b) : summary(b.perChannel[ch], b.seconds);
      const bold = (s: string) => (ch === 'all' ? `**${s}**` : s);
      rows.push(
        `| ${n} | ${bold(ch)} | ${bold(sa.perSecond.toFixed(0))} | ${bold(ms(sa.p50))} | ${bold(ms(sa.p99))} | ${ms(sa.laterP50)} / ${ms(sa.laterP99)} | ${sa.n}${sa.failed ? ` (${sa.failed} lost)` : ''} | ${sb.perSecond.toFixed(0)} | ${ms(sb.p50)} | ${ms(sb.p99)} | ${ms(sb.laterP50)} / ${ms(sb.laterP99)} | ${sb.n}${sb.failed ? ` (${sb.failed} lost)` : ''} |`,
      );
      ratioRows.push(`| ${n} | ${bold(ch)} | ${(sb.perSecond / sa.perSecond).toFixed(1)}× | ${(sa.p50 / sb.p50).toFixed(1)}× | ${(sa.p99 / sb.p99).toFixed(1)}× |`);
    }
  }
  const appLost = lostKinds(app.values());
  const bareLost = lostKinds(bare.values());

  const peakRss = Math.max(...soaked.samples.map((s) => s.rss));
  const peakHeap = Math.max(...soaked.samples.map((s) => s.heapUsed));
  const first = soaked.samples[0]!;
  const last = soaked.samples.at(-1)!;
  const soakSummary = (() => {
    const all = { latencies: [] as number[], later: [] as number[], done: 0, failed: 0 };
    for (const c of CHANNELS) {
      all.latencies.push(...soaked.figures[c].latencies);
      all.done += soaked.figures[c].done;
      all.failed += soaked.figures[c].failed;
    }
    return summary(all, soaked.seconds);
  })();
  // Up to 10 evenly spaced samples, so growth over the soak shows.
  const step = Math.max(1, Math.floor(soaked.samples.length / 10));
  const timeline = soaked.samples.filter((_, i) => i % step === 0 || i === soaked.samples.length - 1);

  return [
    `A customer message's latency = the signed webhook POST (Messenger, WhatsApp) or the Direct Line \`POST …/activities\` (web chat) → the **first** bot message for that customer arriving at the fake Graph API or on the conversation's WebSocket. Each customer sends its next message as soon as the bot has finished answering the last (closed loop; the script is a question the sample knowledge answers, "yes" to "Did this help?", the next question, …), for ${o.levelSeconds} s per level, with arrivals spread over the first seconds (3 ms apart, at most 5 s); a level of N means **N conversations on each channel at once** (3 × N in all), each a new customer. Messages/s counts messages whose answer completed (the app's answer is 2–3 messages: welcome on a customer's first message, the answer, "Did this help?").`,
    '',
    `Switchboard: \`buildApp\` in its own Node process (${AGENTS} agents signed in through \`/api/agent/login\`, each holding \`/api/agent/events\` open), temp DATA_DIR, the sample knowledge, all three channels. Bare restify: bench/bare-restify.ts in its own process on the same routes — verifies the webhook signature, answers 200, then one canned Send API call; for Direct Line, token + conversation + WebSocket, and per POST one \`{id}\` answer plus one WebSocket frame (echo + canned reply). The fake Graph API (which schema-checks every send) runs in a third process and reports each send over IPC; all customers and agents share the bench process (one Node thread), which at the higher levels is as busy as the servers — the bare figures are bounded by it, so the ratio understates the gap. The machine has ${os.cpus().length} CPUs shared with other work (load average ${os.loadavg()[0]!.toFixed(1)} at the end), so absolute figures are a floor and the ratio is the figure to watch.`,
    '',
    '| conversations per channel | channel | Switchboard msg/s | p50 | p99 | later p50 / p99 | messages | bare msg/s | bare p50 | bare p99 | bare later p50 / p99 | bare messages |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Ratio (how much the bare floor beats Switchboard: throughput bare ÷ ours, latency ours ÷ bare):',
    '',
    '| conversations per channel | channel | throughput | p50 | p99 |',
    '| --- | --- | --- | --- | --- |',
    ...ratioRows,
    '',
    '"Later" leaves out each customer\'s first message: at 500 per channel, 1,500 customers arrive within 4.5 s, and their first messages pay for new connections (the servers\' listen backlog overflows while they are busy, and the kernel\'s SYN retries add 1–15 s) and, on Switchboard, for the welcome and the new conversation\'s state.',
    '',
    `Requests sent again because a kept-alive socket had just been closed by the server (they never reached it): ${resent.count}.`,
    '',
    router.rejected ? `The fake Graph API refused ${router.rejected} sends (first: ${router.firstRejection}).\n` : 'The fake Graph API accepted every send (each checked against Meta\'s documented rules).\n',
    `Lost messages (no reply in ${TURN_TIMEOUT_MS / 1000} s, or the request failed; such a customer stops, since its next reply could not be told apart) — Switchboard: ${appLost || 'none'}; bare restify: ${bareLost || 'none'}.`,
    bareErrors.length ? `The bare server's own failures (it does not retry): ${bareErrors.length}, first: ${bareErrors[0]!.slice(0, 200)}.` : 'The bare server logged no failure of its own.',
    '',
    `### Memory (Switchboard process) over a ${(soaked.seconds / 60).toFixed(1)}-minute soak`,
    '',
    `${o.soakConversations} conversations per channel at once, closed loop, each customer replaced by a new one after 4 messages: ${soakSummary.n} messages (${soakSummary.perSecond.toFixed(0)}/s, p50 ${ms(soakSummary.p50)}, p99 ${ms(soakSummary.p99)}${soakSummary.failed ? `, ${soakSummary.failed} lost` : ''}) in ${soaked.conversations} conversations. Memory via \`process.memoryUsage()\` over the child's IPC channel ("after GC" = after a forced full collection).`,
    '',
    '| moment | RSS | heap used |',
    '| --- | --- | --- |',
    `| started, idle (after GC) | ${MB(mem.idle.rss)} | ${MB(mem.idle.heapUsed)} |`,
    `| after the load levels (after GC) | ${MB(mem.afterLevels.rss)} | ${MB(mem.afterLevels.heapUsed)} |`,
    `| soak start | ${MB(first.rss)} | ${MB(first.heapUsed)} |`,
    `| soak peak | ${MB(peakRss)} | ${MB(peakHeap)} |`,
    `| soak end | ${MB(last.rss)} | ${MB(last.heapUsed)} |`,
    `| soak end (after GC) | ${MB(mem.afterSoakGc.rss)} | ${MB(mem.afterSoakGc.heapUsed)} |`,
    `| bare restify after its levels (no GC) | ${MB(bareMemory.rss)} | ${MB(bareMemory.heapUsed)} |`,
    '',
    `Over the soak (s → RSS / heap used): ${timeline.map((s) => `${s.at.toFixed(0)} s → ${MB(s.rss)} / ${MB(s.heapUsed)}`).join(' · ')}.`,
    '',
    `Heap after GC grew ${MB(mem.afterSoakGc.heapUsed - mem.afterLevels.heapUsed)} over the soak (${soaked.conversations} new conversations; ${(Math.max(0, mem.afterSoakGc.heapUsed - mem.afterLevels.heapUsed) / Math.max(1, soaked.conversations)).toFixed(0)} bytes per conversation). DATA_DIR at the end: ${MB(dataBytes)}.`,
    '',
    `Agents: ${agents.connected} consoles connected; events received in all: ${Object.entries(agents.events).map(([k, v]) => `${k} ${v}`).join(', ')}. Graph sends arriving for a customer who had left: ${router.unrouted}. Server error log lines: ${appErrors.length}${appErrors.length ? ` (first: ${appErrors[0]!.slice(0, 200)})` : ''}. Whole run: ${(totalSeconds / 60).toFixed(1)} min.`,
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
