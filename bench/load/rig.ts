/**
 * The load rig bench/load.ts and bench/scale.ts share: the figures a run collects, the router that
 * hands Graph API sends to the waiting customer, new customers, the closed-loop driver, and the
 * Switchboard server's environment. Kept in one place so both benchmarks measure the same load.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { t } from '../../src/bot/strings.js';
import { CHANNELS, Customer, DirectLineCustomer, MetaCustomer, RoundRobin, SECRETS, type Channel } from './customers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Agents signed in to every Switchboard server under load, each holding the console's event stream. */
export const AGENTS = 20;
export const AGENT_PASSWORD = 'bench agent password';
/** A reply later than this counts the message as lost. */
export const TURN_TIMEOUT_MS = 60_000;
/** Questions the sample knowledge answers outright (each answered, then "Did this help?"). */
const QUESTIONS = ['How can I pay my bill by card?', 'When is my bill due?', 'How do I set up a direct debit?', 'Why is my bill higher than usual?'];

// ---------------------------------------------------------------------------------------- figures

/** One channel's outcome over a measured period. */
export interface ChannelFigures {
  latencies: number[];
  /** Without each customer's first message (new connection, welcome, new state files). */
  later: number[];
  done: number;
  failed: number;
  /** Failures by kind (ids left out). */
  errors: Record<string, number>;
}
/** Every channel's outcome over `seconds`. */
export interface LevelFigures {
  perChannel: Record<Channel, ChannelFigures>;
  seconds: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
/** Messages, messages/s and latency percentiles of one channel (or of all merged). */
export function summary(f: { latencies: number[]; later: number[]; done: number; failed: number }, seconds: number) {
  const s = [...f.latencies].sort((a, b) => a - b);
  const l = [...f.later].sort((a, b) => a - b);
  return { n: f.done, failed: f.failed, perSecond: f.done / seconds, p50: percentile(s, 50), p99: percentile(s, 99), laterP50: percentile(l, 50), laterP99: percentile(l, 99) };
}
/** `summary` over all three channels together. */
export function merged(level: LevelFigures) {
  const all = { latencies: [] as number[], later: [] as number[], done: 0, failed: 0 };
  for (const c of CHANNELS) {
    all.latencies.push(...level.perChannel[c].latencies);
    all.later.push(...level.perChannel[c].later);
    all.done += level.perChannel[c].done;
    all.failed += level.perChannel[c].failed;
  }
  return summary(all, level.seconds);
}
/** Lost messages by kind over several levels, e.g. `2 × webchat customer: no reply to … in 60000 ms`. */
export function lostKinds(levels: Iterable<LevelFigures>): string {
  const out: Record<string, number> = {};
  for (const l of levels) for (const c of CHANNELS) for (const [k, v] of Object.entries(l.perChannel[c].errors)) out[k] = (out[k] ?? 0) + v;
  return Object.entries(out).map(([k, v]) => `${v} × ${k}`).join('; ');
}

export function emptyFigures(): Record<Channel, ChannelFigures> {
  return { messenger: { latencies: [], later: [], done: 0, failed: 0, errors: {} }, whatsapp: { latencies: [], later: [], done: 0, failed: 0, errors: {} }, webchat: { latencies: [], later: [], done: 0, failed: 0, errors: {} } };
}

/** A latency for a table: "—" when there was none. */
export const ms = (v: number) => (Number.isNaN(v) ? '—' : v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`);

// ---------------------------------------------------------------------------------------- the rig

/** Routes Graph API sends (reported by bench/load/graph-child.ts) to the customer they are addressed to. */
export class Router {
  readonly byId = new Map<string, Customer>();
  unrouted = 0;
  /** Sends the fake Graph API refused (a Send API body Meta would reject is a bug of ours). */
  rejected = 0;
  firstRejection?: string;
  /** A message from bench/load/graph-child.ts. */
  onGraph = (m: { type: string; api?: string; to?: string; text?: string; error?: string }): void => {
    if (m.type === 'rejected') {
      this.rejected++;
      this.firstRejection ??= m.error;
      return;
    }
    if (m.type !== 'sent') return;
    const customer = this.byId.get(`${m.api}:${m.to}`);
    if (customer) customer.deliver(m.text ?? '');
    else this.unrouted++;
  };
}

/** Which bot message ends a customer's turn: the app says 2–3 things per question, the bare server one. */
export type Finals = (text: string) => boolean;
export const appFinals: Finals = (() => {
  const ends = (['didThisHelp', 'gladItHelped', 'rephrase', 'stillNoAnswerOfferHuman', 'turnError', 'unsupportedMessage', 'offerDeclined'] as const).map((k) => t('en', k));
  return (text) => ends.some((e) => text.includes(e));
})();
export const bareFinals: Finals = () => true;

let customerSeq = 0;
/**
 * `n` new customers on `channel` (web chat ones have their conversation open and, for the app,
 * greeted). With several instance URLs each customer spreads its requests over them round-robin,
 * starting one further along than the customer before.
 */
export async function newCustomers(channel: Channel, n: number, target: string | readonly string[], router: Router, greeted: boolean): Promise<Customer[]> {
  const urls = typeof target === 'string' ? [target] : target;
  const out: Customer[] = [];
  const prefix = String(process.pid % 1000).padStart(3, '0');
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async () => {
        const k = ++customerSeq;
        const instances = new RoundRobin(urls, k);
        if (channel === 'webchat') {
          const c = new DirectLineCustomer(`dl-bench-${prefix}-${k}`, instances);
          await c.open(greeted);
          return c;
        }
        const id = channel === 'messenger' ? `7${prefix}${String(k).padStart(10, '0')}` : `49${prefix}${String(k).padStart(9, '0')}`;
        const c = new MetaCustomer(channel, id, instances);
        router.byId.set(`${channel}:${id}`, c);
        return c;
      }),
    );
    out.push(...batch);
  }
  return out;
}

/** Each customer's script: a question, "yes" to "Did this help?", the next question, ... */
function script(i: number): string {
  return i % 2 === 0 ? QUESTIONS[(i / 2) % QUESTIONS.length]! : 'yes';
}

/** Closed loop for `seconds`: every customer sends its next message as soon as its turn ends (bounded by `maxTurns`). */
export async function drive(customers: Customer[], seconds: number, finals: Finals, figures: Record<Channel, ChannelFigures>, maxTurns = 10_000): Promise<void> {
  const end = performance.now() + seconds * 1000;
  // Arrivals 3 ms apart (at most 5 s): 1,500 connections in one instant overflow the listen backlog and measure SYN retries.
  const spread = Math.min(5000, customers.length * 3, (seconds * 1000) / 3);
  await Promise.all(
    customers.map(async (c, k) => {
      await new Promise((r) => setTimeout(r, customers.length > 3 ? (k / customers.length) * spread : 0)); // arrivals spread over the first second
      const f = figures[c.channel];
      for (let i = 0; i < maxTurns && performance.now() < end; i++) {
        try {
          const r = await c.turn(script(i), finals, TURN_TIMEOUT_MS);
          f.latencies.push(r.firstMs);
          if (i > 0) f.later.push(r.firstMs);
          f.done++;
        } catch (err) {
          f.failed++;
          const kind = (err as Error).message.replace(/customer \S+/, 'customer').replace(/"[^"]*"/, '…').replace(/\/conversations\/[^/]+\//, '/conversations/…/');
          f.errors[kind] = (f.errors[kind] ?? 0) + 1;
          return; // a lost reply would make the next turn's reply look like this one's
        }
      }
    }),
  );
}

/** Warm-up: JIT, connection pools, the knowledge index's first queries (5 customers per channel, 3 s); returns its figures. */
export async function warmUp(target: string | readonly string[], router: Router, greeted: boolean, finals: Finals): Promise<LevelFigures> {
  const warm = (await Promise.all(CHANNELS.map((ch) => newCustomers(ch, 5, target, router, greeted)))).flat();
  const figures = emptyFigures();
  const t0 = performance.now();
  await drive(warm, 3, finals, figures, 6);
  for (const c of warm) {
    c.close();
    router.byId.delete(`${c.channel}:${c.id}`);
  }
  return { perChannel: figures, seconds: (performance.now() - t0) / 1000 };
}

/**
 * One measured level: `n` new customers per channel in a closed loop for `seconds`. `around` runs
 * just before the first and just after the last message (to sample CPU or profile that window).
 */
export async function measureLevel(
  target: string | readonly string[],
  router: Router,
  greeted: boolean,
  finals: Finals,
  n: number,
  seconds: number,
  around?: { before(): unknown; after(): unknown },
): Promise<LevelFigures> {
  const customers = (await Promise.all(CHANNELS.map((ch) => newCustomers(ch, n, target, router, greeted)))).flat();
  const figures = emptyFigures();
  await around?.before();
  const t0 = performance.now();
  await drive(customers, seconds, finals, figures);
  const elapsed = (performance.now() - t0) / 1000;
  await around?.after();
  for (const c of customers) {
    c.close();
    router.byId.delete(`${c.channel}:${c.id}`);
  }
  return { perChannel: figures, seconds: elapsed };
}

/** A warm-up, then each of `levels` for `levelSeconds`, logging each level's figure as `label`. */
export async function runLevels(target: string | readonly string[], router: Router, greeted: boolean, finals: Finals, o: { levels: number[]; levelSeconds: number }, label: string): Promise<Map<number, LevelFigures>> {
  const results = new Map<number, LevelFigures>();
  await warmUp(target, router, greeted, finals);
  for (const n of o.levels) {
    const level = await measureLevel(target, router, greeted, finals, n, o.levelSeconds);
    results.set(n, level);
    const m = merged(level);
    console.error(`bench/load: ${label} ${n}/channel: ${m.n} messages in ${level.seconds.toFixed(1)} s (${m.perSecond.toFixed(0)}/s), p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms, failed ${m.failed}`);
  }
  return results;
}

/**
 * The environment of a Switchboard server under load (bench/load/app-child.ts): all three channels
 * against the fake Graph API at `graphUrl`, the sample knowledge, agents always on duty.
 */
export function appEnv(dataDir: string, graphUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    KNOWLEDGE_DIR: path.join(root, 'knowledge'),
    GRAPH_API_URL: graphUrl,
    LOG_LEVEL: 'error',
    MESSENGER_APP_SECRET: SECRETS.messenger,
    MESSENGER_VERIFY_TOKEN: 'v',
    MESSENGER_PAGE_ACCESS_TOKEN: SECRETS.pageAccessToken,
    WHATSAPP_APP_SECRET: SECRETS.whatsapp,
    WHATSAPP_VERIFY_TOKEN: 'v',
    WHATSAPP_ACCESS_TOKEN: SECRETS.whatsappAccessToken,
    WHATSAPP_PHONE_NUMBER_ID: SECRETS.phoneNumberId,
    DIRECTLINE_SECRET: SECRETS.directLine,
    DIRECTLINE_POSTS_PER_MINUTE: '0', // closed-loop robot customers post faster than any person
    BUSINESS_HOURS: 'Mon-Sun 00:00-24:00',
    ...extra,
  };
}

/** A server child's stderr as lines, without restify's own deprecation warning (not ours). */
export function serverErrors(stderr: string[]): string[] {
  return stderr.join('').split('\n').filter((l) => l && !/^\(node:\d+\) \[DEP|--trace-deprecation/.test(l));
}
